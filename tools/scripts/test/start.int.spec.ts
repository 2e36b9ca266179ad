// `npm start` (tools/scripts/start.mjs) as a real process tree against the real stack: it
// starts every service, an order placed through order-api is confirmed in order-projection
// and counted in sales-projection, and Ctrl-C (SIGINT) stops every service it started. Each run has its own ports, consumer
// groups, signing key and database, so it meets neither other tests nor a developer's `npm start`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import {
  orderCancelledTopic,
  orderConfirmedTopic,
  orderPlacedTopic,
  orderRejectedTopic,
} from '@tideline/contracts';
import { setPositions } from '@tideline/projections';
import {
  eventually,
  freePort,
  runCli,
  startGroupAtEnd,
  testInfra,
  testKafka,
  topicEnds,
  uniqueName,
} from '@tideline/testing';
import { Pool } from 'pg';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const startScript = path.join(repoRoot, 'tools', 'scripts', 'start.mjs');
const trafficScript = path.join(repoRoot, 'tools', 'demo', 'traffic.mjs');
const infra = testInfra();
const SERVICES = ['api', 'processor-1', 'processor-2', 'projection', 'sales'];

/** Variables of the caller's shell that would change what start.mjs does. */
const INHERITED_OUT = [
  'API_KEYS',
  'AUTH_DISABLED',
  'GROUP_ID',
  'PORT',
  'MAX_ORDER_TOTAL_CENTS',
  'PROJECTION_URL',
  'READY_AFTER_BACKFILL',
  'SIGNING_KEY',
  'SIGNING_KEY_ID',
  'SIGNING_VERIFY_KEYS',
];

interface StartRun {
  name: string;
  child: ChildProcess;
  apiUrl: string;
  projectionUrl: string;
  salesUrl: string;
  groups: string[];
  database: string;
  /** start.mjs's own lines (`start: …`) and the last 64 KB of everything. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

const runs: StartRun[] = [];

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function databaseUrl(name: string): string {
  const url = new URL(infra.databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const ORDER_TOPICS = [orderPlacedTopic, orderConfirmedTopic, orderRejectedTopic, orderCancelledTopic].map(
  (topic) => topic.name,
);

/**
 * Creates the run's database and sets the consumer groups to the end of the shared order
 * topics, so the services start with what comes next instead of replaying (and
 * dead-lettering) what other tests left there.
 */
async function startAtEnd(database: string, groups: string[]): Promise<void> {
  const admin = new Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  await startGroupAtEnd(groups[0]!, [orderPlacedTopic.name, orderCancelledTopic.name]);
  // The projections' positions live in the database; their groups' Kafka offsets go to the end
  // too, or the first fetch of each partition starts at the earliest record before they seek.
  await startGroupAtEnd(groups[1]!, ORDER_TOPICS);
  await startGroupAtEnd(groups[2]!, ORDER_TOPICS.slice(1));
  const pool = new Pool({ connectionString: databaseUrl(database), max: 1 });
  try {
    await setPositions(pool, groups[1]!, await topicEnds(ORDER_TOPICS));
    await setPositions(pool, groups[2]!, await topicEnds(ORDER_TOPICS.slice(1)));
  } finally {
    await pool.end();
  }
}

/** Runs `node tools/scripts/start.mjs` (what `npm start` runs) with ports, groups and database of its own. */
async function startRun(
  env: Record<string, string> = {},
  { atEnd = false }: { atEnd?: boolean } = {},
): Promise<StartRun> {
  const name = uniqueName('start');
  const [api, projection, processor1, processor2, sales] = await distinctFreePorts(5);
  const database = `tdl_${name.replace(/[^a-z0-9]/g, '_')}`;
  const groups = [`order-processor-${name}`, `order-projection-${name}`, `sales-projection-${name}`];
  if (atEnd) await startAtEnd(database, groups);
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  for (const variable of INHERITED_OUT) delete inherited[variable];
  const childEnv: NodeJS.ProcessEnv = {
    ...inherited,
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: infra.registryUrl,
    // Infrastructure of its own (KAFKA_BROKERS set) makes start.mjs keep the catalog's durability:
    // the test stack's brokers are few, so pass its development override as a user would.
    TOPIC_REPLICATION: String(infra.topicReplication),
    DATABASE_URL: databaseUrl(database),
    API_PORT: String(api),
    PROJECTION_PORT: String(projection),
    SALES_PROJECTION_PORT: String(sales),
    PROCESSOR_PORTS: `${processor1},${processor2}`,
    ORDER_PROCESSOR_GROUP_ID: groups[0],
    ORDER_PROJECTION_GROUP_ID: groups[1],
    SALES_PROJECTION_GROUP_ID: groups[2],
    // A key of its own: its services neither decide nor project anyone else's orders.
    SIGNING_KEY_ID: 'start-test',
    SIGNING_KEY: randomBytes(32).toString('base64'),
    // Dead-lettering the log's history (signed with other keys) logs at error: keep only fatal.
    LOG_LEVEL: 'fatal',
    START_STOP_TIMEOUT_MS: '40000',
    ...env,
  };
  const child = spawn(process.execPath, [startScript], {
    cwd: repoRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let own = '';
  let tail = '';
  const collect = () => {
    let partial = '';
    return (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-65_536);
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line.startsWith('start: ')) own += `${line}\n`;
    };
  };
  child.stdout.on('data', collect());
  child.stderr.on('data', collect());
  const run: StartRun = {
    name,
    child,
    apiUrl: `http://127.0.0.1:${api}`,
    projectionUrl: `http://127.0.0.1:${projection}`,
    salesUrl: `http://127.0.0.1:${sales}`,
    groups,
    database,
    output: () => `${own}\n--- last output ---\n${tail}`,
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        run.exit = { code, signal };
        resolve(run.exit);
      }),
    ),
  };
  runs.push(run);
  return run;
}

/** Waits until start.mjs printed a line matching `pattern`; fails with its output when it exits first. */
function waitForLine(run: StartRun, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return eventually(
    `start.mjs to print ${pattern}`,
    () => {
      const match = run.output().match(pattern);
      if (match) return match;
      if (run.exit) throw new Error(`start.mjs exited (${JSON.stringify(run.exit)}):\n${run.output()}`);
      return undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** The pids start.mjs printed for its services (`start: api started (pid 123) on …`). */
function servicePids(run: StartRun): Map<string, number> {
  const pids = new Map<string, number>();
  for (const [, name, pid] of run.output().matchAll(/^start: (\S+) started \(pid (\d+)\)/gm))
    pids.set(name!, Number(pid));
  return pids;
}

/** A process that still runs (an exited but unreaped zombie does not count). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch {
    if (fs.existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exitWithin(run: StartRun, timeoutMs: number) {
  return eventually(`start.mjs to exit\n${run.output()}`, () => run.exit, { timeoutMs, intervalMs: 100 });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function post(url: string, body: unknown, method = 'POST') {
  return fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

afterAll(async () => {
  for (const run of runs) {
    for (const pid of servicePids(run).values()) if (running(pid)) process.kill(pid, 'SIGKILL');
    if (!run.exit) run.child.kill('SIGKILL');
  }
  const admin = new Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    for (const run of runs) await admin.query(`DROP DATABASE IF EXISTS "${run.database}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  const kafka = testKafka().admin();
  await kafka.connect();
  try {
    const groups = runs.flatMap((run) => run.groups);
    const topics = (await kafka.listTopics()).filter((topic) =>
      groups.some((g) => topic.startsWith(`${g}.`)),
    );
    if (topics.length > 0) await kafka.deleteTopics({ topics }).catch(() => undefined);
    await kafka.deleteGroups(groups).catch(() => undefined);
  } finally {
    await kafka.disconnect();
  }
}, 60_000);

it('runs every service; an order placed at the API is confirmed in the projection; Ctrl-C stops them all', async () => {
  const run = await startRun({}, { atEnd: true });
  await waitForLine(run, /^start: all 5 services are ready/m, 150_000);
  const pids = servicePids(run);
  expect([...pids.keys()]).toEqual(SERVICES);
  for (const pid of pids.values()) expect(running(pid)).toBe(true);
  expect(run.output()).toMatch(/^start: WARNING: order-api runs with AUTH_DISABLED=true/m);
  expect(run.output()).toMatch(/^start: signing records with SIGNING_KEY from the environment$/m);
  expect(run.output()).toContain(`Dashboard        ${run.projectionUrl}/`);

  const sku = `${run.name}-beans`;
  const product = await post(
    `${run.apiUrl}/catalog/products/${sku}`,
    { name: 'Coffee beans 1 kg', priceCents: 1890, currency: 'EUR', active: true },
    'PUT',
  );
  expect(product.status).toBe(202);
  const placed = await post(`${run.apiUrl}/orders`, {
    customerId: `${run.name}-customer`,
    items: [{ sku, quantity: 2 }],
    currency: 'EUR',
  });
  expect(placed.status).toBe(202);
  const { orderId, eventId, links } = (await placed.json()) as {
    orderId: string;
    eventId: string;
    links: { self: string };
  };
  expect(links.self).toBe(`${run.projectionUrl}/orders/${orderId}`);

  const seen = await fetch(`${run.projectionUrl}/orders/${orderId}?waitFor=${eventId}&timeout=10000`);
  expect(seen.status).toBe(200);
  expect(await json(seen)).toMatchObject({ orderId, customerId: `${run.name}-customer`, currency: 'EUR' });
  const confirmed = await eventually(
    'the order to be confirmed',
    async () => {
      const order = await json(await fetch(`${run.projectionUrl}/orders/${orderId}`));
      return order['status'] === 'confirmed' ? order : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  expect(confirmed).toMatchObject({
    totalCents: 3780,
    lines: [expect.objectContaining({ sku, quantity: 2 })],
  });
  // sales-projection counts it in the hour of its confirmation (within the default last 24 hours).
  const sales = await eventually(
    'the sale to be counted',
    async () => {
      const body = await json(await fetch(`${run.salesUrl}/products/${sku}/sales`));
      return (body['total'] as { units: number }).units > 0 ? body : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  expect(sales['total']).toEqual({ units: 2, orders: 1, revenueCents: { EUR: 3780 } });

  // The demo traffic script works against the running services.
  const traffic = await runCli(
    process.execPath,
    [trafficScript, '--api', run.apiUrl, '--count', '12', '--rate', '20'],
    {
      timeoutMs: 60_000,
    },
  );
  expect(traffic.stderr).toBe('');
  expect(traffic.stdout).toMatch(/^demo: sent 12 · accepted 12 · failed 0 · /m);
  expect(traffic.code).toBe(0);

  run.child.kill('SIGINT');
  const exit = await exitWithin(run, 60_000);
  expect(exit).toEqual({ code: 0, signal: null });
  expect(run.output()).toMatch(/^start: all services stopped\. .*npm run stack:down/m);
  for (const [name, pid] of pids) expect({ name, running: running(pid) }).toEqual({ name, running: false });
}, 420_000);

it('stops the other services and exits 1 when one of them exits, naming it and its code', async () => {
  // No database made beforehand: start.mjs creates it. (The processors refuse their config at
  // once, so the other services are stopped before they read much of the shared topics.)
  const run = await startRun({ MAX_ORDER_TOTAL_CENTS: 'lots' });
  const exit = await exitWithin(run, 90_000);
  expect(exit).toEqual({ code: 1, signal: null });
  expect(run.output()).toMatch(/^start: created database tdl_/m);
  expect(run.output()).toMatch(
    /^start: processor-[12] exited unexpectedly \(code 1\); stopping the others$/m,
  );
  expect(run.output()).toMatch(/^\[processor-[12]\] .*MAX_ORDER_TOTAL_CENTS: .*"lots"/m);
  const pids = servicePids(run);
  expect([...pids.keys()]).toEqual(SERVICES);
  for (const [name, pid] of pids) expect({ name, running: running(pid) }).toEqual({ name, running: false });
}, 120_000);

it('leaves no service behind when start.mjs itself is killed (kill -9)', async () => {
  // Its groups start at the end of the shared topics: what other runs left there (however much,
  // whatever shape) is neither read nor waited for.
  const run = await startRun({}, { atEnd: true });
  await waitForLine(run, /^start: all 5 services are ready/m, 150_000);
  const pids = servicePids(run);
  run.child.kill('SIGKILL');
  await exitWithin(run, 10_000);
  await eventually(
    'every service to stop by itself',
    () => ([...pids.values()].some(running) ? undefined : true),
    { timeoutMs: 45_000, intervalMs: 250 },
  );
  expect([...pids.values()].filter(running)).toEqual([]);
}, 240_000);
