import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { ProjectionDefinition } from './definition';
import { migrateRuntime, VERSIONS_TABLE } from './store';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,50}$/;

/** The schema holding version `version` of a projection's tables. */
export function versionSchema(definition: ProjectionDefinition, version: number): string {
  return `${definition.schema}_v${version}`;
}

/** A fingerprint of the tables the code creates (compared with what the live version was created with). */
export function ddlFingerprint(definition: ProjectionDefinition): string {
  return createHash('md5').update(definition.createTables('__schema__')).digest('hex');
}

function checkDefinition(definition: ProjectionDefinition): void {
  const bad = [definition.schema, ...definition.tables.map((t) => t.name)].filter(
    (name) => !IDENTIFIER.test(name),
  );
  if (bad.length > 0)
    throw new Error(`projection ${definition.name}: not a plain lower-case identifier: ${bad.join(', ')}`);
}

export interface LiveVersion {
  /** The version the views point at. */
  version: number;
  /** Its schema (`<schema>_v<version>`). */
  schema: string;
  /** Whether the live tables were created by the DDL this code has (else: rebuild to change them). */
  ddlMatches: boolean;
  switchedAt: Date;
  /** The version a rebuild is building, or null. */
  rebuildingVersion: number | null;
  rebuildStartedAt: Date | null;
}

interface VersionRow {
  live_version: number;
  ddl_md5: string;
  switched_at: Date;
  rebuilding_version: number | null;
  rebuild_started_at: Date | null;
}

function toLiveVersion(definition: ProjectionDefinition, row: VersionRow): LiveVersion {
  return {
    version: row.live_version,
    schema: versionSchema(definition, row.live_version),
    ddlMatches: row.ddl_md5 === ddlFingerprint(definition),
    switchedAt: row.switched_at,
    rebuildingVersion: row.rebuilding_version,
    rebuildStartedAt: row.rebuild_started_at,
  };
}

/** The live version of a projection's tables, or undefined when it never started. */
export async function liveVersion(
  db: Pool | PoolClient,
  definition: ProjectionDefinition,
): Promise<LiveVersion | undefined> {
  const { rows } = await db.query<VersionRow>(
    `SELECT live_version, ddl_md5, switched_at, rebuilding_version, rebuild_started_at
     FROM ${VERSIONS_TABLE} WHERE projection = $1`,
    [definition.name],
  );
  return rows[0] === undefined ? undefined : toLiveVersion(definition, rows[0]);
}

/** Points the view schema's views at `version`'s tables (run inside a transaction: readers see old or new, never a mix). */
export async function pointViewsAt(
  client: PoolClient,
  definition: ProjectionDefinition,
  version: number,
): Promise<void> {
  const target = versionSchema(definition, version);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${definition.schema}`);
  for (const table of definition.tables) {
    // DROP + CREATE rather than CREATE OR REPLACE: a new version may have other columns.
    await client.query(`DROP VIEW IF EXISTS ${definition.schema}.${table.name}`);
    await client.query(
      `CREATE VIEW ${definition.schema}.${table.name} AS SELECT * FROM ${target}.${table.name}`,
    );
  }
}

/**
 * Makes sure a projection's tables exist, versioned (see ProjectionDefinition): on first start
 * it creates `<schema>_v1` and the views in `<schema>`. Tables a release before versioning made
 * directly in `<schema>` are moved into `<schema>_v1` as they are. Safe to run from every
 * instance at once (an advisory lock serialises them). Returns the live version.
 */
export async function ensureProjectionLayout(
  pool: Pool,
  definition: ProjectionDefinition,
): Promise<LiveVersion> {
  checkDefinition(definition);
  await migrateRuntime(pool);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('tideline-layout:' || $1::text))`, [
      definition.name,
    ]);
    const existing = await liveVersion(client, definition);
    if (existing !== undefined) {
      await client.query('COMMIT');
      return existing;
    }
    const names = definition.tables.map((t) => t.name);
    const { rows: legacy } = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
       WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name = ANY($2::text[])`,
      [definition.schema, names],
    );
    const first = versionSchema(definition, 1);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${first}`);
    if (legacy.length === names.length) {
      for (const name of names)
        await client.query(`ALTER TABLE ${definition.schema}.${name} SET SCHEMA ${first}`);
    } else if (legacy.length > 0) {
      throw new Error(
        `projection ${definition.name}: schema ${definition.schema} holds some of its tables (${legacy
          .map((r) => r.table_name)
          .join(', ')}) but not all; move or drop them`,
      );
    } else {
      await client.query(definition.createTables(first));
    }
    await pointViewsAt(client, definition, 1);
    const { rows } = await client.query<VersionRow>(
      `INSERT INTO ${VERSIONS_TABLE} (projection, view_schema, live_version, ddl_md5)
       VALUES ($1, $2, 1, $3)
       RETURNING live_version, ddl_md5, switched_at, rebuilding_version, rebuild_started_at`,
      [definition.name, definition.schema, ddlFingerprint(definition)],
    );
    await client.query('COMMIT');
    return toLiveVersion(definition, rows[0]!);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
