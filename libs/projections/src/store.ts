import type { ProjectionBatch, ProjectionStore } from '@tideline/messaging';
import type { Pool, PoolClient } from 'pg';
import { migrate, type Migration } from './migrations';

export const OFFSETS_TABLE = 'tideline_projection_offsets';
export const FEED_TABLE = 'tideline_change_feed';
export const FEED_HEADS_TABLE = 'tideline_change_feed_heads';
/** The PostgreSQL NOTIFY channel; the payload is the projection's name. */
export const FEED_CHANNEL = 'tideline_change_feed';
export const VERSIONS_TABLE = 'tideline_projection_versions';
export const ORIGINS_TABLE = 'tideline_projection_origins';

/** The runtime's own tables, shared by every projection (rows are per projection). */
export const runtimeMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'offsets and change feed',
    sql: `
      CREATE TABLE ${OFFSETS_TABLE} (
        projection text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        next_offset bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (projection, topic, partition)
      );
      CREATE TABLE ${FEED_HEADS_TABLE} (
        projection text PRIMARY KEY,
        seq bigint NOT NULL
      );
      CREATE TABLE ${FEED_TABLE} (
        projection text NOT NULL,
        seq bigint NOT NULL,
        keys text[] NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (projection, seq)
      );
      CREATE INDEX ${FEED_TABLE}_keys ON ${FEED_TABLE} USING gin (keys);
      CREATE INDEX ${FEED_TABLE}_created_at ON ${FEED_TABLE} (created_at);`,
  },
  {
    version: 2,
    name: 'versioned projection tables',
    sql: `
      -- Which version of a projection's tables its view schema points at (see layout.ts).
      CREATE TABLE ${VERSIONS_TABLE} (
        projection text PRIMARY KEY,
        view_schema text NOT NULL,
        live_version integer NOT NULL,
        -- md5 of the DDL the live version was created with: code whose tables differ needs a rebuild.
        ddl_md5 text NOT NULL,
        switched_at timestamptz NOT NULL DEFAULT now(),
        -- A rebuild in progress (its version), or null.
        rebuilding_version integer,
        rebuild_started_at timestamptz
      );`,
  },
  {
    version: 3,
    name: 'projection origins',
    sql: `
      -- Where a projection was started other than at the earliest offset (setPositions): a
      -- rebuild starts there too, so it recomputes what the live version holds.
      CREATE TABLE ${ORIGINS_TABLE} (
        projection text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        start_offset bigint NOT NULL,
        PRIMARY KEY (projection, topic, partition)
      );`,
  },
];

/** Creates or upgrades the runtime's tables. */
export async function migrateRuntime(pool: Pool): Promise<void> {
  await migrate(pool, 'tideline-projections', runtimeMigrations);
}

/** A change for the feed: who follows it (`keys`, e.g. `order:<id>`) and what they receive. */
export interface FeedChange {
  keys: string[];
  payload: unknown;
}

/**
 * A projection's own effect of a batch, run inside the batch's transaction: writes the read
 * model and returns the changes to publish on the feed (in order).
 */
export type ApplyRecords = (client: PoolClient, batch: ProjectionBatch) => Promise<FeedChange[]>;

export interface StoredPosition {
  topic: string;
  partition: number;
  nextOffset: string;
  updatedAt: Date;
}

// SQLSTATE classes and codes that say "try again", not "this record is bad": connection
// failures, resources, shutdowns, serialization and deadlock, lock_timeout (55P03), a statement
// cancelled by statement_timeout or an operator (57014), a session ended by
// idle_in_transaction_session_timeout (25P03) or idle_session_timeout (57P05).
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-35]|57014|25P03|40001|40P01|55P03|58)/;
const TRANSIENT_NODE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Whether a pg (or socket) error means the database is unavailable or the transaction lost a race. */
export function isTransientPgError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_NODE.has(code))) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout/i.test(
      message,
    )
  );
}

export interface ProjectionStoreOptions {
  /**
   * Whether applied changes go to the change feed (default). A rebuild's store sets false:
   * it writes a version's tables on the side, nobody streams them, and it takes no switch lock.
   */
  feed?: boolean;
}

/** SQL for the key of a projection's switch lock (parameter $1: the projection's name). */
export const SWITCH_LOCK_KEY_SQL = `hashtext('tideline-projection-switch:' || $1::text)`;

/**
 * The projection store on PostgreSQL: a batch's read-model writes, its new position and its
 * change-feed entries commit together or not at all. The position is moved with a
 * compare-and-set, so an instance that lost its partition (a zombie after a long pause)
 * cannot apply a batch a second time.
 *
 * Feed sequence numbers come from a per-projection counter row updated in the batch's
 * transaction: its row lock makes them increase in commit order, so a reader that has seen
 * `n` has seen everything below `n` (resuming from an id never skips a change).
 */
export class PostgresProjectionStore implements ProjectionStore {
  constructor(
    private readonly pool: Pool,
    readonly projection: string,
    private readonly applyRecords: ApplyRecords,
    private readonly options: ProjectionStoreOptions = {},
  ) {}

  async position(topic: string, partition: number): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ next_offset: string }>(
      `SELECT next_offset FROM ${OFFSETS_TABLE} WHERE projection = $1 AND topic = $2 AND partition = $3`,
      [this.projection, topic, partition],
    );
    return rows[0]?.next_offset;
  }

  async positions(): Promise<StoredPosition[]> {
    const { rows } = await this.pool.query<{
      topic: string;
      partition: number;
      next_offset: string;
      updated_at: Date;
    }>(
      `SELECT topic, partition, next_offset, updated_at FROM ${OFFSETS_TABLE} WHERE projection = $1 ORDER BY topic, partition`,
      [this.projection],
    );
    return rows.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      nextOffset: r.next_offset,
      updatedAt: r.updated_at,
    }));
  }

  async apply(batch: ProjectionBatch): Promise<boolean> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // The server may end the session between two statements (idle_in_transaction_session_timeout
    // after a stall): pg emits that as an 'error' event, which would crash the process unheard.
    const lost = (error: Error) => (broken ??= error);
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      // First: it locks the position row, so two writers of one partition take turns. Before
      // that it takes the projection's switch lock shared: a rebuild's switch (which takes it
      // exclusively) waits for batches in flight and holds new ones back while it swaps tables.
      const moved = await client.query(
        `INSERT INTO ${OFFSETS_TABLE} AS o (projection, topic, partition, next_offset)
         SELECT $1::text, $2::text, $3::int, $5::bigint
         FROM (SELECT ${this.options.feed === false ? '1' : `pg_advisory_xact_lock_shared(${SWITCH_LOCK_KEY_SQL})`}) AS switch_lock
         ON CONFLICT (projection, topic, partition)
         DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
         WHERE o.next_offset = $4`,
        [this.projection, batch.topic, batch.partition, batch.from, batch.to],
      );
      if (moved.rowCount !== 1) {
        await client.query('ROLLBACK');
        return false;
      }
      const changes = batch.records.length > 0 ? await this.applyRecords(client, batch) : [];
      if (changes.length > 0 && this.options.feed !== false) await this.appendToFeed(client, changes);
      await client.query('COMMIT');
      return true;
    } catch (error) {
      broken = error as Error;
      // A transient failure may have lost the connection: a ROLLBACK would wait for the query
      // timeout again. Dropping the connection ends the transaction on the server (when the
      // server cannot see it go, idle_in_transaction_session_timeout does).
      if (!isTransientPgError(error)) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.removeListener('error', lost);
      // A connection that failed mid-transaction is not reused.
      client.release(broken !== undefined && isTransientPgError(broken) ? broken : undefined);
    }
  }

  isTransient(error: unknown): boolean {
    return isTransientPgError(error);
  }

  private async appendToFeed(client: PoolClient, changes: readonly FeedChange[]): Promise<void> {
    const { rows } = await client.query<{ seq: string }>(
      `INSERT INTO ${FEED_HEADS_TABLE} AS h (projection, seq) VALUES ($1, $2)
       ON CONFLICT (projection) DO UPDATE SET seq = h.seq + EXCLUDED.seq
       RETURNING seq`,
      [this.projection, changes.length],
    );
    const last = Number(rows[0]!.seq);
    const first = last - changes.length + 1;
    await client.query(
      `INSERT INTO ${FEED_TABLE} (projection, seq, keys, payload)
       SELECT $1, first + ord - 1, ARRAY(SELECT jsonb_array_elements_text(change->'keys')), change->'payload'
       FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS c(change, ord), (SELECT $2::bigint AS first) f`,
      [this.projection, first, JSON.stringify(changes)],
    );
    await client.query(`SELECT pg_notify($1, $2)`, [FEED_CHANNEL, this.projection]);
  }
}

/**
 * Sets a projection's stored positions (creating the runtime tables if needed): where it
 * continues when it next starts. For operators and tests that start a new projection at
 * the end of the log instead of replaying it. Stop the projection first. They are also kept
 * as the projection's origin: a rebuild starts from there instead of the earliest offset.
 */
export async function setPositions(
  pool: Pool,
  projection: string,
  positions: readonly { topic: string; partition: number; offset: string }[],
): Promise<void> {
  await migrateRuntime(pool);
  await pool.query(
    `WITH p AS (
       SELECT p->>'topic' AS topic, (p->>'partition')::int AS partition, (p->>'offset')::bigint AS offset_
       FROM jsonb_array_elements($2::jsonb) AS p
     ), origins AS (
       INSERT INTO ${ORIGINS_TABLE} AS o (projection, topic, partition, start_offset)
       SELECT $1, topic, partition, offset_ FROM p
       ON CONFLICT (projection, topic, partition) DO UPDATE SET start_offset = EXCLUDED.start_offset
     )
     INSERT INTO ${OFFSETS_TABLE} AS o (projection, topic, partition, next_offset)
     SELECT $1, topic, partition, offset_ FROM p
     ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
    [projection, JSON.stringify(positions)],
  );
}
