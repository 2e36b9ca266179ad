// PostgreSQL faults under order-projection (a real process) while orders flow:
// 1. kill -9 and restart of its PostgreSQL cluster: the projection pauses (not ready, a log
//    line), resumes and converges exactly; a poison record arriving during the outage is
//    dead-lettered once, however often its batch is retried.
// 2. its connection blackholed mid-batch (a cut network): the server releases the positions
//    row within the configured bound, the projection notices and, once the network is back,
//    goes on by itself; cut again and killed, the next owner of its partitions continues, and
//    the read model converges exactly.
import { Client, Pool } from 'pg';
import {
  eventually,
  startPrivatePostgres,
  startTcpProxy,
  type PrivatePostgres,
  type TcpFaultProxy,
} from '@tideline/testing';
import { countLines, OrderFlow, readyStatus } from './scenario';

let cluster: PrivatePostgres;
const flows: OrderFlow[] = [];
const pools: Pool[] = [];
let proxy: TcpFaultProxy | undefined;

beforeAll(async () => {
  cluster = await startPrivatePostgres({ database: 'tideline_kill' });
}, 120_000);

// A scenario that fails between its kill and its restart leaves the cluster down: the next one
// still gets a running cluster, so its own failure (or success) is its own.
afterEach(async () => {
  if (!cluster.running()) await cluster.restart();
}, 120_000);

afterAll(async () => {
  await Promise.all(flows.map((f) => f.cleanup().catch(() => undefined)));
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await proxy?.close();
  await cluster?.stop();
}, 120_000);

/** Another database on the private cluster: each scenario's read model starts empty. */
async function createDatabase(name: string): Promise<string> {
  const client = new Client({ connectionString: cluster.adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return cluster.url.replace(/\/[^/]+$/, `/${name}`);
}

/** A pool straight to the private cluster, for the test's own checks (survives the cluster's restart). */
function directPool(url: string): Pool {
  const pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

const report = (scenario: string, figures: Record<string, number | string>) =>
  process.stdout.write(`[faults] ${scenario}: ${JSON.stringify(figures)}\n`);

it('pauses on kill -9 of PostgreSQL, resumes after its restart and converges; the poison is dead-lettered once', async () => {
  const started = Date.now();
  const url = cluster.url;
  const flow = new OrderFlow(url);
  flows.push(flow);
  await flow.provision();
  const pool = directPool(url);
  const projection = await flow.startProjection(url);
  const unavailable = countLines(projection, 'store unavailable');
  flow.startFlow();
  await eventually('orders applied before the fault', async () =>
    (await flow.appliedOrders(pool)) >= 50 ? true : undefined,
  );

  const killedAt = Date.now();
  await cluster.kill9();
  await flow.publishPoison();
  await eventually('the projection to report not ready', async () =>
    (await readyStatus(projection)) === 503 ? true : undefined,
  );
  const notReadyMs = Date.now() - killedAt;
  const poison = flow.poisonOffset!;
  const isPoison = (d: { topic: string; partition: string; offset: string }) =>
    d.topic === poison.topic && d.partition === String(poison.partition) && d.offset === poison.offset;
  await eventually(
    'the poison record dead-lettered during the outage',
    async () => ((await flow.deadLetters()).some(isPoison) ? true : undefined),
    { timeoutMs: 30_000 },
  );
  // Its batch keeps failing on the missing database: several retries with the dead letter written.
  const poisonRetries = countLines(
    projection,
    'store unavailable',
    `"topic":"${poison.topic}"`,
    `"partition":${poison.partition},`,
  );
  await eventually('its batch retried 5 times', () => (poisonRetries() >= 5 ? true : undefined), {
    timeoutMs: 30_000,
  });
  const outageMs = Date.now() - killedAt;

  const restartedAt = Date.now();
  await cluster.restart();
  await eventually(
    'the projection ready again',
    async () => ((await readyStatus(projection)) === 200 ? true : undefined),
    { timeoutMs: 60_000 },
  );
  const readyAgainMs = Date.now() - restartedAt;
  await flow.stopFlowing();
  const { events } = await flow.expectConverged(pool);
  const convergedMs = flow.convergedAt - restartedAt;

  const deadLetters = await flow.deadLetters();
  expect(deadLetters.filter(isPoison)).toHaveLength(1);
  expect(deadLetters.filter(isPoison)[0]!.code).toBe('TDL_MSG_DECODE_FAILED');
  // Foreign records on the shared topics (other keys) are dead-lettered too: none of them twice either.
  const keys = deadLetters.map((d) => `${d.topic}:${d.partition}:${d.offset}`);
  expect(new Set(keys).size).toBe(keys.length);
  expect(projection.child.exitCode).toBeNull(); // paused, never crashed
  expect(unavailable()).toBeGreaterThan(0);
  report('postgres kill -9 + restart', {
    orders: flow.orders.length,
    events,
    lost: 0,
    duplicated: 0,
    deadLetters: deadLetters.length,
    poisonDeadLetters: 1,
    batchRetriesLogged: unavailable(),
    poisonBatchRetries: poisonRetries(),
    outageMs,
    notReadyAfterKillMs: notReadyMs,
    readyAfterRestartMs: readyAgainMs,
    convergedAfterRestartMs: convergedMs,
    testMs: Date.now() - started,
  });
}, 300_000);

it('releases the positions row within the bound when its connection is blackholed mid-batch, goes on once the network is back, and the next owner converges', async () => {
  const started = Date.now();
  const url = await createDatabase('tideline_cut');
  const flow = new OrderFlow(url);
  flows.push(flow);
  await flow.provision();
  const pool = directPool(url);
  proxy = await startTcpProxy({ port: cluster.port });
  const timeouts = {
    DATABASE_CONNECT_TIMEOUT_MS: '2000',
    DATABASE_STATEMENT_TIMEOUT_MS: '3000',
    DATABASE_QUERY_TIMEOUT_MS: '4000',
    DATABASE_LOCK_TIMEOUT_MS: '1000',
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '2000',
    DATABASE_TCP_USER_TIMEOUT_MS: '2000',
  };
  // The documented bound: statement + idle-in-transaction + tcp user timeout.
  const boundMs = 3_000 + 2_000 + 2_000;
  const firstName = `${flow.run}-a`;
  const viaProxy = url.replace(`:${cluster.port}/`, `:${proxy.port}/`);
  const projection = await flow.startProjection(viaProxy, {
    ...timeouts,
    DATABASE_APPLICATION_NAME: firstName,
  });
  const unavailable = countLines(projection, 'store unavailable');
  flow.startFlow();
  await eventually('orders applied before the fault', async () =>
    (await flow.appliedOrders(pool)) >= 50 ? true : undefined,
  );

  // Slow round trips make every batch hold its transaction for a while; cut while one does.
  const positionLocks = async () =>
    (
      await pool.query<{ pid: number }>(
        `SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.relation = 'tideline_projection_offsets'::regclass AND l.mode = 'RowExclusiveLock'
           AND a.application_name = $1`,
        [firstName],
      )
    ).rows;
  /** Blackholes the connection while a batch holds its transaction; when, and how long the lock outlived it. */
  const cutMidBatch = async () => {
    await proxy!.latency(100);
    let cutAt = 0;
    for (let attempt = 0; attempt < 10 && cutAt === 0; attempt += 1) {
      await eventually(
        'a batch of the projection in its transaction',
        async () => ((await positionLocks()).length > 0 ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 10 },
      );
      await proxy!.blackhole();
      const at = Date.now();
      if ((await positionLocks()).length > 0) cutAt = at;
      else await proxy!.latency(100); // the batch committed just before the cut: its bytes flow on, try the next one
    }
    expect(cutAt).toBeGreaterThan(0);
    await eventually(
      "the cut batch's lock on the positions table to be released",
      async () => ((await positionLocks()).length === 0 ? true : undefined),
      { timeoutMs: boundMs + 20_000, intervalMs: 100 },
    );
    const lockHeldMs = Date.now() - cutAt;
    expect(lockHeldMs).toBeLessThanOrEqual(boundMs);
    return { cutAt, lockHeldMs };
  };

  // 1. Cut mid-batch: the server ends the transaction within the bound, the instance notices.
  const first = await cutMidBatch();
  await eventually(
    'the cut projection to notice (not ready, batch retried later)',
    async () => ((await readyStatus(projection)) === 503 && unavailable() > 0 ? true : undefined),
    { timeoutMs: 30_000 },
  );
  const noticedMs = Date.now() - first.cutAt;

  // 2. The network comes back: the same instance replaces its connections and goes on by itself.
  const healedAt = Date.now();
  const beforeHeal = await flow.appliedOrders(pool);
  await proxy.recover();
  await eventually(
    'the cut projection ready and applying again',
    async () =>
      (await readyStatus(projection)) === 200 && (await flow.appliedOrders(pool)) > beforeHeal
        ? true
        : undefined,
    { timeoutMs: 60_000 },
  );
  const selfRecoveredMs = Date.now() - healedAt;

  // 3. Cut mid-batch again, and the instance is lost for good (kill -9; nothing reaches the server):
  // a second instance with a working connection takes its partitions from the stored positions.
  const second = await cutMidBatch();
  await projection.stop('SIGKILL');
  const before = await flow.appliedOrders(pool);
  const next = await flow.startProjection(url, { ...timeouts, DATABASE_APPLICATION_NAME: `${flow.run}-b` });
  await eventually(
    'the next owner applying',
    async () => ((await flow.appliedOrders(pool)) > before ? true : undefined),
    { timeoutMs: 60_000 },
  );
  const takenOverMs = Date.now() - second.cutAt;
  await flow.stopFlowing();
  const { events } = await flow.expectConverged(pool);
  const deadLetters = await flow.deadLetters();
  const keys = deadLetters.map((d) => `${d.topic}:${d.partition}:${d.offset}`);
  expect(new Set(keys).size).toBe(keys.length);
  expect(next.child.exitCode).toBeNull();
  report('postgres connection blackholed mid-batch', {
    orders: flow.orders.length,
    events,
    lost: 0,
    duplicated: 0,
    boundMs,
    lockHeldAfterCutMs: [first.lockHeldMs, second.lockHeldMs].join(' / '),
    noticedAfterCutMs: noticedMs,
    applyingAgainAfterHealMs: selfRecoveredMs,
    nextOwnerApplyingAfterSecondCutMs: takenOverMs,
    testMs: Date.now() - started,
  });
}, 300_000);
