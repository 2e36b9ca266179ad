import type { Logger } from '@tideline/messaging';
import pg from 'pg';
import {
  IdempotencyStoreError,
  type ClaimResult,
  type ClaimTicket,
  type IdempotencyStore,
  type StoredResponse,
} from './idempotency';

export const IDEMPOTENCY_TABLE = 'order_api_idempotency_keys';

const PURGE_EVERY_MS = 60_000;
const PURGE_BATCH = 1000;

export interface PgIdempotencyStoreOptions {
  pool: pg.Pool;
  /** How long a completed key replays its response. */
  ttlMs: number;
  /**
   * How long an in-flight claim holds its key. Longer than any request can take; after it a
   * claim whose process died is taken over instead of blocking the key until it expires.
   */
  leaseMs: number;
  logger: Logger;
}

interface KeyRow {
  request_hash: string;
  status: number | null;
  body: unknown;
}

/** Idempotency keys in PostgreSQL; one row per (scope, key). */
export class PgIdempotencyStore implements IdempotencyStore {
  private readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;
  private lastPurge = 0;

  constructor(private readonly options: PgIdempotencyStoreOptions) {
    this.pool = options.pool;
  }

  /** Creates the table when it is missing; retried on the next call after a failure. */
  init(): Promise<void> {
    this.ready ??= this.createTable().catch((error: unknown) => {
      this.ready = undefined;
      throw this.unavailable('create the idempotency table', error);
    });
    return this.ready;
  }

  /** Readiness: the table exists and PostgreSQL answers. */
  async ping(): Promise<void> {
    await this.init();
    await this.query('answer a ping', 'SELECT 1');
  }

  async claim(scope: string, key: string, requestHash: string): Promise<ClaimResult> {
    await this.init();
    this.purgeNowAndThen();
    // A row that expired (a stale response or an abandoned claim) is taken over in place.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const claimed = await this.query<{ token: string }>(
        'claim an idempotency key',
        `INSERT INTO ${IDEMPOTENCY_TABLE} AS k (key, scope, request_hash, status, body, created_at, expires_at)
         VALUES ($1, $2, $3, NULL, NULL, clock_timestamp(), clock_timestamp() + $4 * interval '1 millisecond')
         ON CONFLICT (scope, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, status = NULL, body = NULL,
               created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
           WHERE k.expires_at <= clock_timestamp()
         RETURNING created_at::text AS token`,
        [key, scope, requestHash, this.options.leaseMs],
      );
      const token = claimed.rows[0]?.token;
      if (token !== undefined) return { kind: 'claimed', ticket: { scope, key, token } };

      const existing = await this.query<KeyRow>(
        'read an idempotency key',
        `SELECT request_hash, status, body FROM ${IDEMPOTENCY_TABLE}
         WHERE scope = $1 AND key = $2 AND expires_at > clock_timestamp()`,
        [scope, key],
      );
      const row = existing.rows[0];
      if (row === undefined) continue; // released or expired in between: claim again
      if (row.request_hash !== requestHash) return { kind: 'mismatch' };
      if (row.status === null) return { kind: 'in-flight' };
      return { kind: 'replay', response: { status: row.status, body: row.body } };
    }
    throw new IdempotencyStoreError(`idempotency key ${key} keeps changing hands; retry`);
  }

  async complete(ticket: ClaimTicket, response: StoredResponse): Promise<void> {
    await this.query(
      'store a response',
      `UPDATE ${IDEMPOTENCY_TABLE}
       SET status = $4, body = $5::jsonb, expires_at = clock_timestamp() + $6 * interval '1 millisecond'
       WHERE scope = $1 AND key = $2 AND created_at = $3::timestamptz AND status IS NULL`,
      [
        ticket.scope,
        ticket.key,
        ticket.token,
        response.status,
        JSON.stringify(response.body),
        this.options.ttlMs,
      ],
    );
  }

  async release(ticket: ClaimTicket): Promise<void> {
    await this.query(
      'release an idempotency key',
      `DELETE FROM ${IDEMPOTENCY_TABLE}
       WHERE scope = $1 AND key = $2 AND created_at = $3::timestamptz AND status IS NULL`,
      [ticket.scope, ticket.key, ticket.token],
    );
  }

  /** Deletes up to one batch of expired keys; returns how many. */
  async purgeExpired(): Promise<number> {
    const result = await this.query(
      'purge expired keys',
      `DELETE FROM ${IDEMPOTENCY_TABLE} WHERE ctid IN (
         SELECT ctid FROM ${IDEMPOTENCY_TABLE} WHERE expires_at <= clock_timestamp() LIMIT ${PURGE_BATCH})`,
    );
    return result.rowCount ?? 0;
  }

  private purgeNowAndThen(): void {
    const now = Date.now();
    if (now - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now;
    this.purgeExpired().then(
      (purged) => {
        if (purged > 0) this.options.logger.debug({ purged }, 'purged expired idempotency keys');
      },
      (error: unknown) =>
        this.options.logger.warn({ err: error }, 'could not purge expired idempotency keys'),
    );
  }

  private async createTable(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Instances starting together would race on CREATE TABLE IF NOT EXISTS; one at a time.
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('${IDEMPOTENCY_TABLE}'))`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${IDEMPOTENCY_TABLE} (
          key text NOT NULL,
          scope text NOT NULL,
          request_hash text NOT NULL,
          status int,
          body jsonb,
          created_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          PRIMARY KEY (scope, key)
        )`);
      await client.query(
        `CREATE INDEX IF NOT EXISTS ${IDEMPOTENCY_TABLE}_expires_at ON ${IDEMPOTENCY_TABLE} (expires_at)`,
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async query<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    action: string,
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<Row>> {
    try {
      return await this.pool.query<Row>(text, values);
    } catch (error) {
      throw this.unavailable(action, error);
    }
  }

  private unavailable(action: string, error: unknown): IdempotencyStoreError {
    return new IdempotencyStoreError(
      `PostgreSQL could not ${action}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** A pool for the store: bounded waits, so a dead database fails requests fast instead of hanging them. */
export function createIdempotencyPool(databaseUrl: string, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 3000,
    statement_timeout: 5000,
    application_name: 'order-api',
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection failed'));
  return pool;
}
