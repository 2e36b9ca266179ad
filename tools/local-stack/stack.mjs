#!/usr/bin/env node
// The local stack without Docker: Apache Kafka (KRaft, 1 or 3 brokers) and Apicurio Registry
// resolved from Maven Central and run as background processes, plus the PostgreSQL database.
// How Kafka and Apicurio are laid out and started is runtime.cjs's (shared with the fault
// toolkit's private clusters); this file is the command line, pid files and logs around it.
// Usage: node tools/local-stack/stack.mjs up [--brokers 1|3] | down | status | logs [kafka|kafka-N|registry] [--lines N]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const runtime = require('./runtime.cjs');
const { StackError } = runtime;

// kafkajs 2.2.4 schedules a negative timeout on Node 24 (tulios/kafkajs#1751): harmless, but noisy.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning')
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

const home = path.resolve(process.env.TIDELINE_STACK_HOME ?? path.join(runtime.repoRoot, '.stack'));
const cache = path.resolve(process.env.TIDELINE_STACK_CACHE ?? path.join(home, 'cache'));
const kafkaPort = portFromEnv('TIDELINE_KAFKA_PORT', 9092);
const controllerPort = portFromEnv('TIDELINE_KAFKA_CONTROLLER_PORT', kafkaPort + 1);
// Replication between the brokers of a 3-broker stack (one broker has no such listener).
const internalPort = portFromEnv('TIDELINE_KAFKA_INTERNAL_PORT', kafkaPort + 2);
const registryPort = portFromEnv('TIDELINE_REGISTRY_PORT', 8081);
// Apicurio's prebuilt jar always opens Quarkus' management interface (health, metrics): a second
// stack beside the first needs its own port for it too.
const registryManagementPort = portFromEnv(
  'TIDELINE_REGISTRY_MANAGEMENT_PORT',
  registryPort === 8081 ? 9000 : registryPort + 1,
);
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tideline';
const startTimeoutMs = Number(process.env.TIDELINE_STACK_START_TIMEOUT_MS ?? 120_000);

const logsDir = path.join(home, 'logs');
/** What `up` last laid out (how many brokers), so down, status and logs find every process. */
const layoutFile = path.join(home, 'stack.json');
const BROKER_COUNTS = [1, 3];
/** Broker n of a 3-broker stack uses the ports of broker 1 plus 10 × (n - 1): 9092, 9102, 9112. */
const PORT_STEP = 10;

/**
 * The brokers of a stack of `count`: one broker keeps the layout the stack always had (kafka.pid,
 * .stack/kafka/data, ports 9092/9093); three get kafka-N.pid, .stack/kafka-N/data and a block of
 * ports each (client, controller, replication).
 */
function brokerServices(count) {
  return Array.from({ length: count }, (_, i) => {
    const name = count === 1 ? 'kafka' : `kafka-${i + 1}`;
    const port = kafkaPort + PORT_STEP * i;
    return {
      name,
      kind: 'kafka',
      id: i + 1,
      port,
      controllerPort: controllerPort + PORT_STEP * i,
      ...(count === 1 ? {} : { internalPort: internalPort + PORT_STEP * i }),
      pidFile: path.join(home, `${name}.pid`),
      logFile: path.join(logsDir, `${name}.out`),
      dir: path.join(home, name),
      endpoint: `127.0.0.1:${port}`,
    };
  });
}

const registryService = {
  name: 'registry',
  kind: 'registry',
  port: registryPort,
  pidFile: path.join(home, 'registry.pid'),
  logFile: path.join(logsDir, 'registry.out'),
  endpoint: `http://127.0.0.1:${registryPort}/apis/ccompat/v7`,
};

/** The broker count `up` recorded; 1 for a stack from before the record (or none at all). */
function recordedBrokers() {
  try {
    const { brokers } = JSON.parse(fs.readFileSync(layoutFile, 'utf8'));
    return BROKER_COUNTS.includes(brokers) ? brokers : 1;
  } catch {
    return 1;
  }
}

/** Any broker process of either layout still running, with the count it belongs to. */
function runningLayout() {
  for (const count of BROKER_COUNTS) {
    if (brokerServices(count).some((service) => runningPid(service) !== undefined)) return count;
  }
  return undefined;
}

function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`stack: ${name}=${raw} is not a TCP port (1-65535)\n`);
    process.exit(2);
  }
  return port;
}

function log(line) {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------
// Processes

function readPid(service) {
  try {
    const pid = Number(fs.readFileSync(service.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** The pid of our own running process for a service, or undefined. */
function runningPid(service) {
  const pid = readPid(service);
  if (pid === undefined) return undefined;
  if (isAlive(pid)) return pid;
  fs.rmSync(service.pidFile, { force: true });
  return undefined;
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

function tail(file, lines) {
  try {
    const content = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return content.slice(-lines).join('\n');
  } catch {
    return '(no log yet)';
  }
}

function startProcess(service, command, args, env) {
  fs.mkdirSync(logsDir, { recursive: true });
  const out = fs.openSync(service.logFile, 'a');
  fs.writeSync(
    out,
    `\n==== ${new Date().toISOString()} starting ${service.name}: ${command} ${args.join(' ')}\n`,
  );
  const child = spawn(command, args, {
    cwd: home,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...env },
  });
  fs.closeSync(out);
  fs.writeFileSync(service.pidFile, String(child.pid));
  child.unref();
  return child.pid;
}

async function waitFor(service, pid, probe, what) {
  const deadline = Date.now() + startTimeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      fs.rmSync(service.pidFile, { force: true });
      throw new StackError(
        `${service.name} exited during start; last lines of ${service.logFile}:\n${tail(service.logFile, 25)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new StackError(
    `${service.name} did not ${what} within ${startTimeoutMs / 1000}s (${lastError?.message ?? 'no answer'}); see ${service.logFile}`,
  );
}

async function stopProcess(service) {
  const pid = runningPid(service);
  if (pid === undefined) {
    log(`${service.name}: not running`);
    return;
  }
  // Negative pid: the whole process group that `detached` gave the service.
  const signal = (sig) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (isAlive(pid)) {
    log(`${service.name}: did not stop within 30s, killing`);
    signal('SIGKILL');
  }
  fs.rmSync(service.pidFile, { force: true });
  log(`${service.name}: stopped (pid ${pid})`);
}

// ---------------------------------------------------------------------------
// Kafka

async function kafkaAnswers(service, brokers) {
  const { Kafka, logLevel } = require('kafkajs');
  const admin = new Kafka({
    clientId: 'tideline-stack',
    brokers: [service.endpoint],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length >= brokers;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** The cluster id already formatted into one node's storage (a half-formatted cluster keeps it). */
function formattedClusterId(brokers) {
  for (const broker of brokers) {
    try {
      const meta = fs.readFileSync(path.join(broker.dir, 'data', 'meta.properties'), 'utf8');
      const match = meta.match(/^cluster\.id=(.+)$/m);
      if (match) return match[1].trim();
    } catch {
      /* not formatted yet */
    }
  }
  return runtime.newClusterId();
}

/** Writes each broker's server.properties and formats the storage it does not have yet. */
function prepareKafka(plan, brokers) {
  const layout = brokers.map(({ port, controllerPort, internalPort }) => ({
    port,
    controllerPort,
    ...(internalPort === undefined ? {} : { internalPort }),
  }));
  const clusterId = formattedClusterId(brokers);
  for (const broker of brokers) {
    const dataDir = path.join(broker.dir, 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.mkdirSync(logsDir, { recursive: true });
    broker.configFile = path.join(broker.dir, 'server.properties');
    fs.writeFileSync(broker.configFile, runtime.kafkaNodeConfig({ id: broker.id, nodes: layout, dataDir }));
    runtime.formatStorage(plan, logsDir, broker.configFile, dataDir, {
      clusterId,
      standalone: brokers.length === 1,
    });
  }
}

async function upKafka(plan, brokers) {
  const pending = brokers.filter((broker) => runningPid(broker) === undefined);
  if (pending.length > 0) prepareKafka(plan, brokers);
  // Every broker at once: a 3-node quorum elects a controller only once a majority runs.
  const started = new Map();
  for (const broker of pending) {
    const pid = startProcess(
      broker,
      plan.kafkaJava,
      runtime.kafkaArgs(plan, logsDir, 'kafka.Kafka', [broker.configFile], runtime.brokerJvm('1g')),
    );
    started.set(broker, pid);
    log(`${broker.name}: starting (pid ${pid})`);
  }
  await Promise.all(
    brokers.map(async (broker) => {
      const pid = started.get(broker) ?? runningPid(broker);
      await waitFor(
        broker,
        pid,
        () => kafkaAnswers(broker, brokers.length),
        brokers.length === 1 ? 'answer metadata requests' : `see all ${brokers.length} brokers`,
      );
      log(`${broker.name}: ${started.has(broker) ? 'ready' : `already running (pid ${pid})`}`);
    }),
  );
}

// ---------------------------------------------------------------------------
// Registry

async function registryAnswers() {
  const response = await fetch(`${registryService.endpoint}/subjects`, {
    signal: AbortSignal.timeout(2000),
  });
  return response.ok;
}

async function setGlobalCompatibility() {
  const response = await fetch(`${registryService.endpoint}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'BACKWARD' }),
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) {
    throw new StackError(
      `registry refused the global BACKWARD compatibility rule: ${response.status} ${await response.text()}`,
    );
  }
}

async function upRegistry(plan, brokers) {
  const service = registryService;
  const pid = runningPid(service);
  if (pid !== undefined) {
    await waitFor(service, pid, registryAnswers, 'answer HTTP requests');
    log(`registry: already running (pid ${pid})`);
    return;
  }
  const started = startProcess(
    service,
    plan.apicurio.java.bin,
    runtime.registryArgs(plan, {
      port: registryPort,
      managementPort: registryManagementPort,
      bootstrap: brokers.map((broker) => broker.endpoint).join(','),
    }),
  );
  log(
    `registry: starting Apicurio Registry ${plan.apicurio.version} on Java ${plan.apicurio.java.major} (pid ${started})`,
  );
  await waitFor(service, started, registryAnswers, 'answer HTTP requests');
  await setGlobalCompatibility();
  log('registry: ready (global compatibility BACKWARD)');
}

// ---------------------------------------------------------------------------
// PostgreSQL

async function ensureDatabase() {
  const { Client } = require('pg');
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name))
    throw new StackError(`DATABASE_URL names an unusable database "${name}"`);
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new StackError(
      `PostgreSQL at ${target.host} is not reachable (${error.message}); start it or set DATABASE_URL`,
    );
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`);
      log(`postgres: created database ${name}`);
    } else {
      log(`postgres: database ${name} exists`);
    }
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------
// Commands

class UsageError extends StackError {}

/** `--brokers N` of `up` (default 1); anything else is a usage error (exit 2). */
function parseUpArgs(args) {
  let brokers = 1;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.split('=', 2);
    if (flag !== '--brokers') throw new UsageError(`up takes only --brokers 1|3 (got "${arg}")`);
    const raw = inline ?? args[++i];
    if (raw === undefined || !BROKER_COUNTS.map(String).includes(raw))
      throw new UsageError(`--brokers takes 1 or 3 (got "${raw ?? ''}")`);
    brokers = Number(raw);
  }
  return { brokers };
}

/** Before anything changes: every port a service we are about to start needs must be free. */
async function checkPorts(brokers) {
  const needed = [];
  for (const broker of brokers) {
    if (runningPid(broker) !== undefined) continue;
    needed.push([broker.port, 'point KAFKA_BROKERS at that Kafka and skip stack:up']);
    needed.push([broker.controllerPort, 'or set TIDELINE_KAFKA_CONTROLLER_PORT']);
    if (broker.internalPort !== undefined)
      needed.push([broker.internalPort, 'or set TIDELINE_KAFKA_INTERNAL_PORT']);
  }
  if (runningPid(registryService) === undefined) {
    needed.push([registryPort, 'point SCHEMA_REGISTRY_URL at that registry and skip stack:up']);
    needed.push([registryManagementPort, 'or set TIDELINE_REGISTRY_MANAGEMENT_PORT']);
  }
  for (const [port, advice] of needed) {
    if (await portOpen(port)) {
      throw new StackError(
        `port ${port} is held by another process, not by this stack; stop it, or ${advice}`,
      );
    }
  }
}

async function up(args) {
  const { brokers: count } = parseUpArgs(args);
  const running = runningLayout();
  if (running !== undefined && running !== count) {
    throw new StackError(
      `the stack runs ${running} broker${running === 1 ? '' : 's'}; run stack:down first to start ${count}`,
    );
  }
  const brokers = brokerServices(count);
  await checkPorts(brokers);
  const plan = runtime.choosePlan(cache);
  fs.mkdirSync(home, { recursive: true });
  runtime.resolveArtifacts(plan, { log });
  await ensureDatabase();
  fs.writeFileSync(layoutFile, `${JSON.stringify({ brokers: count })}\n`);
  await upKafka(plan, brokers);
  await upRegistry(plan, brokers);
  log('');
  log(`Tideline local stack is up (${count === 1 ? 'one broker' : `${count} brokers`}):`);
  log(`  KAFKA_BROKERS=${brokers.map((broker) => broker.endpoint).join(',')}`);
  log(`  SCHEMA_REGISTRY_URL=${registryService.endpoint}`);
  log(`  DATABASE_URL=${databaseUrl}`);
  // One broker cannot hold the catalog's 3 replicas; three can (the override then changes nothing).
  log(`  TOPIC_REPLICATION=${count}`);
  log(`  logs: ${logsDir}  (npm run stack:logs)`);
}

/** The services of the recorded layout, plus any broker of the other layout still running. */
function knownServices() {
  const running = runningLayout();
  const brokers = brokerServices(running ?? recordedBrokers());
  return { brokers, all: [...brokers, registryService] };
}

async function down() {
  const { brokers } = knownServices();
  // The registry first: it keeps its state in Kafka.
  await stopProcess(registryService);
  await Promise.all(brokers.map((broker) => stopProcess(broker)));
}

async function status() {
  let allUp = true;
  for (const service of knownServices().all) {
    const pid = runningPid(service);
    const answering = await portOpen(service.port);
    allUp &&= pid !== undefined && answering;
    const state =
      pid !== undefined
        ? `running (pid ${pid})${answering ? '' : ', not answering yet'}`
        : answering
          ? `port ${service.port} held by another process`
          : 'stopped';
    log(`${service.name.padEnd(8)} ${state.padEnd(32)} ${service.endpoint}`);
  }
  process.exitCode = allUp ? 0 : 3;
}

function logs(args) {
  const linesAt = args.indexOf('--lines');
  const lines = linesAt >= 0 ? Number(args[linesAt + 1]) : 50;
  if (!Number.isInteger(lines) || lines < 1) throw new StackError('--lines takes a positive whole number');
  const { brokers, all } = knownServices();
  const names = args.filter((arg, i) => !arg.startsWith('--') && (linesAt < 0 || i !== linesAt + 1));
  const chosen = new Set();
  for (const name of names) {
    // `kafka` is every broker; `kafka-2` one of a 3-broker stack.
    const matched = all.filter((s) => s.name === name || (name === 'kafka' && s.kind === 'kafka'));
    if (matched.length === 0)
      throw new StackError(
        `unknown service "${name}"; choose ${[...new Set(['kafka', ...brokers.map((b) => b.name)])].join(', ')} or registry`,
      );
    for (const service of matched) chosen.add(service);
  }
  for (const service of chosen.size > 0 ? chosen : all) {
    log(`==> ${service.logFile} <==`);
    log(tail(service.logFile, lines));
  }
}

const commands = { up, down, status, logs };

async function main() {
  const [command, ...args] = process.argv.slice(2);
  const run = commands[command];
  if (!run)
    throw new StackError(`usage: stack.mjs ${Object.keys(commands).join('|')} (got "${command ?? ''}")`);
  await run(args);
}

main().catch((error) => {
  const message =
    error instanceof StackError ? error.message : `unexpected failure: ${error?.stack ?? error}`;
  process.stderr.write(`stack: ${message}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
