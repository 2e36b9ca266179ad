// kill -9 one of two order-processors and the projection while 5,000 orders flow, restart them:
// every order ends in exactly one terminal state and every summary equals what the events imply.
import { eventually } from '@tideline/testing';
import { Pool } from 'pg';
import { OrderStack, type Accepted } from './support';

const ORDERS = 5_000;
const CUSTOMERS = 50;
const CONCURRENCY = 24;
const KILL_AFTER = 1_500;
const PRICE = 150;

let stack: OrderStack;

beforeAll(async () => {
  // A shorter session: the group hands a killed member's partitions on after 10 s, not 30 s.
  stack = await OrderStack.start({ processors: 2, env: { SESSION_TIMEOUT_MS: '10000' } });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

interface Expected {
  confirmed: number;
  rejected: number;
  spend: number;
}

/** Order i: every 10th asks for the inactive product, every 10th + 1 is over the limit, the rest are fine. */
function orderFor(i: number): {
  customer: string;
  items: [string, number][];
  outcome: 'confirmed' | 'rejected';
} {
  const customer = `${stack.run}-c${i % CUSTOMERS}`;
  if (i % 10 === 0) return { customer, items: [['pear', 1]], outcome: 'rejected' };
  if (i % 10 === 1) return { customer, items: [['gold', 2]], outcome: 'rejected' };
  return { customer, items: [['apple', 1 + (i % 3)]], outcome: 'confirmed' };
}

it('ends every order in exactly one terminal state and counts each once across kill -9 of a processor and the projection', async () => {
  await stack.putProduct('apple', PRICE);
  await stack.putProduct('pear', 300, false);
  await stack.putProduct('gold', 90_000);
  // The catalog reached the processors when a first order is confirmed.
  const probe = await stack.placeOrder(`${stack.run}-probe`, [['apple', 1]]);
  expect((await stack.settled(probe.orderId)).status).toBe('confirmed');

  const expected = new Map<string, Expected>();
  const accepted: Accepted[] = [];
  let next = 0;
  let killed: Promise<unknown> | undefined;
  const victim = stack.processors[0]!;
  const worker = async () => {
    while (next < ORDERS) {
      const i = next++;
      const order = orderFor(i);
      accepted.push(await stack.placeOrder(order.customer, order.items));
      const tally = expected.get(order.customer) ?? { confirmed: 0, rejected: 0, spend: 0 };
      tally[order.outcome] += 1;
      if (order.outcome === 'confirmed') tally.spend += PRICE * order.items[0]![1];
      expected.set(order.customer, tally);
      if (accepted.length === KILL_AFTER) {
        killed = Promise.all([victim.stop('SIGKILL'), stack.projection.stop('SIGKILL')]);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  expect(accepted).toHaveLength(ORDERS);
  expect(await killed).toEqual([null, null]); // both died of the signal, not of their own accord

  // Restart them: a new processor joins the survivor, the projection continues from its stored positions.
  await Promise.all([stack.startProcessor(), stack.startProjection()]);

  const pool = new Pool({ connectionString: stack.databaseUrl, max: 2 });
  try {
    const customers = [...expected.keys()];
    await eventually(
      `all ${ORDERS} orders decided in the read model`,
      async () => {
        const { rows } = await pool.query<{ decided: string; pending: string }>(
          `SELECT count(*) FILTER (WHERE status IN ('confirmed', 'rejected')) AS decided,
                  count(*) FILTER (WHERE status = 'pending') AS pending
           FROM order_projection.orders WHERE customer_id = ANY($1)`,
          [customers],
        );
        return Number(rows[0]!.decided) === ORDERS && Number(rows[0]!.pending) === 0 ? true : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );

    // Exactly one decision per order: an OrderPlaced and one OrderConfirmed or OrderRejected, never two decisions.
    const { rows: shapes } = await pool.query<{ shape: string; orders: string }>(
      `SELECT (SELECT string_agg(t->>'eventType', ',' ORDER BY t->>'eventType') FROM jsonb_array_elements(view->'timeline') t) AS shape,
              count(*) AS orders
       FROM order_projection.orders WHERE customer_id = ANY($1) GROUP BY 1 ORDER BY 1`,
      [customers],
    );
    const rejected = [...expected.values()].reduce((sum, e) => sum + e.rejected, 0);
    expect(shapes.map((r) => [r.shape, Number(r.orders)])).toEqual([
      ['OrderConfirmed,OrderPlaced', ORDERS - rejected],
      ['OrderPlaced,OrderRejected', rejected],
    ]);
    const ids = new Set(accepted.map((a) => a.orderId));
    const { rows: stored } = await pool.query<{ order_id: string }>(
      `SELECT order_id FROM order_projection.orders WHERE customer_id = ANY($1)`,
      [customers],
    );
    expect(new Set(stored.map((r) => r.order_id))).toEqual(ids);

    // Every summary is what the produced events imply: no loss, no double count.
    for (const [customer, tally] of expected) {
      const summary = await stack.get<{
        counts: Record<string, number>;
        confirmedSpendCents: Record<string, number>;
      }>(`/customers/${customer}/summary`);
      expect([customer, summary.counts, summary.confirmedSpendCents]).toEqual([
        customer,
        { pending: 0, confirmed: tally.confirmed, cancelled: 0, rejected: tally.rejected },
        tally.spend === 0 ? {} : { EUR: tally.spend },
      ]);
    }
    const totals = await stack.get<{ orders: number; byStatus: Record<string, number> }>('/stats');
    expect(totals.orders).toBe(ORDERS + 1); // and the probe
    expect(totals.byStatus).toEqual({ pending: 0, confirmed: ORDERS - rejected + 1, cancelled: 0, rejected });
  } finally {
    await pool.end();
  }
}, 400_000);
