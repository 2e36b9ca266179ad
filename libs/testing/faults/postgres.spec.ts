import fs from 'node:fs';
import { Client } from 'pg';
import { startPrivatePostgres, type PrivatePostgres } from '../src/faults/postgres';

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('startPrivatePostgres', () => {
  let pg: PrivatePostgres | undefined;
  afterAll(() => pg?.stop());

  it('survives kill -9 with committed rows, restarts on the same port and removes its dir on stop', async () => {
    pg = await startPrivatePostgres();
    expect(pg.port).not.toBe(5432);
    await query(pg.url, 'CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)');

    await pg.kill9();
    await expect(query(pg.url, 'SELECT 1')).rejects.toThrow();

    await pg.restart();
    const rows = await query<{ count: string }>(pg.url, 'SELECT count(*) FROM t');
    expect(rows[0]?.count).toBe('2');

    const dir = pg.dataDir;
    await pg.stop();
    pg = undefined;
    expect(fs.existsSync(dir)).toBe(false);
  });
});
