import fs from 'node:fs';
import path from 'node:path';
import { MessagingError, messagingErrorCodes } from './errors';

describe('error codes', () => {
  const doc = fs.readFileSync(path.resolve(__dirname, '../../../docs/reference/errors.md'), 'utf8');

  it.each(Object.entries(messagingErrorCodes))(
    '%s is documented with its retryability',
    (code, { retryable }) => {
      const row = doc.split('\n').find((line) => new RegExp(`^\\| \`${code}\` +\\|`).test(line));
      expect(row).toBeDefined();
      expect(row!.split('|')[2]!.trim()).toBe(retryable ? 'yes' : 'no');
    },
  );

  it('carries code, retryable and cause', () => {
    const cause = new Error('socket hang up');
    const error = new MessagingError('TDL_MSG_REGISTRY_UNAVAILABLE', 'registry down', { cause });
    expect(error).toMatchObject({
      code: 'TDL_MSG_REGISTRY_UNAVAILABLE',
      retryable: true,
      cause,
      name: 'MessagingError',
    });
  });
});
