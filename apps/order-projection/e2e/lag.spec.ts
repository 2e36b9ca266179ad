// Consumer lag as an on-call engineer sees it: order-projection stopped while orders flow,
// restarted, its lag metric (records and seconds) and /stats report the same numbers.
import { orderPlacedTopic } from '@tideline/contracts';
import { eventually, scrapeMetrics } from '@tideline/testing';
import { OrderStack, json } from './support';

let stack: OrderStack;

beforeAll(async () => {
  stack = await OrderStack.start({ processors: 1 });
  await stack.putProduct('pear', 80);
}, 120_000);

afterAll(() => stack?.stop());

const ORDERS = 5;

it('rises while order-projection is stopped and drains to zero after it restarts, in records and seconds', async () => {
  const first = await stack.placeOrder(`${stack.run}-cy`, [['pear', 1]]);
  await stack.settled(first.orderId);
  const group = { group: stack.projectionGroup };
  const caughtUp = await scrapeMetrics(stack.projection.url);
  expect(caughtUp.values('tideline_consumer_lag_records', group).length).toBeGreaterThan(0);

  expect(await stack.projection.stop('SIGTERM')).toBe(0);
  for (let i = 0; i < ORDERS; i += 1) await stack.placeOrder(`${stack.run}-cy`, [['pear', 1]]);
  await eventually('order-processor to decide the orders placed meanwhile', async () => {
    const scrape = await scrapeMetrics(stack.processors[0]!.url);
    const processed = scrape.sum('tideline_consumer_records_total', {
      group: stack.processorGroup,
      topic: orderPlacedTopic.name,
      outcome: 'processed',
    });
    return processed >= ORDERS + 1 || undefined;
  });

  // The restarted instance reads its lag before it consumes anything: the placed and decided
  // events it missed, the oldest of them seconds old.
  const projection = await stack.startProjection({ readyPath: '/metrics' });
  const behind = await eventually('the lag read at start', async () => {
    const scrape = await scrapeMetrics(projection.url);
    return scrape.values('tideline_consumer_lag_records', group).length > 0 ? scrape : undefined;
  });
  // Placed and decided events; other tests' records on the shared topics may add to it.
  expect(behind.sum('tideline_consumer_lag_records', group)).toBeGreaterThanOrEqual(2 * ORDERS);
  expect(Math.max(...behind.values('tideline_consumer_lag_seconds', group))).toBeGreaterThan(0);

  // Caught up: zero in both units, and /stats (the dashboard's source) shows the same reading.
  await eventually(
    'the lag to drain to zero',
    async () => {
      const scrape = await scrapeMetrics(projection.url);
      return scrape.sum('tideline_consumer_lag_records', group) === 0 &&
        scrape.sum('tideline_consumer_lag_seconds', group) === 0
        ? true
        : undefined;
    },
    { timeoutMs: 30_000 },
  );
  await eventually('/stats and /metrics to agree', async () => {
    const [scrape, stats] = await Promise.all([
      scrapeMetrics(projection.url),
      fetch(`${projection.url}/stats`).then((r) =>
        json<{ lag: { total: number; seconds: number } | null }>(r),
      ),
    ]);
    return stats.lag?.total === scrape.sum('tideline_consumer_lag_records', group) &&
      stats.lag.seconds === Math.max(...scrape.values('tideline_consumer_lag_seconds', group))
      ? true
      : undefined;
  });
});
