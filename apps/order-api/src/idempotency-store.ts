import type { Logger } from '@tideline/messaging';
import pg from 'pg';
import {
  IdempotencyStoreError,
  type CommandIntent,
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
   * claim whose process died is taken over (with its intent) by a retry.
   */
  leaseMs: number;
  logger: Logger;
}

interface KeyRow {
  request_hash: string;
  status: number | null;
  body: unknown;
}

interface ClaimedRow {
  token: string;
  intent: CommandIntent;
  attempts: number;
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

  async claim(scope: string, key: string, requestHash: string, intent: CommandIntent): Promise<ClaimResult> {
    await this.init();
    this.purgeNowAndThen();
    // An expired row (a stale response, an abandoned claim) is claimed afresh in place. A row
    // whose outcome is unknown (uncertain, or pending past its lease: the holder died) is taken
    // over by the same request WITH its intent, so the retry publishes the same event.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const claimed = await this.query<ClaimedRow>(
        'claim an idempotency key',
        `INSERT INTO ${IDEMPOTENCY_TABLE} AS k
           (key, scope, request_hash, state, intent, attempts, status, body, created_at, lease_until, expires_at)
         VALUES ($1, $2, $3, 'pending', $4::jsonb, 1, NULL, NULL, clock_timestamp(),
                 clock_timestamp() + $5 * interval '1 millisecond',
                 clock_timestamp() + $6 * interval '1 millisecond')
         ON CONFLICT (scope, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, state = 'pending', status = NULL, body = NULL,
               intent = CASE WHEN k.expires_at <= clock_timestamp() THEN EXCLUDED.intent ELSE k.intent END,
               attempts = CASE WHEN k.expires_at <= clock_timestamp() THEN 1 ELSE k.attempts + 1 END,
               expires_at = GREATEST(k.expires_at, EXCLUDED.expires_at),
               created_at = EXCLUDED.created_at, lease_until = EXCLUDED.lease_until
           WHERE k.expires_at <= clock_timestamp()
              OR (k.status IS NULL AND k.intent IS NOT NULL AND k.request_hash = EXCLUDED.request_hash
                  AND k.lease_until <= clock_timestamp())
         RETURNING created_at::text AS token, intent, attempts`,
        [key, scope, requestHash, JSON.stringify(intent), this.options.leaseMs, this.options.ttlMs],
      );
      const row = claimed.rows[0];
      if (row !== undefined)
        return {
          kind: 'claimed',
          ticket: { scope, key, token: row.token, eventId: row.intent.eventId },
          intent: row.intent,
          resumed: row.attempts > 1,
        };

      const existing = await this.query<KeyRow>(
        'read an idempotency key',
        `SELECT request_hash, status, body FROM ${IDEMPOTENCY_TABLE}
         WHERE scope = $1 AND key = $2 AND expires_at > clock_timestamp()`,
        [scope, key],
      );
      const current = existing.rows[0];
      if (current === undefined) continue; // released or expired in between: claim again
      if (current.request_hash !== requestHash) return { kind: 'mismatch' };
      if (current.status === null) return { kind: 'in-flight' };
      return { kind: 'replay', response: { status: current.status, body: current.body } };
    }
    throw new IdempotencyStoreError(`idempotency key ${key} keeps changing hands; retry`);
  }

  async complete(ticket: ClaimTicket, response: StoredResponse): Promise<void> {
    // By event id, not by attempt: a late acknowledgement of an earlier attempt completes the key too.
    await this.query(
      'store a response',
      `UPDATE ${IDEMPOTENCY_TABLE}
       SET state = 'completed', status = $4, body = $5::jsonb, lease_until = NULL,
           expires_at = clock_timestamp() + $6 * interval '1 millisecond'
       WHERE scope = $1 AND key = $2 AND intent->>'eventId' = $3 AND status IS NULL`,
      [
        ticket.scope,
        ticket.key,
        ticket.eventId,
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
       WHERE scope = $1 AND key = $2 AND created_at = $3::timestamptz AND state = 'pending' AND status IS NULL`,
      [ticket.scope, ticket.key, ticket.token],
    );
  }

  async markUncertain(ticket: ClaimTicket): Promise<void> {
    await this.query(
      'mark an idempotency key uncertain',
      `UPDATE ${IDEMPOTENCY_TABLE} SET state = 'uncertain', lease_until = clock_timestamp()
       WHERE scope = $1 AND key = $2 AND created_at = $3::timestamptz AND state = 'pending' AND status IS NULL`,
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
      // Since intents: a key keeps the ids of its event, and whether its outcome is known.
      // Rows from before hold no intent and behave as they did (claimed afresh once expired).
      await client.query(`
        ALTER TABLE ${IDEMPOTENCY_TABLE}
          ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'pending',
          ADD COLUMN IF NOT EXISTS intent jsonb,
          ADD COLUMN IF NOT EXISTS attempts int NOT NULL DEFAULT 1,
          ADD COLUMN IF NOT EXISTS lease_until timestamptz`);
      await client.query(
        `UPDATE ${IDEMPOTENCY_TABLE} SET state = 'completed' WHERE status IS NOT NULL AND state <> 'completed'`,
      );
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
