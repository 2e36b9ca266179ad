// The schema registry killed (kill -9) under load and restarted later, with order-api,
// order-processor and order-projection as real processes on a registry of the test's own:
// - warm: the running services keep deciding with the schemas they hold, and the first record
//   that needs one they do not hold yet (the first rejection) waits for the registry instead of
//   being dead-lettered as the record's fault;
// - cold: a processor started while the registry is down (its product table, its decoder and
//   its encoder all empty) waits for it too.
// Once the registry is back every acknowledged order is decided exactly once, nothing is in a
// dead-letter topic, and the read model holds every order.
import { HEADER, deadLetterTopicName } from '@tideline/messaging';
import {
  driveOrders,
  eventually,
  readToEnd,
  startPrivateRegistry,
  testInfra,
  uniqueName,
  type PrivateRegistry,
} from '@tideline/testing';
import type { OrderView } from '@tideline/orders-domain';
import { Pool } from 'pg';
import { OrderStack } from '../e2e/support';

const PRICE = 60_000;
/** Every ninth order is over order-processor's MAX_ORDER_TOTAL_CENTS (100000): rejected. */
const isRejected = (i: number) => i % 9 === 8;
const ORDERS = 360;
const RATE = 12;
const OUTAGE_MS = 16_000;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

let registry: PrivateRegistry | undefined;
let stack: OrderStack | undefined;
afterAll(async () => {
  await stack?.stop();
  await registry?.stop();
});

/** Records of the group's dead-letter topic (read to its end). */
async function deadLetters(group: string): Promise<{ key: string; code: string; reason: string }[]> {
  return (await readToEnd([deadLetterTopicName(group)])).map((r) => ({
    key: r.key?.toString() ?? '',
    code: r.headers[HEADER.errorCode] ?? '',
    reason: r.headers[HEADER.errorMessage] ?? '',
  }));
}

it('no record is dead-lettered for a registry outage, on a warm or a cold start; every order is decided once', async () => {
  const started = Date.now();
  registry = await startPrivateRegistry({
    bootstrap: testInfra().kafkaBrokers.join(','),
    journalTopic: uniqueName('registry-journal'),
  });
  stack = await OrderStack.start({ processors: 1, registryUrl: registry.url });
  await stack.putProduct('widget', PRICE);
  // Warm: one confirmed order, so order-api and the processor hold the schemas of placing and
  // confirming (not of rejecting).
  const warmup = await stack.placeOrder('warmup', [['widget', 1]]);
  expect((await stack.settled(warmup.orderId, 60_000)).status).toBe('confirmed');

  const progress: string[] = [];
  const load = driveOrders({
    url: stack.api.url,
    rate: RATE,
    count: ORDERS,
    maxDurationMs: 120_000,
    body: (i) => ({
      customerId: `customer-${i % 7}`,
      currency: 'EUR',
      items: [{ sku: stack!.sku('widget'), quantity: isRejected(i) ? 2 : 1 }],
    }),
    requestTimeoutMs: 10_000,
    giveUpAfterMs: 150_000,
  });

  // The outage begins with the load and lasts OUTAGE_MS (a scheduled fault, not a wait for a
  // condition): for its first half the warm processor meets the first rejections, whose schema it
  // does not hold; then it is lost and a cold one starts while the registry is still down.
  await registry.kill9();
  const outageAt = Date.now();
  progress.push(`registry killed ${outageAt - started} ms in`);
  await delay(OUTAGE_MS / 2);
  const [warm] = stack.processors;
  await warm!.stop('SIGKILL');
  const cold = await stack.startProcessor({ readyPath: '/healthz' });
  await delay(outageAt + OUTAGE_MS - Date.now());
  await registry.restart();
  const backAt = Date.now();
  progress.push(`registry back after ${backAt - outageAt} ms down`);

  const report = await load;
  expect(report.failed).toEqual([]);
  expect(report.acknowledged).toHaveLength(ORDERS);

  const orderIds = report.acknowledged.map((o) => o.acknowledged!.orderId);
  expect(new Set(orderIds).size).toBe(ORDERS);
  const ours = new Set(orderIds);
  const ourDeadLetters = async (group: string) =>
    (await deadLetters(group)).filter((l) => ours.has(l.key) || /registry/i.test(`${l.code} ${l.reason}`));
  const pool = new Pool({ connectionString: stack.databaseUrl, max: 1 });
  try {
    const decided = async () =>
      Number(
        (
          await pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM order_projection.orders
             WHERE order_id = ANY($1) AND status IN ('confirmed', 'rejected')`,
            [orderIds],
          )
        ).rows[0]!.n,
      );
    // Ends as soon as every order is decided, or at the first dead letter (a failure at once,
    // naming it, instead of a timeout two minutes later).
    const outcome = await eventually(
      `all ${ORDERS} orders decided in the read model`,
      async () => {
        if ((await decided()) === ORDERS) return 'all decided';
        const letters = (await ourDeadLetters(stack!.processorGroup)).concat(
          await ourDeadLetters(stack!.projectionGroup),
        );
        return letters.length > 0 ? { deadLetters: letters.slice(0, 3) } : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(outcome).toBe('all decided');
    const decidedAt = Date.now();

    const { rows } = await pool.query<{ order_id: string; view: OrderView }>(
      `SELECT order_id, view FROM order_projection.orders WHERE order_id = ANY($1)`,
      [orderIds],
    );
    const views = new Map(rows.map((r) => [r.order_id, r.view]));
    for (const [i, orderId] of orderIds.entries()) {
      const view = views.get(orderId)!;
      const decisions = view.timeline.filter((t) => t.status === 'confirmed' || t.status === 'rejected');
      expect({ i, status: view.status, decisions: decisions.length }).toEqual({
        i,
        status: isRejected(i) ? 'rejected' : 'confirmed',
        decisions: 1,
      });
    }
    progress.push(`all decided ${decidedAt - backAt} ms after the registry was back`);
  } finally {
    await pool.end();
  }

  // Nothing of ours dead-lettered, and nothing at all for the registry (other runs' records on the
  // shared topics, signed with other keys, are dead-lettered for that).
  for (const group of [stack.processorGroup, stack.projectionGroup])
    expect(await ourDeadLetters(group)).toEqual([]);
  expect(cold.child.exitCode).toBeNull();
  expect(stack.projection.child.exitCode).toBeNull();
  process.stdout.write(
    `registry-restart scenario: ${ORDERS} orders at ${RATE}/s (${ORDERS / 9} rejected), 0 lost, 0 duplicated, ` +
      `0 dead-lettered; ${progress.join(', ')}; ` +
      `${report.retries} client retries; ${Date.now() - started} ms\n`,
  );
}, 420_000);
