import {
  orderCancelledTopic,
  orderConfirmedTopic,
  orderRejectedTopic,
  type OrderCancelled,
  type OrderConfirmed,
  type OrderRejected,
  type TopicDescriptor,
} from '@tideline/contracts';
import type { ProjectionBatch, ProjectionRecord } from '@tideline/messaging';
import type { FeedChange, ProjectionDefinition } from '@tideline/projections';
import type { PoolClient } from 'pg';
import {
  contribution,
  emptyOrderSales,
  evolveSales,
  SalesDeltas,
  type Confirmation,
  type HourlySales,
  type OrderSales,
  type SalesEvent,
} from './fold';

/** The projection's name: its default consumer group and the key of its positions. */
export const SALES_PROJECTION = 'sales-projection';
/** The schema of views queries read; versions live in `sales_projection_v<N>`. */
export const SALES_SCHEMA = 'sales_projection';
/** Per-order state: what an order's events add up to. */
export const ORDER_SALES_TABLE = 'order_sales';
/** Sales per product, hour and currency. */
export const HOURLY_TABLE = 'product_sales_hourly';

/** The topics the sales projection reads, by the event they carry. */
export interface SalesTopics {
  confirmed: TopicDescriptor<OrderConfirmed>;
  rejected: TopicDescriptor<OrderRejected>;
  cancelled: TopicDescriptor<OrderCancelled>;
}

export const salesTopics: SalesTopics = {
  confirmed: orderConfirmedTopic,
  rejected: orderRejectedTopic,
  cancelled: orderCancelledTopic,
};

/** `topics` with some renamed (catalog name → name to read), e.g. a test's private copies. */
export function renamedSalesTopics(renames: ReadonlyMap<string, string>, topics = salesTopics): SalesTopics {
  const rename = <Value>(topic: TopicDescriptor<Value>): TopicDescriptor<Value> => {
    const name = renames.get(topic.name);
    return name === undefined ? topic : { ...topic, name, valueSubject: `${name}-value` };
  };
  return {
    confirmed: rename(topics.confirmed),
    rejected: rename(topics.rejected),
    cancelled: rename(topics.cancelled),
  };
}

/** A classifier of consumed records into sales events, for the given topics. */
export function salesEventReader(topics: SalesTopics): (record: ProjectionRecord) => SalesEvent | undefined {
  const types = new Map<string, SalesEvent['type']>([
    [topics.confirmed.name, 'OrderConfirmed'],
    [topics.rejected.name, 'OrderRejected'],
    [topics.cancelled.name, 'OrderCancelled'],
  ]);
  return (record) => {
    if (record.value === null) return undefined; // order topics carry no tombstones
    const type = types.get(record.topic);
    if (type === undefined) throw new Error(`the sales projection does not read topic ${record.topic}`);
    // A record without an event id (a foreign producer) still gets a stable identity: its position.
    const eventId = record.eventId || `${record.topic}:${record.partition}:${record.offset}`;
    return { type, eventId, value: record.value } as SalesEvent;
  };
}

/** DDL of the read model's tables inside `schema`. */
export function createSalesTables(schema: string): string {
  return `
    -- One row per order that had an order event: its sales state (libs/read-models/src/sales/fold.ts).
    CREATE TABLE ${schema}.${ORDER_SALES_TABLE} (
      order_id text PRIMARY KEY,
      confirmed_event_id text,
      confirmed_at timestamptz,
      currency text,
      -- [{sku, units, revenueCents}] of the confirmation, one per SKU, sorted by SKU.
      lines jsonb,
      cancelled boolean NOT NULL DEFAULT false,
      rejected boolean NOT NULL DEFAULT false
    );
    -- What counting orders (confirmed, not cancelled, not rejected) sold, per product, hour
    -- (of confirmation, UTC) and currency. A bucket that drops to nothing is deleted.
    CREATE TABLE ${schema}.${HOURLY_TABLE} (
      sku text NOT NULL,
      hour timestamptz NOT NULL,
      currency text NOT NULL,
      units bigint NOT NULL,
      revenue_cents bigint NOT NULL,
      orders integer NOT NULL,
      PRIMARY KEY (sku, hour, currency)
    );
    CREATE INDEX ${HOURLY_TABLE}_by_hour ON ${schema}.${HOURLY_TABLE} (hour);`;
}

interface OrderSalesRow {
  order_id: string;
  confirmed_event_id: string | null;
  confirmed_at: Date | null;
  currency: string | null;
  lines: Confirmation['lines'] | null;
  cancelled: boolean;
  rejected: boolean;
}

function fromRow(row: OrderSalesRow): OrderSales {
  const confirmation =
    row.confirmed_event_id === null ||
    row.confirmed_at === null ||
    row.currency === null ||
    row.lines === null
      ? null
      : {
          eventId: row.confirmed_event_id,
          at: row.confirmed_at.getTime(),
          currency: row.currency,
          lines: row.lines,
        };
  return { orderId: row.order_id, confirmation, cancelled: row.cancelled, rejected: row.rejected };
}

const ORDER_COLUMNS = 'order_id, confirmed_event_id, confirmed_at, currency, lines, cancelled, rejected';

/** `states` as one JSON document for {@link ORDER_ROWS} ($1): one serialisation, no per-element escaping. */
function orderRows(states: readonly OrderSales[]): string {
  return JSON.stringify(
    states.map((s) => ({
      order_id: s.orderId,
      confirmed_event_id: s.confirmation?.eventId ?? null,
      confirmed_at: s.confirmation ? new Date(s.confirmation.at).toISOString() : null,
      currency: s.confirmation?.currency ?? null,
      lines: s.confirmation?.lines ?? null,
      cancelled: s.cancelled,
      rejected: s.rejected,
    })),
  );
}

const ORDER_ROWS = `json_to_recordset($1::json) AS u(order_id text, confirmed_event_id text,
       confirmed_at timestamptz, currency text, lines jsonb, cancelled boolean, rejected boolean)`;

/**
 * Writes the states of orders new to the table and locks the rows of the others, in one
 * statement, in id order (`states` sorted by id): writers never deadlock, and a concurrent
 * transaction with an event of the same new order waits for this one, then finds its row.
 * Resolves the ids it inserted; the other orders' rows exist and are locked (unchanged).
 */
export async function insertOrLockOrderSales(
  client: PoolClient,
  schema: string,
  states: readonly OrderSales[],
): Promise<Set<string>> {
  const { rows } = await client.query<{ order_id: string }>(
    `INSERT INTO ${schema}.${ORDER_SALES_TABLE} AS o (${ORDER_COLUMNS})
     SELECT ${ORDER_COLUMNS} FROM ${ORDER_ROWS}
     ON CONFLICT (order_id) DO UPDATE SET order_id = o.order_id WHERE false
     RETURNING order_id`,
    [orderRows(states)],
  );
  return new Set(rows.map((row) => row.order_id));
}

/** Reads the states of orders whose rows this transaction holds locked. */
export async function readOrderSales(
  client: PoolClient,
  schema: string,
  orderIds: readonly string[],
): Promise<Map<string, OrderSales>> {
  const { rows } = await client.query<OrderSalesRow>(
    `SELECT ${ORDER_COLUMNS} FROM ${schema}.${ORDER_SALES_TABLE} WHERE order_id = ANY($1::text[])`,
    [orderIds],
  );
  return new Map(rows.map((row) => [row.order_id, fromRow(row)]));
}

/** Writes the given (locked) orders' states. */
export async function writeOrderSales(
  client: PoolClient,
  schema: string,
  states: readonly OrderSales[],
): Promise<void> {
  if (states.length === 0) return;
  await client.query(
    `UPDATE ${schema}.${ORDER_SALES_TABLE} AS o
     SET confirmed_event_id = u.confirmed_event_id, confirmed_at = u.confirmed_at, currency = u.currency,
         lines = u.lines, cancelled = u.cancelled, rejected = u.rejected
     FROM ${ORDER_ROWS}
     WHERE o.order_id = u.order_id`,
    [orderRows(states)],
  );
}

/**
 * Adds `deltas` (sorted by key: rows are locked in that order) to the hourly buckets, then
 * deletes the buckets that dropped to nothing, so the table holds the same rows whatever
 * batches the events came in.
 */
export async function addHourlySales(
  client: PoolClient,
  schema: string,
  deltas: readonly HourlySales[],
): Promise<void> {
  if (deltas.length === 0) return;
  // The upsert tells which buckets it emptied: only those are deleted, by key.
  const { rows: emptied } = await client.query<{ sku: string; hour: Date; currency: string }>(
    `WITH added AS (
       INSERT INTO ${schema}.${HOURLY_TABLE} AS h (sku, hour, currency, units, revenue_cents, orders)
       SELECT sku, hour, currency, units, revenue_cents, orders
       FROM json_to_recordset($1::json) AS d(sku text, hour timestamptz, currency text, units bigint,
         revenue_cents bigint, orders integer)
       ON CONFLICT (sku, hour, currency) DO UPDATE SET
         units = h.units + EXCLUDED.units,
         revenue_cents = h.revenue_cents + EXCLUDED.revenue_cents,
         orders = h.orders + EXCLUDED.orders
       RETURNING sku, hour, currency, units, revenue_cents, orders
     )
     SELECT sku, hour, currency FROM added WHERE units = 0 AND revenue_cents = 0 AND orders = 0`,
    [
      JSON.stringify(
        deltas.map((d) => ({
          sku: d.sku,
          hour: new Date(d.hour).toISOString(),
          currency: d.currency,
          units: d.units,
          revenue_cents: d.revenueCents,
          orders: d.orders,
        })),
      ),
    ],
  );
  if (emptied.length === 0) return;
  await client.query(
    `DELETE FROM ${schema}.${HOURLY_TABLE} AS h
     USING unnest($1::text[], $2::timestamptz[], $3::text[]) AS d(sku, hour, currency)
     WHERE h.sku = d.sku AND h.hour = d.hour AND h.currency = d.currency`,
    [emptied.map((e) => e.sku), emptied.map((e) => e.hour), emptied.map((e) => e.currency)],
  );
}

/**
 * Applies a batch in a few multi-row statements, whatever its size: writes the orders new to
 * the table and locks the others (in id order), reads and folds those, writes the ones that
 * changed, adds the bucket deltas (in key order). A redelivered or repeated event changes nothing.
 */
export async function applySalesBatch(
  client: PoolClient,
  batch: ProjectionBatch,
  schema: string,
  read: (record: ProjectionRecord) => SalesEvent | undefined,
): Promise<FeedChange[]> {
  const byOrder = new Map<string, SalesEvent[]>();
  for (const record of batch.records) {
    const event = read(record);
    if (event === undefined) continue;
    const events = byOrder.get(event.value.orderId);
    if (events === undefined) byOrder.set(event.value.orderId, [event]);
    else events.push(event);
  }
  if (byOrder.size === 0) return [];
  const ids = [...byOrder.keys()].sort();
  const fold = (id: string, from: OrderSales) => byOrder.get(id)!.reduce(evolveSales, from);
  // First as if every order were new: that is what a new order's row gets.
  const fresh = ids.map((id) => fold(id, emptyOrderSales(id)));
  const inserted = await insertOrLockOrderSales(client, schema, fresh);
  const deltas = new SalesDeltas();
  for (const state of fresh) if (inserted.has(state.orderId)) deltas.add(contribution(state), 1);
  const known = ids.filter((id) => !inserted.has(id));
  if (known.length > 0) {
    const stored = await readOrderSales(client, schema, known);
    const changed: OrderSales[] = [];
    for (const id of known) {
      const before = stored.get(id) ?? emptyOrderSales(id);
      const after = fold(id, before);
      if (after === before) continue;
      changed.push(after);
      deltas.change(before, after);
    }
    await writeOrderSales(client, schema, changed);
  }
  await addHourlySales(client, schema, deltas.entries());
  return [];
}

export interface SalesProjectionOptions {
  /** Default {@link SALES_PROJECTION}. */
  name?: string;
  /** Default {@link SALES_SCHEMA}. */
  schema?: string;
  /** Default the catalog's order topics. */
  topics?: SalesTopics;
}

export interface SalesProjectionDefinition extends ProjectionDefinition {
  salesTopics: SalesTopics;
  /** Reads a consumed record as a sales event (undefined for a tombstone). */
  readEvent(record: ProjectionRecord): SalesEvent | undefined;
}

/**
 * Sales per product per hour: what confirmed orders sold, in the hour of their confirmation;
 * a cancelled or rejected order counts for nothing, whatever order its events come in.
 */
export function salesProjection(options: SalesProjectionOptions = {}): SalesProjectionDefinition {
  const topics = options.topics ?? salesTopics;
  const readEvent = salesEventReader(topics);
  return {
    name: options.name ?? SALES_PROJECTION,
    schema: options.schema ?? SALES_SCHEMA,
    topics: [topics.confirmed, topics.rejected, topics.cancelled],
    salesTopics: topics,
    tables: [
      {
        name: ORDER_SALES_TABLE,
        key: ['order_id'],
        compared: [
          'order_id',
          'confirmed_event_id',
          'confirmed_at',
          'currency',
          'lines',
          'cancelled',
          'rejected',
        ],
      },
      {
        name: HOURLY_TABLE,
        key: ['sku', 'hour', 'currency'],
        compared: ['sku', 'hour', 'currency', 'units', 'revenue_cents', 'orders'],
      },
    ],
    createTables: createSalesTables,
    readEvent,
    apply: (client, batch, schema) => applySalesBatch(client, batch, schema, readEvent),
  };
}
