import { ConfigError } from '@tideline/config';
import { loadSalesProjectionConfig } from './config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadSalesProjectionConfig({ SIGNING_POLICY: 'off', ...env });
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

it('applies defaults', () => {
  const config = loadSalesProjectionConfig({ SIGNING_POLICY: 'off' });
  expect(config).toMatchObject({
    PORT: 3003,
    HOST: '127.0.0.1',
    GROUP_ID: 'sales-projection',
    PARTITIONS_CONCURRENTLY: 3,
    MAX_BATCH_RECORDS: 2_000,
    READY_AFTER_BACKFILL: true,
    DATABASE_POOL_SIZE: 10,
  });
  expect(config.SOURCE_TOPICS).toEqual(new Map());
});

it('reads renamed source topics and the readiness switch', () => {
  const config = loadSalesProjectionConfig({
    SIGNING_POLICY: 'off',
    SOURCE_TOPICS: ' orders.order-confirmed.v1 = orders.copy-1.v1 ,orders.order-cancelled.v1=x_2 ',
    READY_AFTER_BACKFILL: 'false',
  });
  expect(config.SOURCE_TOPICS).toEqual(
    new Map([
      ['orders.order-confirmed.v1', 'orders.copy-1.v1'],
      ['orders.order-cancelled.v1', 'x_2'],
    ]),
  );
  expect(config.READY_AFTER_BACKFILL).toBe(false);
});

it('lists every bad variable at once', () => {
  const variables = problemsOf({
    PORT: '70000',
    GROUP_ID: 'a b',
    MAX_BATCH_RECORDS: '0',
    PARTITIONS_CONCURRENTLY: '1e2',
    READY_AFTER_BACKFILL: 'yes',
    SOURCE_TOPICS: 'orders.order-placed.v1=x',
    DATABASE_URL: 'mysql://x',
  }).map((p) => p.split(':')[0]);
  expect(variables.sort()).toEqual([
    'DATABASE_URL',
    'GROUP_ID',
    'MAX_BATCH_RECORDS',
    'PARTITIONS_CONCURRENTLY',
    'PORT',
    'READY_AFTER_BACKFILL',
    'SOURCE_TOPICS',
  ]);
});

it.each([
  ['orders.order-placed.v1=x', 'entry 1: orders.order-placed.v1 is not a topic the sales projection reads'],
  ['orders.order-confirmed.v1', 'entry 1 ("orders.order-confirmed.v1") is not catalog-topic=topic'],
  ['orders.order-confirmed.v1=a=b', 'is not catalog-topic=topic'],
  ['orders.order-confirmed.v1=has space', 'entry 1: "has space" is not a topic name'],
  [
    'orders.order-rejected.v1=a,orders.order-rejected.v1=b',
    'entry 2 renames orders.order-rejected.v1 a second time',
  ],
])('SOURCE_TOPICS=%s is refused: %s', (value, message) => {
  const problems = problemsOf({ SOURCE_TOPICS: value });
  expect(problems).toHaveLength(1);
  expect(problems[0]).toContain(`SOURCE_TOPICS: ${message.startsWith('is') ? '' : message}`);
  expect(problems[0]).toContain(message);
});
