/**
 * Effects that happen once per event, however often Kafka delivers it: the handler claims
 * the event id in the same PostgreSQL transaction as its effect. A redelivery finds the
 * claim and skips; a rollback (or a crash before commit) removes the claim with the effect.
 *
 * Structural types keep this library free of a pg dependency: a `pg.PoolClient` and a
 * `pg.Pool` fit.
 */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
}

export interface SqlPool {
  connect(): Promise<SqlClient & { release(error?: Error | boolean): void }>;
}

export const PROCESSED_EVENTS_TABLE = 'tideline_processed_events';

/** Creates the claims table if it is missing (idempotent; services run it with their migrations). */
export async function ensureProcessedEventsTable(client: SqlClient): Promise<void> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${PROCESSED_EVENTS_TABLE} (
      consumer_group text NOT NULL,
      event_id text NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer_group, event_id)
    )`);
  await client.query(
    `CREATE INDEX IF NOT EXISTS ${PROCESSED_EVENTS_TABLE}_processed_at ON ${PROCESSED_EVENTS_TABLE} (processed_at)`,
  );
}

/**
 * Claims `eventId` for `groupId` inside the caller's open transaction. True: first time, do
 * the effect in this transaction. False: already done, skip it. A concurrent claim of the
 * same id waits on the row lock until the other transaction ends.
 */
export async function claimEvent(client: SqlClient, groupId: string, eventId: string): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO ${PROCESSED_EVENTS_TABLE} (consumer_group, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    [groupId, eventId],
  );
  return result.rowCount === 1;
}

/**
 * Runs `effect` in a transaction that also claims the event; skips it when the event was
 * already processed. Returns whether the effect ran.
 */
export async function processOnce(
  pool: SqlPool,
  groupId: string,
  eventId: string,
  effect: (client: SqlClient) => Promise<void>,
): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const first = await claimEvent(client, groupId, eventId);
    if (first) await effect(client);
    await client.query('COMMIT');
    client.release();
    return first;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}

/** Deletes claims older than `olderThanMs` (keep them longer than the topics' retention). */
export async function pruneProcessedEvents(client: SqlClient, olderThanMs: number): Promise<number> {
  const result = await client.query(
    `DELETE FROM ${PROCESSED_EVENTS_TABLE} WHERE processed_at < now() - make_interval(secs => $1)`,
    [olderThanMs / 1000],
  );
  return result.rowCount ?? 0;
}
