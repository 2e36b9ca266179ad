// `tideline projection status|rebuild` as a real child process: what an operator sees when
// something is wrong, and that nothing changes then. (A full rebuild under traffic is
// apps/order-projection/e2e/rebuild.spec.ts.)
import { createKafka, ensureTopics } from '@tideline/messaging';
import { orderProjection } from '@tideline/read-models';
import { ensureProjectionLayout } from '@tideline/projections';
import { createTestDatabase, testInfra, uniqueName, type TestDatabase } from '@tideline/testing';
import { Pool } from 'pg';
import { expectOneLineError, tl } from './support';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase('ops_projection');
  // The projection's topics (status reads their ends); on a fresh stack no other test may have made them yet.
  const infra = testInfra();
  const admin = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('ops-projection') }).admin();
  await admin.connect();
  try {
    await ensureTopics(admin, orderProjection.topics, { replication: infra.topicReplication });
  } finally {
    await admin.disconnect();
  }
});
afterAll(() => database?.drop());

const tables = async () => {
  const pool = new Pool({ connectionString: database.url, max: 1 });
  try {
    const { rows } = await pool.query<{ name: string }>(
      `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
       WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  } finally {
    await pool.end();
  }
};

it('refuses bad input with one line and a non-zero exit, changing nothing', async () => {
  const env = { DATABASE_URL: database.url };
  expectOneLineError(await tl(['projection', 'status'], env), /name the projection/, 2);
  expectOneLineError(
    await tl(['projection', 'rebuild', 'nope'], env),
    /unknown projection "nope"; known: order-projection/,
    2,
  );
  expectOneLineError(
    await tl(['projection', 'status', 'order-projection', 'extra'], env),
    /unknown command/,
    2,
  );
  expectOneLineError(
    await tl(['projection', 'status', 'order-projection', '--topic', 't'], env),
    /does not take --topic/,
    2,
  );
  // Never ran against this database: said so, and no table is created by asking.
  expectOneLineError(
    await tl(['projection', 'status', 'order-projection'], env),
    /has no tables .*has it ever run/,
  );
  expectOneLineError(
    await tl(['projection', 'rebuild', 'order-projection', '--execute'], env),
    /has no tables/,
  );
  expect(await tables()).toEqual([]);
  expectOneLineError(
    await tl(['projection', 'status', 'order-projection'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere',
    }),
    /cannot reach PostgreSQL at DATABASE_URL/,
  );
});

it('shows the live version and plans a rebuild without changing anything', async () => {
  const pool = new Pool({ connectionString: database.url, max: 2 });
  try {
    await ensureProjectionLayout(pool, orderProjection);
    const before = await tables();
    const status = await tl(['projection', 'status', 'order-projection', '--json'], {
      DATABASE_URL: database.url,
    });
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      projection: 'order-projection',
      live: { version: 1, schema: 'order_projection_v1', ddlMatches: true, rebuildingVersion: null },
      tables: [
        { table: 'orders', rows: 0 },
        { table: 'customer_summaries', rows: 0 },
        { table: 'customer_spend', rows: 0 },
        { table: 'status_counts', rows: 0 },
      ],
    });
    const plan = await tl(['projection', 'rebuild', 'order-projection'], { DATABASE_URL: database.url });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/would rebuild order-projection: version 1 → 2/);
    expect(plan.stdout).toMatch(/dry run: nothing changed/);
    expect(await tables()).toEqual(before);
  } finally {
    await pool.end();
  }
});
