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
  return { url: url.toString(), name, drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
