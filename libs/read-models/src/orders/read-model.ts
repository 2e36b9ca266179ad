import {
  orderCancelledTopic,
  orderConfirmedTopic,
  orderPlacedTopic,
  orderRejectedTopic,
  type OrderCancelled,
  type OrderConfirmed,
  type OrderPlaced,
  type OrderRejected,
} from '@tideline/contracts';
import type { ProjectionBatch, ProjectionRecord } from '@tideline/messaging';
import {
  emptyOrder,
  evolveOrder,
  summaryDelta,
  type OrderEvent,
  type OrderStatus,
  type OrderView,
} from '@tideline/orders-domain';
import { traceIdOf } from '@tideline/http';
import type { FeedChange } from '@tideline/projections';
import type { PoolClient } from 'pg';
import { ORDER_SCHEMA } from './tables';

/** The topics order-projection reads. */
export const projectedTopics = [
  orderPlacedTopic,
  orderConfirmedTopic,
  orderRejectedTopic,
  orderCancelledTopic,
] as const;

const STATUSES: readonly OrderStatus[] = ['pending', 'confirmed', 'cancelled', 'rejected'];

/** An order as the API shows it: the view without its bookkeeping, times as ISO strings. */
export interface OrderDocument {
  orderId: string;
  customerId: string | null;
  status: OrderStatus;
  currency: string | null;
  lines: OrderView['lines'];
  totalCents: number | null;
  reasons: OrderView['reasons'];
  cancelReason: string | null;
  placedAt: string | null;
  timeline: { status: OrderStatus; eventId: string; eventType: string; at: string }[];
}

/** What the change feed carries for one applied event (SSE `order-changed` data). */
export interface OrderChange {
  orderId: string;
  customerId: string | null;
  status: OrderStatus;
  previousStatus: OrderStatus | null;
  eventId: string;
  eventType: OrderEvent['type'];
  at: string;
  order: OrderDocument;
  /** The trace of the request that caused the event (look it up in Jaeger/Tempo); null when its record carried none. */
  traceId: string | null;
  /** The record's W3C traceparent: the live push is traced under it, and a client may continue the trace. */
  traceparent: string | null;
}

export function orderDocument(view: OrderView): OrderDocument {
  return {
    orderId: view.orderId,
    customerId: view.customerId,
    status: view.status,
    currency: view.currency,
    lines: view.lines,
    totalCents: view.totalCents,
    reasons: view.reasons,
    cancelReason: view.cancelReason,
    placedAt: view.placedAt === null ? null : new Date(view.placedAt).toISOString(),
    timeline: view.timeline.map((entry) => ({ ...entry, at: new Date(entry.at).toISOString() })),
  };
}

/** One consumed record as an order event; undefined for a tombstone (order topics have none). */
export function toOrderEvent(record: ProjectionRecord): OrderEvent | undefined {
  if (record.value === null) return undefined;
  // A record without an event id (a foreign producer) still gets a stable identity: its position.
  const eventId = record.eventId || `${record.topic}:${record.partition}:${record.offset}`;
  switch (record.topic) {
    case orderPlacedTopic.name: {
      const value = record.value as OrderPlaced;
      return { type: 'OrderPlaced', eventId, at: value.placedAt, value };
    }
    case orderConfirmedTopic.name: {
      const value = record.value as OrderConfirmed;
      return { type: 'OrderConfirmed', eventId, at: value.confirmedAt, value };
    }
    case orderRejectedTopic.name: {
      const value = record.value as OrderRejected;
      return { type: 'OrderRejected', eventId, at: value.rejectedAt, value };
    }
    case orderCancelledTopic.name: {
      const value = record.value as OrderCancelled;
      return { type: 'OrderCancelled', eventId, at: value.cancelledAt, value };
    }
    default:
      throw new Error(`order-projection does not project topic ${record.topic}`);
  }
}

type Counts = Record<OrderStatus, number>;
const zeroCounts = (): Counts => ({ pending: 0, confirmed: 0, cancelled: 0, rejected: 0 });

/**
 * Applies a batch of order events inside the store's transaction: evolves each order's view
 * (claiming and locking the orders' rows in id order, so concurrent writers neither lose an
 * update nor deadlock), adds
 * the summary and count deltas, and returns one feed change per event that changed a view.
 * A redelivered event changes nothing (evolveOrder ignores seen ids) and publishes nothing.
 */
export async function applyOrderEvents(
  client: PoolClient,
  batch: ProjectionBatch,
  schema: string = ORDER_SCHEMA,
): Promise<FeedChange[]> {
  const events = batch.records.map(toOrderEvent).filter((e): e is OrderEvent => e !== undefined);
  if (events.length === 0) return [];
  const ids = [...new Set(events.map((e) => e.value.orderId))].sort();
  // Claim a row for every order first (a placeholder, events = 0, for a new one): a concurrent
  // transaction with a first event of the same new order then waits for this one and reads
  // its result, instead of both starting from nothing and the last writer winning.
  await client.query(
    `INSERT INTO ${schema}.orders (order_id, status, events, updated_at, view)
     SELECT id, 'pending', 0, now(), '{}'::jsonb FROM unnest($1::text[]) AS id ORDER BY id
     ON CONFLICT (order_id) DO NOTHING`,
    [ids],
  );
  const { rows } = await client.query<{ order_id: string; events: number; view: OrderView }>(
    `SELECT order_id, events, view FROM ${schema}.orders WHERE order_id = ANY($1::text[]) ORDER BY order_id FOR UPDATE`,
    [ids],
  );
  const views = new Map(rows.filter((row) => row.events > 0).map((row) => [row.order_id, row.view]));
  const changed = new Set<string>();
  const statusDelta = zeroCounts();
  const customerCounts = new Map<string, Counts>();
  const customerSpend = new Map<string, number>(); // `${customer}\u0000${currency}` → cents
  const changes: FeedChange[] = [];
  const traceparents = new Map(batch.records.map((record) => [record.eventId, record.traceparent]));

  for (const event of events) {
    const orderId = event.value.orderId;
    const before = views.get(orderId);
    const after = evolveOrder(before ?? emptyOrder(orderId), event);
    if (after === before) continue;
    views.set(orderId, after);
    changed.add(orderId);
    if (before !== undefined) statusDelta[before.status] -= 1;
    statusDelta[after.status] += 1;
    const delta = summaryDelta(before, after);
    if (after.customerId !== null) {
      const counts = customerCounts.get(after.customerId) ?? zeroCounts();
      for (const status of STATUSES) counts[status] += delta.status[status] ?? 0;
      customerCounts.set(after.customerId, counts);
      for (const [currency, cents] of Object.entries(delta.spend)) {
        const slot = `${after.customerId}\u0000${currency}`;
        customerSpend.set(slot, (customerSpend.get(slot) ?? 0) + cents);
      }
    }
    const change: OrderChange = {
      orderId,
      customerId: after.customerId,
      status: after.status,
      previousStatus: before?.status ?? null,
      eventId: event.eventId,
      eventType: event.type,
      at: new Date(event.at).toISOString(),
      order: orderDocument(after),
      traceId: traceIdOf(traceparents.get(event.eventId)) ?? null,
      traceparent: traceparents.get(event.eventId) ?? null,
    };
    changes.push({
      keys:
        after.customerId === null
          ? [`order:${orderId}`]
          : [`order:${orderId}`, `customer:${after.customerId}`],
      payload: change,
    });
  }
  if (changed.size === 0) return [];

  const upserts = [...changed].sort().map((id) => views.get(id)!);
  await client.query(
    `INSERT INTO ${schema}.orders (order_id, customer_id, status, currency, total_cents, placed_at, events, updated_at, view)
     SELECT v->>'orderId', v->>'customerId', v->>'status', v->>'currency', (v->>'totalCents')::bigint,
            to_timestamp((v->>'placedAt')::double precision / 1000), jsonb_array_length(v->'seenEventIds'), now(), v
     FROM jsonb_array_elements($1::jsonb) AS v
     ON CONFLICT (order_id) DO UPDATE SET
       customer_id = EXCLUDED.customer_id, status = EXCLUDED.status, currency = EXCLUDED.currency,
       total_cents = EXCLUDED.total_cents, placed_at = EXCLUDED.placed_at, events = EXCLUDED.events,
       updated_at = EXCLUDED.updated_at, view = EXCLUDED.view`,
    [JSON.stringify(upserts)],
  );

  const customers = [...customerCounts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (customers.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.customer_summaries AS s (customer_id, pending, confirmed, cancelled, rejected, updated_at)
       SELECT c->>'id', (c->>'pending')::int, (c->>'confirmed')::int, (c->>'cancelled')::int, (c->>'rejected')::int, now()
       FROM jsonb_array_elements($1::jsonb) AS c
       ON CONFLICT (customer_id) DO UPDATE SET
         pending = s.pending + EXCLUDED.pending, confirmed = s.confirmed + EXCLUDED.confirmed,
         cancelled = s.cancelled + EXCLUDED.cancelled, rejected = s.rejected + EXCLUDED.rejected,
         updated_at = EXCLUDED.updated_at`,
      [JSON.stringify(customers.map(([id, counts]) => ({ id, ...counts })))],
    );
  }
  const spend = [...customerSpend]
    .filter(([, cents]) => cents !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([slot, cents]) => {
      const [customer, currency] = slot.split('\u0000');
      return { customer, currency, cents };
    });
  if (spend.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.customer_spend AS s (customer_id, currency, confirmed_cents)
       SELECT c->>'customer', c->>'currency', (c->>'cents')::bigint FROM jsonb_array_elements($1::jsonb) AS c
       ON CONFLICT (customer_id, currency) DO UPDATE SET confirmed_cents = s.confirmed_cents + EXCLUDED.confirmed_cents`,
      [JSON.stringify(spend)],
    );
  }
  const statuses = STATUSES.filter((status) => statusDelta[status] !== 0);
  if (statuses.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.status_counts AS s (status, orders)
       SELECT * FROM unnest($1::text[], $2::bigint[])
       ON CONFLICT (status) DO UPDATE SET orders = s.orders + EXCLUDED.orders`,
      [statuses, statuses.map((status) => statusDelta[status])],
    );
  }
  return changes;
}
