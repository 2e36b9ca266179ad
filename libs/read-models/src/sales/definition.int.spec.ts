// The sales read model against the real PostgreSQL: the same tables whatever the batching,
// arrival order, redelivery or concurrency, and a few statements per batch whatever its size.
import type { ProjectionBatch, ProjectionRecord } from '@tideline/messaging';
import {
  compareVersions,
  ensureProjectionLayout,
  PostgresProjectionStore,
  versionSchema,
} from '@tideline/projections';
import { createTestDatabase, type TestDatabase } from '@tideline/testing';
import { Pool } from 'pg';
import { HOURLY_TABLE, ORDER_SALES_TABLE, salesProjection, salesTopics } from './definition';
import { contribution, emptyOrderSales, evolveSales, HOUR_MS, SalesDeltas, type SalesEvent } from './fold';
import { SalesQueries } from './queries';

const definition = salesProjection();
let database: TestDatabase;
let pool: Pool;
let queries: SalesQueries;

beforeAll(async () => {
  database = await createTestDatabase('sales_model');
  pool = new Pool({ connectionString: database.url, max: 8 });
  await ensureProjectionLayout(pool, definition);
  queries = new SalesQueries(pool);
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

const T0 = Date.UTC(2026, 10, 23, 12);
let offsets = 0;

/** A consumed record carrying `event`. */
function record(event: SalesEvent): ProjectionRecord {
  const topic = {
    OrderConfirmed: salesTopics.confirmed,
    OrderRejected: salesTopics.rejected,
    OrderCancelled: salesTopics.cancelled,
  }[event.type];
  return {
    eventId: event.eventId,
    eventType: topic.eventType,
    correlationId: 'c',
    causationId: undefined,
    producer: 'test',
    producedAt: '',
    traceparent: undefined,
    topic: topic.name,
    partition: 0,
    offset: String(offsets++),
    timestamp: T0,
    key: event.value.orderId,
    value: event.value,
    headers: {},
  };
}

const confirmed = (orderId: string, eventId: string, at: number, lines: [string, number, number][]) =>
  ({
    type: 'OrderConfirmed',
    eventId,
    value: {
      orderId,
      customerId: 'c',
      currency: 'EUR',
      lines: lines.map(([sku, quantity, price]) => ({
        sku,
        quantity,
        unitPriceCents: price,
        lineTotalCents: quantity * price,
      })),
      totalCents: lines.reduce((sum, [, q, p]) => sum + q * p, 0),
      confirmedAt: at,
    },
  }) satisfies SalesEvent;
const cancelled = (orderId: string, eventId: string) =>
  ({
    type: 'OrderCancelled',
    eventId,
    value: { orderId, reason: null, cancelledAt: T0 },
  }) satisfies SalesEvent;
const rejected = (orderId: string, eventId: string) =>
  ({
    type: 'OrderRejected',
    eventId,
    value: { orderId, customerId: 'c', reasons: [], rejectedAt: T0 },
  }) satisfies SalesEvent;

async function inTransaction<T>(work: (client: import('pg').PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

const batchOf = (events: readonly SalesEvent[]): ProjectionBatch => ({
  topic: 't',
  partition: 0,
  from: '0',
  to: '0',
  records: events.map(record),
});

/** Applies `events` in one transaction to the tables in `schema`. */
const applyInOne = (events: readonly SalesEvent[], schema = definition.schema) =>
  inTransaction((client) => definition.apply(client, batchOf(events), schema));

async function bucketsOf(schema: string, skus: readonly string[]) {
  const { rows } = await pool.query<Record<string, unknown>>(
    `SELECT sku, hour, currency, units::int, revenue_cents::int, orders FROM ${schema}.${HOURLY_TABLE}
     WHERE sku = ANY($1::text[]) ORDER BY sku, hour, currency`,
    [skus],
  );
  return rows;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe('one order, every order of arrival', () => {
  const cases: [string, (id: string, sku: string) => SalesEvent[], number][] = [
    [
      'confirmed, then cancelled',
      (id, sku) => [confirmed(id, 'e1', T0, [[sku, 2, 100]]), cancelled(id, 'e2')],
      0,
    ],
    [
      'confirmed twice (a repeated decision)',
      (id, sku) => [
        confirmed(id, 'e1', T0 + HOUR_MS, [[sku, 5, 100]]),
        confirmed(id, 'e0', T0, [[sku, 2, 100]]),
      ],
      2,
    ],
    [
      'confirmed, rejected, cancelled',
      (id, sku) => [confirmed(id, 'e1', T0, [[sku, 2, 100]]), rejected(id, 'e2'), cancelled(id, 'e3')],
      0,
    ],
  ];
  it.each(cases)(
    '%s: one event per transaction, one batch, and redelivered, all give the same buckets',
    async (label, events, units) => {
      const run = `${label.replace(/\W+/g, '-')}-${Date.now()}`;
      const results = [];
      for (const [index, order] of permutations(events('x', 'x')).entries()) {
        for (const mode of ['one by one', 'one batch'] as const) {
          const sku = `${run}-${index}-${mode}`;
          const id = `${sku}-order`;
          const mine = events(id, sku);
          const arranged = order.map((e) => mine.find((m) => m.eventId === e.eventId)!);
          if (mode === 'one by one') for (const event of arranged) await applyInOne([event]);
          else await applyInOne([...arranged, ...arranged]);
          for (const event of arranged) await applyInOne([event]); // redelivered
          const buckets = (await bucketsOf(definition.schema, [sku])).map(({ sku: _s, ...rest }) => rest);
          results.push(buckets);
        }
      }
      for (const other of results.slice(1)) expect(other).toEqual(results[0]);
      const total = results[0]!.reduce((sum, b) => sum + (b['units'] as number), 0);
      expect(total).toBe(units);
    },
  );
});

it('deletes a bucket a cancellation emptied, so the rows do not depend on the batching', async () => {
  const sku = `empty-${Date.now()}`;
  await applyInOne([confirmed(`${sku}-1`, 'e1', T0, [[sku, 1, 100]])]);
  expect(await bucketsOf(definition.schema, [sku])).toHaveLength(1);
  await applyInOne([cancelled(`${sku}-1`, 'e2')]);
  expect(await bucketsOf(definition.schema, [sku])).toEqual([]);
  const states = await pool.query(
    `SELECT cancelled FROM ${definition.schema}.${ORDER_SALES_TABLE} WHERE order_id = $1`,
    [`${sku}-1`],
  );
  expect(states.rows).toEqual([{ cancelled: true }]);
});

it('uses the same few statements for a batch of 1,000 events as for one', async () => {
  const run = `statements-${Date.now()}`;
  const sku = (i: number) => `${run}-${i % 7}`;
  // Old order 0 is the only sale of its product: its cancellation empties that bucket.
  const earlier = Array.from({ length: 100 }, (_, i) =>
    confirmed(`${run}-old-${i}`, `${run}-old-${i}-c`, T0, [[i === 0 ? `${run}-lonely` : sku(i), 1, 100]]),
  );
  await applyInOne(earlier);
  const events: SalesEvent[] = [];
  for (let i = 0; i < 100; i += 1) events.push(cancelled(`${run}-old-${i}`, `${run}-old-${i}-x`));
  for (let i = 0; i < 450; i += 1) {
    const id = `${run}-${i}`;
    events.push(confirmed(id, `${id}-c`, T0 + i * 60_000, [[sku(i), 1 + (i % 3), 100]]));
    events.push(i % 5 === 0 ? cancelled(id, `${id}-x`) : rejected(`${id}-other`, `${id}-r`));
  }
  const statements = async (batch: readonly SalesEvent[]) =>
    inTransaction(async (client) => {
      const spy = jest.spyOn(client, 'query');
      try {
        await definition.apply(client, batchOf(batch), definition.schema);
        return spy.mock.calls.length;
      } finally {
        spy.mockRestore();
      }
    });
  expect(events).toHaveLength(1_000);
  // Insert the new orders and lock the others, read and write those, add to the buckets,
  // delete the buckets the cancellations emptied.
  expect(await statements(events)).toBe(5);
  // A new order: insert it, add to its bucket.
  expect(await statements([confirmed(`${run}-single`, 'e', T0, [[`${run}-single`, 1, 1]])])).toBe(2);
  expect(await bucketsOf(definition.schema, [sku(0)])).toHaveLength(8); // hours T0..T0+7h
  expect(await bucketsOf(definition.schema, [`${run}-lonely`])).toEqual([]);
});

it('converges when partitions are applied at once, in any batching, to what the events imply', async () => {
  const run = `concurrent-${Date.now()}`;
  const skus = Array.from({ length: 5 }, (_, i) => `${run}-sku-${i}`);
  // Three "topics" of events about the same 150 orders, each in its own partition.
  const confirmations: SalesEvent[] = [];
  const cancellations: SalesEvent[] = [];
  const rejections: SalesEvent[] = [];
  for (let i = 0; i < 150; i += 1) {
    const id = `${run}-${String(i).padStart(3, '0')}`;
    const lines: [string, number, number][] = [
      [skus[i % 5]!, 1 + (i % 4), 100 + i],
      [skus[(i + 2) % 5]!, 1, 999],
    ];
    confirmations.push(confirmed(id, `${id}-c`, T0 + (i % 6) * 20 * 60_000, lines));
    if (i % 10 === 0) confirmations.push(confirmed(id, `${id}-c2`, T0 + 9 * HOUR_MS, lines)); // repeated decision
    if (i % 4 === 0) cancellations.push(cancelled(id, `${id}-x`));
    if (i % 9 === 0) rejections.push(rejected(id, `${id}-r`));
  }
  const expected = new SalesDeltas();
  const byOrder = new Map<string, SalesEvent[]>();
  for (const event of [...confirmations, ...cancellations, ...rejections])
    byOrder.set(event.value.orderId, [...(byOrder.get(event.value.orderId) ?? []), event]);
  for (const [id, events] of byOrder)
    expected.add(contribution(events.reduce(evolveSales, emptyOrderSales(id))), 1);

  // Live: the three partitions at once through the store, small batches, each batch redelivered once.
  const store = new PostgresProjectionStore(pool, `${run}-live`, (client, batch) =>
    definition.apply(client, batch, definition.schema),
  );
  const applyPartition = async (events: SalesEvent[], partition: number, size: number) => {
    let at = 0;
    for (let i = 0; i < events.length; i += size) {
      const records = events.slice(i, i + size).map(record);
      const next = at + records.length;
      const batch = { topic: `${run}-t`, partition, from: String(at), to: String(next), records };
      expect(await store.apply(batch)).toBe(true);
      expect(await store.apply(batch)).toBe(false); // a redelivery: the position moved on
      at = next;
    }
  };
  await Promise.all([
    applyPartition(confirmations, 0, 7),
    applyPartition([...cancellations].reverse(), 1, 3),
    applyPartition(rejections, 2, 2),
  ]);

  // Rebuilt: every event in one batch into a version schema of its own.
  const rebuilt = versionSchema(definition, 98);
  await pool.query(`DROP SCHEMA IF EXISTS ${rebuilt} CASCADE; CREATE SCHEMA ${rebuilt}`);
  await pool.query(definition.createTables(rebuilt));
  await applyInOne([...rejections, ...cancellations, ...confirmations].reverse(), rebuilt);

  const toRows = (entries: ReturnType<SalesDeltas['entries']>) =>
    entries.map((e) => ({
      sku: e.sku,
      hour: new Date(e.hour),
      currency: e.currency,
      units: e.units,
      revenue_cents: e.revenueCents,
      orders: e.orders,
    }));
  expect(await bucketsOf(definition.schema, skus)).toEqual(toRows(expected.entries()));
  expect(await bucketsOf(rebuilt, skus)).toEqual(toRows(expected.entries()));

  // The rebuild's comparison sees the two versions equal (the live one holds other tests' rows too: copy just this run's).
  const copy = versionSchema(definition, 99);
  await pool.query(`DROP SCHEMA IF EXISTS ${copy} CASCADE; CREATE SCHEMA ${copy}`);
  await pool.query(definition.createTables(copy));
  await pool.query(
    `INSERT INTO ${copy}.${ORDER_SALES_TABLE} SELECT * FROM ${definition.schema}.${ORDER_SALES_TABLE} WHERE order_id LIKE $1;
     `.trim(),
    [`${run}-%`],
  );
  await pool.query(
    `INSERT INTO ${copy}.${HOURLY_TABLE} SELECT * FROM ${definition.schema}.${HOURLY_TABLE} WHERE sku LIKE $1`,
    [`${run}-%`],
  );
  const comparison = await compareVersions(pool, definition, copy, rebuilt);
  expect(comparison.map((c) => [c.table, c.equal, c.live.rows])).toEqual([
    [ORDER_SALES_TABLE, true, 150],
    [HOURLY_TABLE, true, expected.entries().length],
  ]);

  // The queries read the view schema.
  const sku = skus[0]!;
  const sales = await queries.productSales(sku, new Date(T0 - HOUR_MS), new Date(T0 + 24 * HOUR_MS));
  const mine = expected.entries().filter((e) => e.sku === sku);
  expect(sales.hours.map((h) => [h.hour, h.units, h.orders, h.revenueCents])).toEqual(
    mine.map((e) => [new Date(e.hour).toISOString(), e.units, e.orders, { EUR: e.revenueCents }]),
  );
  expect(sales.total.units).toBe(mine.reduce((sum, e) => sum + e.units, 0));
  const top = await queries.topProducts(new Date(T0), new Date(T0 + 24 * HOUR_MS), 50);
  const ours = top.filter((t) => t.sku.startsWith(run));
  const unitsBySku = new Map<string, number>();
  for (const e of expected.entries()) unitsBySku.set(e.sku, (unitsBySku.get(e.sku) ?? 0) + e.units);
  expect(ours.map((t) => [t.sku, t.units])).toEqual(
    [...unitsBySku].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
  );
  await pool.query(`DROP SCHEMA ${rebuilt} CASCADE; DROP SCHEMA ${copy} CASCADE`);
});

it('loses no event when two transactions apply the first events of the same new orders at once', async () => {
  const run = `race-${Date.now()}`;
  const ids = Array.from({ length: 40 }, (_, i) => `${run}-${String(i).padStart(2, '0')}`);
  // Both insert the same new orders: one waits for the other, then finds and updates its rows.
  await Promise.all([
    applyInOne(ids.map((id) => confirmed(id, `${id}-c`, T0, [[`${run}-sku`, 1, 100]]))),
    applyInOne(ids.filter((_, i) => i % 2 === 0).map((id) => cancelled(id, `${id}-x`))),
  ]);
  const { rows } = await pool.query<{ n: string; confirmed: string; cancelled: string }>(
    `SELECT count(*) AS n, count(confirmed_event_id) AS confirmed, count(*) FILTER (WHERE cancelled) AS cancelled
     FROM ${definition.schema}.${ORDER_SALES_TABLE} WHERE order_id LIKE $1`,
    [`${run}-%`],
  );
  expect(rows[0]).toEqual({ n: '40', confirmed: '40', cancelled: '20' });
  expect((await bucketsOf(definition.schema, [`${run}-sku`])).map((b) => [b['units'], b['orders']])).toEqual([
    [20, 20],
  ]);
});
