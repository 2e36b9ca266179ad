import type { TopicDescriptor } from '@tideline/contracts';
import type { ProjectionBatch } from '@tideline/messaging';
import type { PoolClient } from 'pg';
import type { FeedChange } from './store';

/** One read-model table, as a rebuild copies, compares and retires it. */
export interface ProjectionTable {
  /** The table's name (unqualified). */
  name: string;
  /** Its primary-key columns: the order rows are compared in. */
  key: readonly string[];
  /**
   * The columns whose content a rebuild compares between the live and the rebuilt version:
   * everything that follows from the events alone (leave out wall-clock columns such as
   * `updated_at = now()`).
   */
  compared: readonly string[];
}

/**
 * Everything the runtime and the `tideline projection` commands need to know of a projection.
 *
 * Tables are versioned: version N lives in the PostgreSQL schema `<schema>_v<N>`, and the
 * schema `<schema>` holds one plain view per table (`SELECT * FROM <schema>_v<N>.<table>`).
 * Queries and the live consumer use `<schema>` (PostgreSQL writes through such views), so a
 * rebuild can fill `<schema>_v<N+1>` on the side and switch every reader and writer at once by
 * replacing the views in one transaction.
 */
export interface ProjectionDefinition {
  /** The projection's name: its default consumer group, and the key of its positions and change feed. */
  name: string;
  /** The stable schema of views (e.g. `order_projection`); versions live in `<schema>_v<N>`. */
  schema: string;
  /** The topics it reads. */
  topics: readonly TopicDescriptor<unknown>[];
  /** Its tables, in the order they are created. */
  tables: readonly ProjectionTable[];
  /** DDL creating every table (and index) inside `schema`; `schema` exists already. */
  createTables(schema: string): string;
  /**
   * Applies a batch inside the store's transaction to the tables in `schema` (the view
   * schema when live, a version's own schema during a rebuild) and returns the changes for
   * the change feed (ignored during a rebuild). Must be batched: a few multi-row statements
   * per batch, never one statement per record.
   */
  apply(client: PoolClient, batch: ProjectionBatch, schema: string): Promise<FeedChange[]>;
}
