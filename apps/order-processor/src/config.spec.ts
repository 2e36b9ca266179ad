import { ConfigError } from '@tideline/config';
import { loadProcessorConfig } from './config';

it('applies defaults', () => {
  const config = loadProcessorConfig({ SIGNING_POLICY: 'off' });
  expect(config).toMatchObject({
    PORT: 3001,
    GROUP_ID: 'order-processor',
    RETRY_DELAYS_MS: [1000, 10000, 60000],
    MAX_ORDER_TOTAL_CENTS: 10_000_000,
  });
});

it('lists every bad variable at once', () => {
  let caught: unknown;
  try {
    loadProcessorConfig({
      PORT: 'abc',
      RETRY_DELAYS_MS: '1000,soon',
      MAX_ORDER_TOTAL_CENTS: '-5',
      GROUP_ID: 'a b',
    });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const variables = (caught as ConfigError).problems.map((p) => p.split(':')[0]);
  expect(variables.sort()).toEqual(['GROUP_ID', 'MAX_ORDER_TOTAL_CENTS', 'PORT', 'RETRY_DELAYS_MS']);
});
