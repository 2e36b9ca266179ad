// npm start: the whole of Tideline on this machine. Brings the local stack up when nothing
// answers, provisions topics and schemas, creates the database, then runs order-api, two
// order-processor instances, order-projection and sales-projection as child processes until Ctrl-C,
// and after them every service listed in tools/scripts/services.json (the generators add theirs).
// `npm start -- --demo` also sends demo traffic (tools/demo/traffic.mjs).
// Knobs (environment): docs/how-to/run-locally.md.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { defaults, infraAnswers, infraConfigured } from './infra.mjs';
import { formatLogLine } from './log-format.mjs';
import { run } from './run.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tideline = path.join(root, 'apps', 'ops', 'bin', 'tideline.cjs');
const traffic = path.join(root, 'tools', 'demo', 'traffic.mjs');
const orphanGuard = pathToFileURL(path.join(root, 'tools', 'scripts', 'orphan-guard.mjs')).href;
/** The generated services npm start also runs: `nx g @tideline/nx:service|projection` adds to it. */
const servicesFile = path.join(root, 'tools', 'scripts', 'services.json');

const USAGE =
  'usage: npm start [-- --demo [--rate N]] [--json-logs] [--list]  (ports and groups: API_PORT, PROCESSOR_PORTS, PROJECTION_PORT, SALES_PROJECTION_PORT, ORDER_PROCESSOR_GROUP_ID, ORDER_PROJECTION_GROUP_ID, SALES_PROJECTION_GROUP_ID)';

/** A problem worth one line on stderr and an exit code, not a stack trace. */
class StartError extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

const say = (line) => process.stdout.write(`start: ${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A wait that does not keep the process alive by itself (for deadlines raced against exits). */
const deadline = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------
// Settings: arguments and environment; every mistake is a usage error (exit 2).

function parseArgs(argv) {
  const options = { demo: false, rate: undefined, jsonLogs: false, help: false, list: false };
  for (let i = 0; i < argv.length; i += 1) {
    const [name, inline] = argv[i].split(/=(.*)/s, 2);
    if (name === '--demo' && inline === undefined) options.demo = true;
    else if (name === '--json-logs' && inline === undefined) options.jsonLogs = true;
    else if (name === '--list' && inline === undefined) options.list = true;
    else if ((name === '--help' || name === '-h') && inline === undefined) options.help = true;
    else if (name === '--rate') {
      const value = inline ?? argv[++i];
      const rate = Number(value);
      if (value === undefined || !/^\d*\.?\d+$/.test(value) || !(rate > 0 && rate <= 1000))
        throw new StartError(
          `--rate takes commands per second, above 0 and at most 1000 (got "${value ?? ''}")`,
          2,
        );
      options.rate = value;
    } else throw new StartError(`unknown argument "${argv[i]}"; ${USAGE}`, 2);
  }
  if (options.rate !== undefined && !options.demo) throw new StartError('--rate only goes with --demo', 2);
  return options;
}

function portVar(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || port < 1 || port > 65535)
    throw new StartError(`${name}=${raw} is not a TCP port (1-65535)`, 2);
  return port;
}

function settingsFrom(env) {
  const apiPort = portVar(env, 'API_PORT', 3000);
  const projectionPort = portVar(env, 'PROJECTION_PORT', 3002);
  const salesPort = portVar(env, 'SALES_PROJECTION_PORT', 3003);
  const rawProcessors = env.PROCESSOR_PORTS?.trim() ? env.PROCESSOR_PORTS : '3001,3011';
  const processorPorts = rawProcessors.split(',').map((part, i) => {
    const port = Number(part.trim());
    if (!/^\d+$/.test(part.trim()) || port < 1 || port > 65535)
      throw new StartError(
        `PROCESSOR_PORTS=${rawProcessors}: entry ${i + 1} is not a TCP port (a comma list, one port per order-processor instance)`,
        2,
      );
    return port;
  });
  if (processorPorts.length > 6)
    throw new StartError(
      `PROCESSOR_PORTS lists ${processorPorts.length} ports; the order topics have 6 partitions, so at most 6 instances do work`,
      2,
    );
  const generated = generatedServices().map((service) => ({
    ...service,
    port: portVar(env, service.portVariable, service.port),
  }));
  const all = [apiPort, projectionPort, salesPort, ...processorPorts, ...generated.map((s) => s.port)];
  const twice = all.find((port, i) => all.indexOf(port) !== i);
  if (twice !== undefined)
    throw new StartError(
      `port ${twice} is given twice (API_PORT, PROJECTION_PORT, SALES_PROJECTION_PORT, PROCESSOR_PORTS${generated.map((s) => `, ${s.portVariable}`).join('')} must differ)`,
      2,
    );
  const readyTimeoutMs = Number(env.START_READY_TIMEOUT_MS ?? 120_000);
  const stopTimeoutMs = Number(env.START_STOP_TIMEOUT_MS ?? 30_000);
  for (const [name, value] of [
    ['START_READY_TIMEOUT_MS', readyTimeoutMs],
    ['START_STOP_TIMEOUT_MS', stopTimeoutMs],
  ]) {
    if (!Number.isInteger(value) || value < 1000)
      throw new StartError(`${name}=${env[name]} is not a whole number of milliseconds ≥ 1000`, 2);
  }
  return {
    apiPort,
    projectionPort,
    salesPort,
    processorPorts,
    generated,
    processorGroup: env.ORDER_PROCESSOR_GROUP_ID || 'order-processor',
    projectionGroup: env.ORDER_PROJECTION_GROUP_ID || 'order-projection',
    salesGroup: env.SALES_PROJECTION_GROUP_ID || 'sales-projection',
    readyTimeoutMs,
    stopTimeoutMs,
  };
}

const SERVICE_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * tools/scripts/services.json: `{ "services": [{ "name", "port", "database" }] }`, one entry per
 * generated app (apps/<name>). Each runs from its sources like the built-in ones, on its port
 * (`<NAME>_PORT` overrides it), with DATABASE_URL when `database` is true.
 */
function generatedServices() {
  if (!fs.existsSync(servicesFile)) return [];
  const where = path.relative(root, servicesFile);
  let parsed;
  try {
    parsed = JSON.parse(fs.readFileSync(servicesFile, 'utf8'));
  } catch (error) {
    throw new StartError(`${where} is not JSON (${error.message})`, 2);
  }
  if (!Array.isArray(parsed?.services)) throw new StartError(`${where} has no "services" list`, 2);
  return parsed.services.map((entry, i) => {
    const { name, port, database = false } = entry ?? {};
    const problem =
      typeof name !== 'string' || !SERVICE_NAME.test(name)
        ? 'needs a kebab-case "name"'
        : !fs.existsSync(path.join(root, 'apps', name, 'src', 'main.ts'))
          ? `names apps/${name}, which has no src/main.ts`
          : !Number.isInteger(port) || port < 1 || port > 65535
            ? 'needs a TCP "port" (1-65535)'
            : typeof database !== 'boolean'
              ? '"database" must be true or false'
              : undefined;
    if (problem !== undefined) throw new StartError(`${where}: entry ${i + 1} ${problem}`, 2);
    return { name, port, database, portVariable: `${name.toUpperCase().replaceAll('-', '_')}_PORT` };
  });
}

function portTaken(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (taken) => {
      socket.destroy();
      resolve(taken);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function checkPortsFree(settings) {
  const wanted = [
    [settings.apiPort, 'API_PORT'],
    [settings.projectionPort, 'PROJECTION_PORT'],
    [settings.salesPort, 'SALES_PROJECTION_PORT'],
    ...settings.processorPorts.map((port) => [port, 'PROCESSOR_PORTS']),
    ...settings.generated.map((service) => [service.port, service.portVariable]),
  ];
  for (const [port, variable] of wanted) {
    if (await portTaken(port))
      throw new StartError(
        `port ${port} is already in use (another npm start?); stop that process or set ${variable}`,
      );
  }
}

// ---------------------------------------------------------------------------
// Preparation: the stack, topics, schemas, database, signing key.

async function ensureStack() {
  if (!(await infraAnswers())) {
    if (infraConfigured())
      throw new StartError('KAFKA_BROKERS / SCHEMA_REGISTRY_URL are set but do not answer');
    const code = await run(process.execPath, [path.join(root, 'tools', 'local-stack', 'stack.mjs'), 'up'], {
      cwd: root,
    });
    if (code !== 0) throw new StartError(`the local stack did not come up (stack.mjs up exited ${code})`);
  }
  // The local stack has one broker: its topics get one replica unless TOPIC_REPLICATION says
  // otherwise (`stack:up -- --brokers 3`: TOPIC_REPLICATION=3). On infrastructure of the user's
  // own, the catalog's production durability, which a smaller cluster refuses, naming the fix.
  const env = { ...process.env };
  if (env.TOPIC_REPLICATION === undefined && !infraConfigured()) env.TOPIC_REPLICATION = '1';
  for (const args of [
    ['topics', 'apply', '--execute'],
    ['schemas', 'register', '--execute'],
  ]) {
    process.stdout.write(`\n$ tideline ${args.join(' ')}\n`);
    const code = await run(process.execPath, [tideline, ...args], { cwd: root, env });
    if (code !== 0) throw new StartError(`tideline ${args.join(' ')} exited ${code}`);
  }
  process.stdout.write('\n');
}

async function ensureDatabase(databaseUrl) {
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(name))
    throw new StartError(`DATABASE_URL names an unusable database "${name}"`);
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new StartError(
      `PostgreSQL at ${target.host} is not reachable (${error.message}); start it or set DATABASE_URL`,
    );
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`).catch((error) => {
        if (error.code !== '42P04') throw error; // created meanwhile by someone else
      });
      say(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * SIGNING_KEY_ID / SIGNING_KEY for every service: the user's when set, else key id `dev`
 * with 32 random bytes made once and kept in .stack/dev-signing-key, so a restart still
 * verifies the records signed before it.
 */
function signingKey(env) {
  if (env.SIGNING_KEY !== undefined)
    return { vars: {}, note: 'signing records with SIGNING_KEY from the environment' };
  const home = path.resolve(env.TIDELINE_STACK_HOME ?? path.join(root, '.stack'));
  const file = path.join(home, 'dev-signing-key');
  let created = false;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(home, { recursive: true });
    try {
      fs.writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
  }
  const secret = fs.readFileSync(file, 'utf8').trim();
  if (!BASE64.test(secret) || secret.length % 4 !== 0 || Buffer.from(secret, 'base64').length < 32)
    throw new StartError(`${file} is not base64 of at least 32 bytes; delete it and a new key is made`);
  const id = env.SIGNING_KEY_ID ?? 'dev';
  return {
    vars: { SIGNING_KEY_ID: id, SIGNING_KEY: secret },
    note: `signing records with key id ${id} from ${path.relative(root, file)}${created ? ' (made now)' : ''}`,
  };
}

// ---------------------------------------------------------------------------
// Child processes

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const PREFIX_COLORS = [32, 34, 35, 36, 33, 94, 95];

class Child {
  constructor({ name, args, env, readyUrl, width, index, jsonLogs }) {
    Object.assign(this, { name, readyUrl, ready: false, lastNotReady: undefined, exit: undefined });
    const label = `[${name}]`.padEnd(width + 2);
    this.prefix = color
      ? `\x1b[${PREFIX_COLORS[index % PREFIX_COLORS.length]}m${label}\x1b[0m `
      : `${label} `;
    this.process = spawn(
      process.execPath,
      ['--disable-warning=TimeoutNegativeWarning', '--import', orphanGuard, ...args],
      {
        cwd: root,
        env,
        // Its own process group: a terminal's Ctrl-C reaches start.mjs only, which then sends
        // each service exactly one SIGTERM (a second signal would make a service skip its drain).
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.pid = this.process.pid;
    const format = jsonLogs ? (line) => line : (line) => formatLogLine(line, { color });
    for (const [stream, out] of [
      [this.process.stdout, process.stdout],
      [this.process.stderr, process.stderr],
    ]) {
      readline
        .createInterface({ input: stream, crlfDelay: Infinity })
        .on('line', (line) => out.write(`${this.prefix}${format(line)}\n`));
    }
    // 'close': exited and its output is all printed.
    this.closed = new Promise((resolve) => {
      this.process.once('error', (error) => {
        this.exit = { code: null, signal: null, error };
        resolve(this.exit);
      });
      this.process.once('close', (code, signal) => {
        this.exit ??= { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running() {
    return this.exit === undefined;
  }

  /** The whole process group (the service and anything it started). */
  signal(signal) {
    if (!this.running || this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      try {
        this.process.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }

  describeExit() {
    if (!this.exit) return 'running';
    if (this.exit.error) return `could not start (${this.exit.error.message})`;
    return this.exit.signal ? `signal ${this.exit.signal}` : `code ${this.exit.code}`;
  }

  /** True once /readyz answers 200; remembers why not otherwise. */
  async probe() {
    try {
      const response = await fetch(this.readyUrl, { signal: AbortSignal.timeout(2500) });
      if (response.ok) return true;
      this.lastNotReady =
        notReadyReason(await response.json().catch(() => undefined)) ?? `HTTP ${response.status}`;
    } catch (error) {
      this.lastNotReady =
        error.cause?.code === 'ECONNREFUSED' ? 'not listening yet' : (error.cause?.code ?? error.message);
    }
    return false;
  }
}

/** What a 503 /readyz says is missing, in a few words. */
function notReadyReason(body) {
  const checks = body?.checks;
  if (!checks || typeof checks !== 'object') return undefined;
  const failing = Object.entries(checks)
    .filter(([, check]) => check === false || (typeof check === 'object' && check?.ok === false))
    .map(([name, check]) => (typeof check === 'object' && check.error ? `${name}: ${check.error}` : name));
  return failing.length > 0 ? failing.join('; ') : undefined;
}

// ---------------------------------------------------------------------------
// The run

let phase = 'preparing'; // → 'running' → 'stopping'
const children = [];
let demo;
let stopRequested;
let stopTimeoutMs = 30_000;

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${USAGE}\nSee docs/how-to/run-locally.md.\n`);
    return 0;
  }
  const env = process.env;
  const settings = settingsFrom(env);
  stopTimeoutMs = settings.stopTimeoutMs;
  if (options.list) {
    // What would run, without starting anything: name, entry point, port.
    for (const spec of serviceSpecs(settings, { env, common: {}, databaseUrl: '', authOn: false }))
      process.stdout.write(`${spec.name} ${spec.args.at(-1)} ${spec.port}\n`);
    return 0;
  }
  if (Number(process.versions.node.split('.')[0]) < 22)
    throw new StartError(
      `Node ${process.versions.node} is too old: run it as \`npm start\` (Node 24 from node_modules)`,
    );
  await checkPortsFree(settings);
  await ensureStack();
  const databaseUrl = env.DATABASE_URL ?? defaults.DATABASE_URL;
  await ensureDatabase(databaseUrl);
  const signing = signingKey(env);
  say(signing.note);

  const authOn = Boolean(env.API_KEYS?.trim());
  if (!authOn)
    say(
      'WARNING: order-api runs with AUTH_DISABLED=true (no API key needed): for local use only; set API_KEYS to require keys',
    );
  if (!env.PROJECTION_API_KEYS?.trim())
    say(
      'WARNING: order-projection serves orders and streams to anyone (no API key needed): for local use only; set PROJECTION_API_KEYS to require keys',
    );

  const common = {
    ...env,
    KAFKA_BROKERS: env.KAFKA_BROKERS ?? defaults.KAFKA_BROKERS,
    SCHEMA_REGISTRY_URL: env.SCHEMA_REGISTRY_URL ?? defaults.SCHEMA_REGISTRY_URL,
    LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    ...signing.vars,
  };
  const url = (port) => `http://127.0.0.1:${port}`;
  const specs = serviceSpecs(settings, { env, common, databaseUrl, authOn });

  phase = 'running';
  const stopped = new Promise((resolve) => {
    stopRequested = resolve;
  });
  const width = Math.max(...specs.map((spec) => spec.name.length), options.demo ? 4 : 0);
  const started = Date.now();
  for (const [index, spec] of specs.entries()) {
    const child = new Child({
      ...spec,
      readyUrl: `${url(spec.port)}/readyz`,
      width,
      index,
      jsonLogs: options.jsonLogs,
    });
    children.push(child);
    say(`${spec.name} started (pid ${child.pid}) on ${url(spec.port)}`);
    void child.closed.then(() => {
      if (phase !== 'running') return;
      say(`${child.name} exited unexpectedly (${child.describeExit()}); stopping the others`);
      stopRequested(1);
    });
  }

  const outcome = await Promise.race([waitUntilReady(settings, started), stopped]);
  if (outcome !== 'ready') return stop(outcome);

  printBanner(settings, { authOn, databaseUrl, demo: options.demo }, Date.now() - started);
  if (options.demo) {
    const args = [traffic, '--api', url(settings.apiPort), ...(options.rate ? ['--rate', options.rate] : [])];
    const key = env.API_KEYS?.split(',')[0]?.trim();
    demo = new Child({
      name: 'demo',
      args,
      env: { ...env, ...(authOn && key ? { TIDELINE_API_KEY: key } : {}) },
      width,
      index: specs.length,
      jsonLogs: true,
    });
    void demo.closed.then(() => {
      if (phase === 'running') say(`demo traffic ended (${demo.describeExit()}); the services keep running`);
    });
  }
  return stop(await stopped);
}

/** The child processes to run: the built-in services, then the generated ones (services.json). */
function serviceSpecs(settings, { env, common, databaseUrl, authOn }) {
  const source = (app) => [
    '--conditions=@tideline/source',
    '--import',
    'tsx',
    path.join('apps', app, 'src', 'main.ts'),
  ];
  const url = (port) => `http://127.0.0.1:${port}`;
  return [
    {
      name: 'api',
      args: source('order-api'),
      port: settings.apiPort,
      env: {
        ...common,
        PORT: String(settings.apiPort),
        DATABASE_URL: databaseUrl,
        PROJECTION_URL: env.PROJECTION_URL ?? url(settings.projectionPort),
        ...(authOn ? {} : { AUTH_DISABLED: 'true' }),
      },
    },
    ...settings.processorPorts.map((port, i) => ({
      name: `processor-${i + 1}`,
      args: source('order-processor'),
      port,
      env: {
        ...common,
        PORT: String(port),
        GROUP_ID: settings.processorGroup,
        MAX_ORDER_TOTAL_CENTS: env.MAX_ORDER_TOTAL_CENTS ?? '50000',
      },
    })),
    {
      name: 'projection',
      args: source('order-projection'),
      port: settings.projectionPort,
      env: {
        ...common,
        PORT: String(settings.projectionPort),
        DATABASE_URL: databaseUrl,
        GROUP_ID: settings.projectionGroup,
        // Its own keys (order-api's API_KEYS are for writes): unset, the reads and the dashboard
        // are open, as local use wants, and the projection says so when it starts.
        API_KEYS: env.PROJECTION_API_KEYS ?? '',
      },
    },
    {
      // Joins late the first time: backfills the order topics, ready once caught up.
      name: 'sales',
      args: source('sales-projection'),
      port: settings.salesPort,
      env: {
        ...common,
        PORT: String(settings.salesPort),
        DATABASE_URL: databaseUrl,
        GROUP_ID: settings.salesGroup,
      },
    },
    ...settings.generated.map((service) => ({
      name: service.name,
      args: source(service.name),
      port: service.port,
      env: {
        ...common,
        PORT: String(service.port),
        ...(service.database ? { DATABASE_URL: databaseUrl } : {}),
      },
    })),
  ];
}

/** Polls every /readyz until all answer 200; resolves 'ready', or the exit code when the deadline passed. */
async function waitUntilReady(settings, started) {
  const readyBy = started + settings.readyTimeoutMs;
  let nextReport = Date.now() + 10_000;
  for (;;) {
    if (phase !== 'running') return new Promise(() => {}); // stopping: the other branch of the race decides
    await Promise.all(
      children
        .filter((child) => !child.ready && child.running)
        .map(async (child) => {
          if (await child.probe()) {
            child.ready = true;
            const count = children.filter((c) => c.ready).length;
            say(`${child.name} ready (${count}/${children.length}, ${seconds(Date.now() - started)})`);
          }
        }),
    );
    if (children.every((child) => child.ready)) return 'ready';
    const waiting = children.filter((child) => !child.ready);
    if (Date.now() >= readyBy) {
      say(
        `not ready after ${seconds(settings.readyTimeoutMs)}: ${waiting.map((c) => `${c.name} (${c.lastNotReady ?? 'no answer'})`).join(', ')}; stopping`,
      );
      return 1;
    }
    if (Date.now() >= nextReport) {
      nextReport = Date.now() + 10_000;
      say(
        `waiting for ${waiting.map((c) => `${c.name} (${c.lastNotReady ?? 'starting'})`).join(', ')} — ${seconds(Date.now() - started)}`,
      );
    }
    await sleep(500);
  }
}

function printBanner(settings, { authOn, databaseUrl, demo }, tookMs) {
  const api = `http://127.0.0.1:${settings.apiPort}`;
  const projection = `http://127.0.0.1:${settings.projectionPort}`;
  const sales = `http://127.0.0.1:${settings.salesPort}`;
  const auth = authOn ? ` -H "authorization: Bearer $API_KEY"` : '';
  const json = `-H 'content-type: application/json'${auth}`;
  process.stdout.write(`
start: all ${children.length} services are ready (${seconds(tookMs)})

  Order API        ${api}            OpenAPI: ${api}/docs
  Dashboard        ${projection}/
  Query API        ${projection}            OpenAPI: ${projection}/docs
  Live changes     ${projection}/stream (SSE)   ws://127.0.0.1:${settings.projectionPort}/ws
  Sales API        ${sales}            OpenAPI: ${sales}/docs
${settings.generated.map((s) => `  ${s.name.padEnd(16)} http://127.0.0.1:${s.port}\n`).join('')}  Processors       ${settings.processorPorts.map((port) => `http://127.0.0.1:${port}/readyz`).join('  ')}
  Groups           ${settings.processorGroup}, ${settings.projectionGroup}, ${settings.salesGroup}
  Infrastructure   ${process.env.KAFKA_BROKERS ?? defaults.KAFKA_BROKERS}  ${process.env.SCHEMA_REGISTRY_URL ?? defaults.SCHEMA_REGISTRY_URL}  ${databaseUrl}

Try it:
  curl -X PUT ${api}/catalog/products/BEANS-1KG ${json} \\
    -d '{"name":"Coffee beans 1 kg","priceCents":1890,"currency":"EUR","active":true}'
  curl -X POST ${api}/orders ${json} \\
    -d '{"customerId":"alice","items":[{"sku":"BEANS-1KG","quantity":2}],"currency":"EUR"}'
  curl -N ${projection}/orders/<orderId>/stream      # the orderId from the answer above
  curl '${projection}/orders/<orderId>?waitFor=<eventId>&timeout=5000'
  curl ${projection}/stats
  curl ${sales}/products/BEANS-1KG/sales      # units and revenue per hour, last 24 hours
  ${demo ? 'Demo traffic starts now: its progress shows on the [demo] lines.' : 'npm run demo:traffic       # orders at a steady rate (in another terminal)'}

Ctrl-C stops the services; Kafka, the registry and PostgreSQL keep running (npm run stack:down).

`);
}

/** Stops the demo traffic, then every service (SIGTERM, SIGKILL after the deadline); resolves the exit code. */
async function stop(code) {
  phase = 'stopping';
  const live = () => [demo, ...children].filter((child) => child?.running);
  if (live().length > 0)
    say(
      `stopping ${live()
        .map((c) => c.name)
        .join(', ')} (Ctrl-C again kills them at once)`,
    );
  if (demo?.running) {
    demo.signal('SIGTERM');
    await Promise.race([demo.closed, deadline(5_000)]);
  }
  const stopping = children.filter((child) => child.running);
  for (const child of stopping) child.signal('SIGTERM');
  const all = Promise.all(children.map((child) => child.closed));
  const timer = deadline(stopTimeoutMs).then(() => 'late');
  if ((await Promise.race([all, timer])) === 'late') {
    for (const child of live()) {
      say(`${child.name} did not stop in time: killing it`);
      child.signal('SIGKILL');
    }
    await all;
  }
  let failed = false;
  for (const child of stopping) {
    if (child.exit?.code !== 0) {
      failed = true;
      say(`${child.name} stopped with ${child.describeExit()}`);
    }
  }
  say(
    'all services stopped. Kafka, the registry and PostgreSQL keep running: `npm run stack:down` stops Kafka and the registry',
  );
  return code !== 0 ? code : failed ? 1 : 0;
}

let signals = 0;
function onSignal(signal) {
  signals += 1;
  if (phase === 'preparing') {
    process.stderr.write(`start: ${signal} while preparing: nothing was started yet\n`);
    process.exit(130);
  }
  if (signals === 1 && phase === 'running') {
    process.stdout.write('\n');
    stopRequested(0);
    return;
  }
  say('killing every service now');
  for (const child of [demo, ...children]) child?.signal('SIGKILL');
  process.exit(130);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Whatever ends this process, no service outlives it (orphan-guard.mjs covers kill -9).
process.on('exit', () => {
  for (const child of [demo, ...children]) child?.signal('SIGKILL');
});

try {
  process.exitCode = await main();
} catch (error) {
  if (!(error instanceof StartError)) throw error;
  process.stderr.write(`start: ${error.message}\n`);
  process.exitCode = error.exitCode;
}
