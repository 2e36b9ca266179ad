// The read model converges whatever the interleaving of an order's events, against the real PostgreSQL.
import {
  orderCancelledTopic,
  orderConfirmedTopic,
  orderPlacedTopic,
  orderRejectedTopic,
} from '@tideline/contracts';
import type { ProjectionBatch, ProjectionRecord } from '@tideline/messaging';
import { ensureProjectionLayout, PostgresProjectionStore } from '@tideline/projections';
import { createTestDatabase, type TestDatabase } from '@tideline/testing';
import { Pool } from 'pg';
import { decodeCursor, OrderQueries } from './queries';
import { applyOrderEvents, orderProjection } from '@tideline/read-models';

let database: TestDatabase;
let pool: Pool;
let queries: OrderQueries;

beforeAll(async () => {
  database = await createTestDatabase('order_projection');
  pool = new Pool({ connectionString: database.url, max: 4 });
  await ensureProjectionLayout(pool, orderProjection);
  queries = new OrderQueries(pool);
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

type Kind = 'placed' | 'confirmed' | 'rejected' | 'cancelled';
const T0 = Date.UTC(2026, 10, 23, 12);

/** One order's event of `kind` as the consumer hands it over. */
function eventRecord(kind: Kind, orderId: string, customerId: string, offset: number): ProjectionRecord {
  const base = { orderId };
  const byKind = {
    placed: {
      topic: orderPlacedTopic.name,
      value: { ...base, customerId, currency: 'EUR', lines: [{ sku: 'A', quantity: 2 }], placedAt: T0 },
    },
    confirmed: {
      topic: orderConfirmedTopic.name,
      value: {
        ...base,
        customerId,
        currency: 'EUR',
        lines: [{ sku: 'A', quantity: 2, unitPriceCents: 250, lineTotalCents: 500 }],
        totalCents: 500,
        confirmedAt: T0 + 10,
      },
    },
    rejected: {
      topic: orderRejectedTopic.name,
      value: {
        ...base,
        customerId,
        reasons: [{ code: 'PRODUCT_INACTIVE', sku: 'A', message: 'A is inactive' }],
        rejectedAt: T0 + 20,
      },
    },
    cancelled: {
      topic: orderCancelledTopic.name,
      value: { ...base, reason: 'changed my mind', cancelledAt: T0 + 30 },
    },
  }[kind];
  return {
    eventId: `event-${kind}`,
    eventType: kind,
    correlationId: 'c',
    causationId: undefined,
    producer: 'test',
    producedAt: '',
    traceparent: undefined,
    topic: byKind.topic,
    partition: 0,
    offset: String(offset),
    timestamp: T0,
    key: orderId,
    value: byKind.value,
    headers: {},
  };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

async function applyInOneTransaction(records: ProjectionRecord[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const batch: ProjectionBatch = { topic: 't', partition: 0, from: '0', to: '0', records };
    const changes = await applyOrderEvents(client, batch);
    await client.query('COMMIT');
    return changes.length;
  } finally {
    client.release();
  }
}

/** Everything the read model says about one order and its customer, minus the ids that differ per run. */
async function snapshot(orderId: string, customerId: string) {
  const order = await queries.order(orderId);
  const summary = await queries.customerSummary(customerId);
  const { orderId: _ignored, ...document } = order!.document;
  const { customerId: _c, updatedAt: _u, ...counts } = summary!;
  return {
    document: { ...document, customerId: document.customerId === customerId ? 'same' : 'other' },
    counts,
  };
}

describe.each<[string, Kind[]]>([
  ['placed, confirmed, cancelled', ['placed', 'confirmed', 'cancelled']],
  ['placed, rejected, cancelled', ['placed', 'rejected', 'cancelled']],
  ['all four', ['placed', 'confirmed', 'rejected', 'cancelled']],
])('an order whose events are %s', (_, kinds) => {
  const orders = permutations(kinds);

  it(`reaches the same order, summary and counts in every one of the ${orders.length} orders of arrival, one event per transaction, redelivered`, async () => {
    const snapshots = [];
    for (const [index, order] of orders.entries()) {
      const orderId = `${kinds.join('-')}-${index}-${Date.now()}`;
      const customerId = `customer-${orderId}`;
      let offset = 0;
      for (const kind of order) {
        expect(await applyInOneTransaction([eventRecord(kind, orderId, customerId, offset++)])).toBe(1);
      }
      // Every event again (a redelivery): nothing changes, nothing is published.
      for (const kind of order) {
        expect(await applyInOneTransaction([eventRecord(kind, orderId, customerId, offset++)])).toBe(0);
      }
      snapshots.push(await snapshot(orderId, customerId));
    }
    for (const other of snapshots.slice(1)) expect(other).toEqual(snapshots[0]);
    // The customer counts exactly one order, in the order's final status.
    const first = snapshots[0]!;
    const counted = Object.values(first.counts.counts).reduce((sum, n) => sum + n, 0);
    expect(counted).toBe(1);
    expect(first.counts.counts[first.document.status]).toBe(1);
    expect(first.document.timeline).toHaveLength(kinds.length);
  });

  it('reaches the same state when each order of arrival comes in one batch', async () => {
    const snapshots = [];
    for (const [index, order] of orders.entries()) {
      const orderId = `batch-${kinds.join('-')}-${index}-${Date.now()}`;
      const customerId = `customer-${orderId}`;
      const records = order.map((kind, offset) => eventRecord(kind, orderId, customerId, offset));
      expect(await applyInOneTransaction([...records, ...records])).toBe(kinds.length);
      snapshots.push(await snapshot(orderId, customerId));
    }
    for (const other of snapshots.slice(1)) expect(other).toEqual(snapshots[0]);
  });
});

it('keeps customer summaries and status counts equal to the orders they summarize', async () => {
  const customerId = `customer-sum-${Date.now()}`;
  const kinds: Kind[][] = [
    ['placed'],
    ['placed', 'confirmed'],
    ['confirmed'],
    ['placed', 'rejected'],
    ['cancelled'],
  ];
  const before = await queries.totals();
  let offset = 0;
  for (const [index, events] of kinds.entries()) {
    const orderId = `${customerId}-${index}`;
    await applyInOneTransaction(events.map((kind) => eventRecord(kind, orderId, customerId, offset++)));
  }
  const summary = await queries.customerSummary(customerId);
  // The cancelled-only order has no known customer yet, so it is not the customer's.
  expect(summary?.counts).toEqual({ pending: 1, confirmed: 2, cancelled: 0, rejected: 1 });
  expect(summary?.confirmedSpendCents).toEqual({ EUR: 1000 });
  const after = await queries.totals();
  expect(after.orders - before.orders).toBe(5);
  expect(after.byStatus.cancelled - before.byStatus.cancelled).toBe(1);
  const page1 = await queries.customerOrders(customerId, 3, undefined);
  expect(page1.items.map((o) => o.orderId)).toEqual([
    `${customerId}-3`,
    `${customerId}-2`,
    `${customerId}-1`,
  ]);
  const next = page1.nextCursor;
  expect(next).not.toBeNull();
  const page2 = await queries.customerOrders(customerId, 3, decodeCursor(next!));
  expect(page2.items.map((o) => o.orderId)).toEqual([`${customerId}-0`]);
  expect(page2.nextCursor).toBeNull();
});

it('writes the read model, the position and the feed together through the store', async () => {
  const store = new PostgresProjectionStore(pool, 'order-projection-test', (client, batch) =>
    applyOrderEvents(client, batch),
  );
  const orderId = `store-${Date.now()}`;
  const records = [
    eventRecord('placed', orderId, 'c-store', 0),
    eventRecord('confirmed', orderId, 'c-store', 1),
  ];
  expect(await store.apply({ topic: 't', partition: 0, from: '0', to: '2', records })).toBe(true);
  expect(await store.apply({ topic: 't', partition: 0, from: '0', to: '2', records })).toBe(false);
  expect((await queries.order(orderId))?.document.status).toBe('confirmed');
  const feed = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM tideline_change_feed WHERE projection = 'order-projection-test'`,
  );
  expect(Number(feed.rows[0]!.n)).toBe(2);
});

it('loses no event when two transactions apply the first events of the same new orders at once', async () => {
  const run = `race-${Date.now()}`;
  const orders = Array.from({ length: 20 }, (_, i) => `${run}-${i}`);
  const customerId = `customer-${run}`;
  const before = await queries.totals();
  await Promise.all([
    applyInOneTransaction(orders.map((id, i) => eventRecord('placed', id, customerId, i))),
    applyInOneTransaction(orders.map((id, i) => eventRecord('confirmed', id, customerId, i))),
  ]);
  for (const id of orders) {
    const order = await queries.order(id);
    expect([id, order?.document.timeline.map((t) => t.eventType)]).toEqual([
      id,
      ['OrderPlaced', 'OrderConfirmed'],
    ]);
  }
  const summary = await queries.customerSummary(customerId);
  expect(summary?.counts).toEqual({ pending: 0, confirmed: 20, cancelled: 0, rejected: 0 });
  const after = await queries.totals();
  expect(after.orders - before.orders).toBe(20);
});
