import { ConfigError } from '@tideline/config';
import { loadProjectionConfig } from './config';

it('applies defaults', () => {
  const config = loadProjectionConfig({ SIGNING_POLICY: 'off' });
  expect(config).toMatchObject({
    PORT: 3002,
    HOST: '127.0.0.1',
    GROUP_ID: 'order-projection',
    MAX_BATCH_RECORDS: 500,
    STREAM_MAX_BUFFERED_BYTES: 1024 * 1024,
    FEED_RETENTION_HOURS: 168,
    MAX_WAIT_MS: 30_000,
    STREAM_ALLOWED_ORIGINS: [],
  });
  expect(
    loadProjectionConfig({ SIGNING_POLICY: 'off', STREAM_ALLOWED_ORIGINS: 'https://app.example.com, *' })
      .STREAM_ALLOWED_ORIGINS,
  ).toEqual(['https://app.example.com', '*']);
});

it('lists every bad variable at once', () => {
  let caught: unknown;
  try {
    loadProjectionConfig({
      PORT: '70000',
      GROUP_ID: 'a b',
      MAX_BATCH_RECORDS: '0',
      STREAM_MAX_BUFFERED_BYTES: '1e6',
      STREAM_ALLOWED_ORIGINS: 'https://app.example.com/path',
      DATABASE_URL: 'mysql://x',
      SIGNING_POLICY: 'off',
    });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const variables = (caught as ConfigError).problems.map((p) => p.split(':')[0]);
  expect(variables.sort()).toEqual([
    'DATABASE_URL',
    'GROUP_ID',
    'MAX_BATCH_RECORDS',
    'PORT',
    'STREAM_ALLOWED_ORIGINS',
    'STREAM_MAX_BUFFERED_BYTES',
  ]);
  expect((caught as ConfigError).problems).toContainEqual(
    expect.stringMatching(/^STREAM_ALLOWED_ORIGINS: "https:\/\/app.example.com\/path" is not an origin/),
  );
});
