// Acceptance: `tideline projection rebuild order-projection` while orders keep flowing through
// the real services. After the switch the read model equals a recomputation from the topics,
// and an SSE client connected throughout saw no error and no gap.
import path from 'node:path';
import { RegistryCodec } from '@tideline/messaging';
import { summarize, type OrderView } from '@tideline/orders-domain';
import { eventually, openSseClient, readFrom, runCli, testInfra, type ReadRecord } from '@tideline/testing';
import { Pool } from 'pg';
import { foldOrders, OrderStack, type Accepted } from './support';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const tideline = path.join(repoRoot, 'apps', 'ops', 'bin', 'tideline.cjs');

let stack: OrderStack;
let pool: Pool;

beforeAll(async () => {
  stack = await OrderStack.start({ processors: 1 });
  pool = new Pool({ connectionString: stack.databaseUrl, max: 2 });
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await stack?.stop();
}, 60_000);

it('rebuilds order-projection while orders flow: equal to a recomputation from the topics, and the stream has no gap', async () => {
  await stack.putProduct('apple', 150);
  await stack.putProduct('pear', 300, false);
  const customers = [1, 2, 3, 4, 5].map((n) => `${stack.run}-customer-${n}`);
  const accepted: Accepted[] = [];
  let n = 0;
  const place = async () => {
    n += 1;
    const items: [string, number][] = n % 5 === 0 ? [['pear', 1]] : [['apple', 1 + (n % 3)]];
    accepted.push(await stack.placeOrder(customers[n % customers.length]!, items));
  };
  const stream = await openSseClient(`${stack.projection.url}/stream`);
  for (let i = 0; i < 60; i += 1) await place();

  // Orders keep flowing (bounded) while the rebuild runs.
  let rebuilding = true;
  const flow = (async () => {
    for (let i = 0; i < 600 && rebuilding; i += 1) await place();
  })();
  const rebuild = await runCli(
    process.execPath,
    [
      tideline,
      'projection',
      'rebuild',
      'order-projection',
      '--group',
      stack.projectionGroup,
      '--execute',
      '--json',
    ],
    { env: stack.env, cwd: repoRoot, timeoutMs: 120_000 },
  ).finally(() => {
    rebuilding = false;
  });
  await flow;
  expect(rebuild.stderr).toBe('');
  expect(rebuild.code).toBe(0);
  const result = JSON.parse(rebuild.stdout) as {
    switched: boolean;
    toVersion: number;
    comparison: { table: string; equal: boolean; live: { rows: number } }[];
  };
  expect(result).toMatchObject({ switched: true, toVersion: 2 });
  expect(result.comparison.map((c) => [c.table, c.equal])).toEqual([
    ['orders', true],
    ['customer_summaries', true],
    ['customer_spend', true],
    ['status_counts', true],
  ]);
  expect(accepted.length).toBeGreaterThan(60);

  // A few more after the switch, then wait until every order is decided.
  for (let i = 0; i < 10; i += 1) await place();
  for (const order of accepted) await stack.settled(order.orderId);

  // Recompute every view from what the topics hold since the projection started.
  const { rows: origins } = await pool.query<{ topic: string; partition: number; start_offset: string }>(
    `SELECT topic, partition, start_offset FROM tideline_projection_origins WHERE projection = $1`,
    [stack.projectionGroup],
  );
  const from = origins.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.start_offset }));
  const codec = new RegistryCodec({ registryUrl: testInfra().registryUrl });
  const ours = new Set(accepted.map((a) => a.orderId));
  const records: ReadRecord[] = [];
  // Every order of ours has exactly two events: placed, then confirmed or rejected. Keys are order ids.
  await readFrom(from, (record) => {
    if (record.key !== null && ours.has(record.key.toString())) records.push(record);
    return records.length === 2 * accepted.length;
  });
  const views = await foldOrders(records, codec);
  expect(views.size).toBe(accepted.length);
  const { rows } = await pool.query<{ order_id: string; view: OrderView }>(
    `SELECT order_id, view FROM order_projection.orders`,
  );
  expect(rows).toHaveLength(accepted.length);
  for (const row of rows) expect(row.view).toEqual(JSON.parse(JSON.stringify(views.get(row.order_id))));
  for (const customer of customers) {
    const expected = summarize(
      customer,
      [...views.values()].filter((v) => v.customerId === customer),
    );
    const summary = await stack.get<{ counts: Record<string, number> }>(`/customers/${customer}/summary`);
    expect(summary.counts).toEqual(expected.counts);
  }
  const { rows: counts } = await pool.query<{ status: string; orders: string }>(
    `SELECT status, orders FROM order_projection.status_counts WHERE orders <> 0 ORDER BY status`,
  );
  const byStatus = new Map<string, number>();
  for (const view of views.values()) byStatus.set(view.status, (byStatus.get(view.status) ?? 0) + 1);
  expect(counts.map((c) => [c.status, Number(c.orders)])).toEqual(
    [...byStatus].sort(([a], [b]) => (a < b ? -1 : 1)),
  );

  // The stream: one connection throughout, no error, ids without a gap up to the feed's head.
  const { rows: head } = await pool.query<{ seq: string }>(
    `SELECT seq FROM tideline_change_feed_heads WHERE projection = $1`,
    [stack.projectionGroup],
  );
  await eventually('the stream to reach the head of the feed', () => {
    const last = stream.events.filter((e) => e.id !== undefined).at(-1);
    return last !== undefined && Number(last.id) >= Number(head[0]!.seq) ? true : undefined;
  });
  stream.close();
  expect(stream.events.filter((e) => ['error', 'reset', 'dropped'].includes(e.event))).toEqual([]);
  const ids = stream.events.filter((e) => e.event === 'order-changed').map((e) => Number(e.id));
  expect(ids.length).toBeGreaterThan(accepted.length);
  expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => ids[0]! + i));
}, 240_000);
