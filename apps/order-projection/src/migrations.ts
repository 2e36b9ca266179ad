import type { Migration } from '@tideline/projections';

/** The PostgreSQL schema the read model lives in. */
export const SCHEMA = 'order_projection';

/**
 * The read model's versioned migrations (applied by `migrate` at start; never edit one that
 * shipped, add the next version).
 */
export const readModelMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'orders, customer summaries, status counts',
    sql: `
      CREATE SCHEMA IF NOT EXISTS ${SCHEMA};
      -- One row per order: the OrderView from libs/orders-domain (view) plus columns to query by.
      CREATE TABLE ${SCHEMA}.orders (
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
      CREATE INDEX orders_by_customer ON ${SCHEMA}.orders (customer_id, order_id DESC);
      CREATE TABLE ${SCHEMA}.customer_summaries (
        customer_id text PRIMARY KEY,
        pending integer NOT NULL DEFAULT 0,
        confirmed integer NOT NULL DEFAULT 0,
        cancelled integer NOT NULL DEFAULT 0,
        rejected integer NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE ${SCHEMA}.customer_spend (
        customer_id text NOT NULL,
        currency text NOT NULL,
        confirmed_cents bigint NOT NULL,
        PRIMARY KEY (customer_id, currency)
      );
      CREATE TABLE ${SCHEMA}.status_counts (
        status text PRIMARY KEY,
        orders bigint NOT NULL
      );`,
  },
];
