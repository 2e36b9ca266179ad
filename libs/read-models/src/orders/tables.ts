/** The schema of views the order projection's queries and live consumer use (versions: `order_projection_vN`). */
export const ORDER_SCHEMA = 'order_projection';

/** The order projection's tables, created in `schema` (a version's own schema). */
export function createOrderTables(schema: string): string {
  return `
      -- One row per order: the OrderView from libs/orders-domain (view) plus columns to query by.
      CREATE TABLE ${schema}.orders (
        order_id text PRIMARY KEY,
        customer_id text,
        status text NOT NULL,
        currency text,
        total_cents bigint,
        placed_at timestamptz,
        events integer NOT NULL,
        updated_at timestamptz NOT NULL,
        view jsonb NOT NULL
      );
      -- Order ids are UUIDv7: by id descending is newest first.
      CREATE INDEX orders_by_customer ON ${schema}.orders (customer_id, order_id DESC);
      CREATE TABLE ${schema}.customer_summaries (
        customer_id text PRIMARY KEY,
        pending integer NOT NULL DEFAULT 0,
        confirmed integer NOT NULL DEFAULT 0,
        cancelled integer NOT NULL DEFAULT 0,
        rejected integer NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE ${schema}.customer_spend (
        customer_id text NOT NULL,
        currency text NOT NULL,
        confirmed_cents bigint NOT NULL,
        PRIMARY KEY (customer_id, currency)
      );
      CREATE TABLE ${schema}.status_counts (
        status text PRIMARY KEY,
        orders bigint NOT NULL
      );`;
}
