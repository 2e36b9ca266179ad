import { Client } from 'pg';
import { testInfra } from './infra';
import { uniqueName } from './names';

export interface TestDatabase {
  /** DATABASE_URL of the new, empty database. */
  url: string;
  name: string;
  /** Drops it (ending its connections first). */
  drop(): Promise<void>;
}

/**
 * Creates an empty database on the test PostgreSQL server, for a test that needs a whole
 * schema of its own (a service's migrations, a read model) without meeting other tests' rows.
 */
export async function createTestDatabase(prefix = 'tdl_test'): Promise<TestDatabase> {
  const base = new URL(testInfra().databaseUrl);
  const name = uniqueName(prefix)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 63);
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const run = async (sql: string) => {
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const drop = async () => {
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await dropDatabase(client, name);
    } finally {
      await client.end();
    }
  };
  return { url: url.toString(), name, drop };
}

/**
 * Drops a test database once its sessions have ended, and ends those still there after
 * `graceMs` (WITH FORCE). A pool's `end()` resolves before the server has seen its connections
 * close: forcing at once would send them a FATAL 57P01 that their pool, already closed, reports
 * as an unhandled error in the test process.
 */
export async function dropDatabase(client: Client, name: string, graceMs = 5_000): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const { rows } = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    if (rows[0]!.n === '0' || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}
