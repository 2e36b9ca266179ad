// The projection pool's timeouts against the real PostgreSQL: the server runs every session
// with them, and a batch whose client stops talking mid-transaction releases the partition's
// position row within the idle-in-transaction timeout, so the partition's next owner goes on.
import type { ProjectionBatch } from '@tideline/messaging';
import { eventually, testInfra, uniqueName } from '@tideline/testing';
import { Pool } from 'pg';
import { createDatabasePool, type DatabaseSettings } from './pool';
import { migrateRuntime, OFFSETS_TABLE, PostgresProjectionStore } from './store';

const settings = (name: string, overrides: Partial<DatabaseSettings> = {}): DatabaseSettings => ({
  DATABASE_URL: testInfra().databaseUrl,
  DATABASE_APPLICATION_NAME: name,
  DATABASE_CONNECT_TIMEOUT_MS: 5_000,
  DATABASE_QUERY_TIMEOUT_MS: 6_000,
  DATABASE_STATEMENT_TIMEOUT_MS: 5_000,
  DATABASE_LOCK_TIMEOUT_MS: 1_000,
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 2_000,
  DATABASE_KEEPALIVE_INITIAL_DELAY_MS: 10_000,
  DATABASE_TCP_USER_TIMEOUT_MS: 10_000,
  ...overrides,
});

const direct = new Pool({ connectionString: testInfra().databaseUrl, max: 2 });
const pools: Pool[] = [];
const poolFor = (s: DatabaseSettings) => {
  const pool = createDatabasePool(s, { max: 3 });
  pools.push(pool);
  return pool;
};

/** A batch of `to - from` records (their content does not matter to these stores). */
const batch = (from: number, to: number): ProjectionBatch => ({
  topic: 't',
  partition: 0,
  from: String(from),
  to: String(to),
  records: Array.from({ length: to - from }, (_, i) => ({
    eventId: `event-${from + i}`,
    eventType: 'Test',
    correlationId: 'c',
    causationId: undefined,
    producer: 'test',
    producedAt: '',
    traceparent: undefined,
    topic: 't',
    partition: 0,
    offset: String(from + i),
    timestamp: 0,
    key: 'k',
    value: {},
    headers: {},
  })),
});

/** Backends of an application name holding a lock on the positions table (checked from another connection). */
const positionLocks = async (applicationName: string) =>
  (
    await direct.query<{ pid: number }>(
      `SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.relation = '${OFFSETS_TABLE}'::regclass AND a.application_name = $1`,
      [applicationName],
    )
  ).rows;

beforeAll(async () => {
  await migrateRuntime(direct);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await direct.end();
});

it('runs every session with the configured timeouts and application name', async () => {
  const name = uniqueName('pool');
  const pool = poolFor(settings(name));
  const { rows } = await pool.query<Record<string, string>>(
    `SELECT current_setting('statement_timeout') AS statement,
            current_setting('lock_timeout') AS lock,
            current_setting('idle_in_transaction_session_timeout') AS idle,
            current_setting('tcp_user_timeout') AS tcp_user,
            (SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS name`,
  );
  expect(rows[0]).toEqual({ statement: '5s', lock: '1s', idle: '2s', tcp_user: '10000', name });
});

it('releases the position row of a batch stalled mid-transaction within the idle-in-transaction timeout; the next owner applies', async () => {
  const projection = uniqueName('proj');
  const stalledName = uniqueName('stalled');
  const idleTimeoutMs = 2_000;
  let stalled!: () => void;
  const stalling = new Promise<void>((resolve) => (stalled = resolve));
  let unstall!: () => void;
  const frozen = new Promise<void>((resolve) => (unstall = resolve));
  // A process frozen mid-batch, or cut off from the database: its transaction holds the row and sends nothing more.
  const zombie = new PostgresProjectionStore(
    poolFor(settings(stalledName, { DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: idleTimeoutMs })),
    projection,
    async () => {
      stalled();
      await frozen;
      return [];
    },
  );
  const next = new PostgresProjectionStore(poolFor(settings(uniqueName('next'))), projection, () =>
    Promise.resolve([]),
  );
  expect(await next.apply(batch(0, 1))).toBe(true);

  const zombieApply = zombie.apply(batch(1, 3)).then(
    () => 'committed',
    (error: unknown) => error,
  );
  await stalling;
  const since = Date.now();
  expect(await positionLocks(stalledName)).toHaveLength(1);
  // The bound, with room for a busy machine: without the timeout the lock stays until the process goes.
  await eventually(
    'the stalled batch to lose its lock on the positions table',
    async () => ((await positionLocks(stalledName)).length === 0 ? true : undefined),
    { timeoutMs: idleTimeoutMs + 5_000, intervalMs: 100 },
  );
  const heldMs = Date.now() - since;
  expect(heldMs).toBeGreaterThanOrEqual(idleTimeoutMs - 200);
  expect(await next.apply(batch(1, 3))).toBe(true);

  unstall();
  const outcome = await zombieApply;
  expect(outcome).not.toBe('committed');
  expect(zombie.isTransient(outcome)).toBe(true); // retried later, never dead-lettered
  expect(await zombie.apply(batch(1, 3))).toBe(false); // the next owner moved the position on
  expect(await next.position('t', 0)).toBe('3');
});

it('reports a statement the server cancelled at the statement timeout as transient, and keeps the position', async () => {
  const projection = uniqueName('proj');
  const slow = new PostgresProjectionStore(
    poolFor(
      settings(uniqueName('slow'), { DATABASE_STATEMENT_TIMEOUT_MS: 500, DATABASE_QUERY_TIMEOUT_MS: 5_000 }),
    ),
    projection,
    async (client) => {
      await client.query('SELECT pg_sleep(30)');
      return [];
    },
  );
  const error = await slow.apply(batch(0, 2)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({ code: '57014' });
  expect(slow.isTransient(error)).toBe(true);
  expect(await slow.position('t', 0)).toBeUndefined();
});
