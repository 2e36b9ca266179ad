import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

/** One schema change. Versions only grow; an applied migration is never edited (its checksum is kept). */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS_TABLE = 'tideline_schema_migrations';

export class MigrationError extends Error {
  readonly code = 'TDL_PROJ_MIGRATION_FAILED';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

const checksum = (sql: string): string => createHash('sha256').update(sql).digest('hex').slice(0, 16);

/**
 * Applies the migrations of `scope` that are not applied yet, in version order, each in its
 * own transaction with its bookkeeping row. An advisory lock makes concurrent starts of
 * several instances take turns. Refuses (changing nothing) when an applied migration's SQL
 * changed since, or when the database has a version this code does not know (a newer
 * release ran): both mean code and database disagree.
 */
export async function migrate(
  pool: Pool,
  scope: string,
  migrations: readonly Migration[],
): Promise<{ applied: Migration[]; current: number }> {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.version === sorted[i - 1]!.version)
      throw new MigrationError(`${scope}: two migrations have version ${sorted[i]!.version}`);
  }
  const client = await pool.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [`${MIGRATIONS_TABLE}:${scope}`]);
    try {
      return await migrateLocked(client, scope, sorted);
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`${MIGRATIONS_TABLE}:${scope}`]);
    }
  } finally {
    client.release();
  }
}

async function migrateLocked(
  client: PoolClient,
  scope: string,
  migrations: readonly Migration[],
): Promise<{ applied: Migration[]; current: number }> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
      scope text NOT NULL,
      version integer NOT NULL,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (scope, version)
    )`);
  const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
    `SELECT version, name, checksum FROM ${MIGRATIONS_TABLE} WHERE scope = $1 ORDER BY version`,
    [scope],
  );
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const row of rows) {
    const migration = known.get(row.version);
    if (migration === undefined)
      throw new MigrationError(
        `${scope}: the database has migration ${row.version} (${row.name}), which this release does not know; run the release that applied it`,
      );
    if (checksum(migration.sql) !== row.checksum)
      throw new MigrationError(
        `${scope}: migration ${row.version} (${row.name}) was changed after it was applied; add a new migration instead`,
      );
  }
  const done = new Set(rows.map((r) => r.version));
  const applied: Migration[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    await client.query('BEGIN');
    try {
      await client.query(migration.sql);
      await client.query(
        `INSERT INTO ${MIGRATIONS_TABLE} (scope, version, name, checksum) VALUES ($1, $2, $3, $4)`,
        [scope, migration.version, migration.name, checksum(migration.sql)],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new MigrationError(
        `${scope}: migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    applied.push(migration);
  }
  const current = Math.max(0, ...rows.map((r) => r.version), ...applied.map((m) => m.version));
  return { applied, current };
}
