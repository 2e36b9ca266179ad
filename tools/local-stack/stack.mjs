#!/usr/bin/env node
// The local stack without Docker: Apache Kafka (KRaft) and Apicurio Registry resolved
// from Maven Central and run as background processes, plus the PostgreSQL database.
// Usage: node tools/local-stack/stack.mjs up|down|status|logs [kafka|registry] [--lines N]
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

class StackError extends Error {}

const require = createRequire(import.meta.url);

// kafkajs 2.2.4 schedules a negative timeout on Node 24 (tulios/kafkajs#1751): harmless, but noisy.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning')
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
});
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

const versions = readPomVersions(path.join(here, 'pom.xml'));
const home = path.resolve(process.env.TIDELINE_STACK_HOME ?? path.join(repoRoot, '.stack'));
const cache = path.resolve(process.env.TIDELINE_STACK_CACHE ?? path.join(home, 'cache'));
const kafkaPort = portFromEnv('TIDELINE_KAFKA_PORT', 9092);
const controllerPort = portFromEnv('TIDELINE_KAFKA_CONTROLLER_PORT', kafkaPort + 1);
const registryPort = portFromEnv('TIDELINE_REGISTRY_PORT', 8081);
// Apicurio's prebuilt jar always opens Quarkus' management interface (health, metrics): a second
// stack beside the first needs its own port for it too.
const registryManagementPort = portFromEnv(
  'TIDELINE_REGISTRY_MANAGEMENT_PORT',
  registryPort === 8081 ? 9000 : registryPort + 1,
);
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tideline';
const startTimeoutMs = Number(process.env.TIDELINE_STACK_START_TIMEOUT_MS ?? 120_000);

const kafkaHome = path.join(cache, `kafka-${versions.kafka}`);
const logsDir = path.join(home, 'logs');

const services = {
  kafka: {
    name: 'kafka',
    port: kafkaPort,
    pidFile: path.join(home, 'kafka.pid'),
    logFile: path.join(logsDir, 'kafka.out'),
    endpoint: `127.0.0.1:${kafkaPort}`,
  },
  registry: {
    name: 'registry',
    port: registryPort,
    pidFile: path.join(home, 'registry.pid'),
    logFile: path.join(logsDir, 'registry.out'),
    endpoint: `http://127.0.0.1:${registryPort}/apis/ccompat/v7`,
  },
};

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

function readPomVersions(pomPath) {
  const pom = fs.readFileSync(pomPath, 'utf8');
  const prop = (name) => {
    const match = pom.match(new RegExp(`<${name}>([^<]+)</${name}>`));
    if (!match) throw new StackError(`${pomPath} has no <${name}> property`);
    return match[1];
  };
  return {
    kafka: prop('kafka.version'),
    apicurio: prop('apicurio.version'),
    apicurioJava17: prop('apicurio.java17.version'),
  };
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
// Java runtimes: Kafka 4.x needs 17+, Apicurio 3.3.x needs 21+.

function javaMajor(javaBin) {
  const result = spawnSync(javaBin, ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  const match = `${result.stderr}${result.stdout}`.match(/version "(\d+)(?:\.(\d+))?/);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

/** Every Java runtime we can find: JAVA_HOME, PATH, then the usual JVM folders. */
function findJavas() {
  const candidates = [];
  if (process.env.JAVA_HOME) candidates.push(path.join(process.env.JAVA_HOME, 'bin', 'java'));
  candidates.push('java');
  for (const root of ['/usr/lib/jvm', '/opt/java', '/Library/Java/JavaVirtualMachines']) {
    let entries = [];
    try {
      entries = fs.readdirSync(root);
    } catch {
      continue;
    }
    for (const entry of entries) {
      for (const bin of [
        path.join(root, entry, 'bin', 'java'),
        path.join(root, entry, 'Contents', 'Home', 'bin', 'java'),
      ]) {
        if (fs.existsSync(bin)) candidates.push(bin);
      }
    }
  }
  const seen = new Set();
  const javas = [];
  for (const bin of candidates) {
    const major = javaMajor(bin);
    const key = `${major}:${bin === 'java' ? bin : fs.realpathSync(bin)}`;
    if (major === undefined || seen.has(key)) continue;
    seen.add(key);
    javas.push({ bin, major });
  }
  return javas;
}

/** The first Java that is new enough, JAVA_HOME and PATH first. */
function pickJava(javas, minMajor) {
  return javas.find((java) => java.major >= minMajor);
}

function choosePlan() {
  const javas = findJavas();
  const kafkaJava = pickJava(javas, 17);
  if (!kafkaJava) {
    throw new StackError(
      'no Java 17+ runtime was found (JAVA_HOME, PATH, /usr/lib/jvm); install one (apt-get install openjdk-17-jre-headless)',
    );
  }
  const modern = pickJava(javas, 21);
  const apicurio = modern
    ? { version: versions.apicurio, java: modern }
    : { version: versions.apicurioJava17, java: kafkaJava };
  return {
    kafkaJava: kafkaJava.bin,
    apicurio: { ...apicurio, home: path.join(cache, `apicurio-${apicurio.version}`) },
  };
}

function apicurioJar(apicurioHome) {
  const fastJar = path.join(apicurioHome, 'quarkus-run.jar');
  if (fs.existsSync(fastJar)) return fastJar;
  const runner =
    fs.existsSync(apicurioHome) && fs.readdirSync(apicurioHome).find((name) => name.endsWith('-runner.jar'));
  return runner ? path.join(apicurioHome, runner) : undefined;
}

// ---------------------------------------------------------------------------
// Prerequisites and downloads

function requireCommand(command, args, hint) {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.error || result.status !== 0) {
    throw new StackError(`${command} was not found on PATH: ${hint}`);
  }
}

function resolveArtifacts(plan) {
  const kafkaReady = fs.existsSync(path.join(kafkaHome, 'libs', `kafka_2.13-${versions.kafka}.jar`));
  const apicurioReady = apicurioJar(plan.apicurio.home) !== undefined;
  if (kafkaReady && apicurioReady) return;
  requireCommand(
    'mvn',
    ['--version'],
    'install Apache Maven (apt-get install maven) to resolve Kafka and Apicurio from Maven Central',
  );
  const goals = [];
  if (!kafkaReady) goals.push('dependency:copy-dependencies@kafka');
  if (!apicurioReady) goals.push('dependency:unpack@apicurio');
  log(
    `resolving ${!kafkaReady ? `Kafka ${versions.kafka} ` : ''}${!apicurioReady ? `Apicurio Registry ${plan.apicurio.version} ` : ''}from Maven Central into ${cache} (first run only)`,
  );
  const result = spawnSync(
    'mvn',
    [
      '-B',
      '-q',
      '-Dstyle.color=never',
      '-f',
      path.join(here, 'pom.xml'),
      `-Dstack.cache=${cache}`,
      `-Dapicurio.version=${plan.apicurio.version}`,
      ...goals,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (result.status !== 0) {
    throw new StackError(
      `mvn could not resolve the stack's artifacts (exit ${result.status}); see the Maven output above`,
    );
  }
}

// ---------------------------------------------------------------------------
// Kafka

async function kafkaAnswers() {
  const { Kafka, logLevel } = require('kafkajs');
  const admin = new Kafka({
    clientId: 'tideline-stack',
    brokers: [`127.0.0.1:${kafkaPort}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function kafkaArgs(mainClass, args, extraJvm = []) {
  return [
    ...extraJvm,
    `-Dlog4j2.configurationFile=${path.join(here, 'kafka', 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${logsDir}`,
    '-cp',
    path.join(kafkaHome, 'libs', '*'),
    mainClass,
    ...args,
  ];
}

function writeKafkaConfig() {
  const dataDir = path.join(home, 'kafka', 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const base = fs.readFileSync(path.join(here, 'kafka', 'server.properties'), 'utf8');
  const config = base
    .replaceAll('127.0.0.1:9093', `127.0.0.1:${controllerPort}`)
    .replaceAll('127.0.0.1:9092', `127.0.0.1:${kafkaPort}`);
  const file = path.join(home, 'kafka', 'server.properties');
  fs.writeFileSync(file, `${config}\n# written by stack.mjs\nlog.dirs=${dataDir}\n`);
  return { file, dataDir };
}

function formatStorage(javaBin, configFile, dataDir) {
  if (fs.existsSync(path.join(dataDir, 'meta.properties'))) return;
  const clusterId = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
  const result = spawnSync(
    javaBin,
    kafkaArgs('kafka.tools.StorageTool', ['format', '--standalone', '-t', clusterId, '-c', configFile]),
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new StackError(
      `formatting Kafka storage failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
}

async function upKafka(plan) {
  const service = services.kafka;
  const pid = runningPid(service);
  if (pid !== undefined) {
    await waitFor(service, pid, kafkaAnswers, 'answer metadata requests');
    log(`kafka: already running (pid ${pid})`);
    return;
  }
  const { file, dataDir } = writeKafkaConfig();
  formatStorage(plan.kafkaJava, file, dataDir);
  const started = startProcess(
    service,
    plan.kafkaJava,
    kafkaArgs('kafka.Kafka', [file], ['-Xms256m', '-Xmx1g', '-XX:+UseG1GC', '-Djava.awt.headless=true']),
  );
  log(`kafka: starting (pid ${started})`);
  await waitFor(service, started, kafkaAnswers, 'answer metadata requests');
  log('kafka: ready');
}

// ---------------------------------------------------------------------------
// Registry

async function registryAnswers() {
  const response = await fetch(`${services.registry.endpoint}/subjects`, {
    signal: AbortSignal.timeout(2000),
  });
  return response.ok;
}

async function setGlobalCompatibility() {
  const response = await fetch(`${services.registry.endpoint}/config`, {
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

async function upRegistry(plan) {
  const service = services.registry;
  const pid = runningPid(service);
  if (pid !== undefined) {
    await waitFor(service, pid, registryAnswers, 'answer HTTP requests');
    log(`registry: already running (pid ${pid})`);
    return;
  }
  const started = startProcess(service, plan.apicurio.java.bin, [
    '-Xms128m',
    '-Xmx768m',
    '-XX:+UseG1GC',
    '-Dquarkus.http.host=127.0.0.1',
    `-Dquarkus.http.port=${registryPort}`,
    '-Dquarkus.log.console.json=false',
    // Health endpoints on the main port; the prebuilt jar still opens the management
    // interface (a build-time choice), so keep it on loopback and on a port of this stack.
    '-Dquarkus.management.enabled=false',
    '-Dquarkus.management.host=127.0.0.1',
    `-Dquarkus.management.port=${registryManagementPort}`,
    '-Dapicurio.storage.kind=kafkasql',
    `-Dapicurio.kafkasql.bootstrap.servers=127.0.0.1:${kafkaPort}`,
    '-Dapicurio.rules.global.compatibility=BACKWARD',
    '-jar',
    apicurioJar(plan.apicurio.home),
  ]);
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

/** Before anything changes: every port a service we are about to start needs must be free. */
async function checkPorts() {
  const needed = [];
  if (runningPid(services.kafka) === undefined) {
    needed.push([kafkaPort, 'point KAFKA_BROKERS at that Kafka and skip stack:up']);
    needed.push([controllerPort, 'or set TIDELINE_KAFKA_CONTROLLER_PORT']);
  }
  if (runningPid(services.registry) === undefined) {
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

async function up() {
  await checkPorts();
  const plan = choosePlan();
  fs.mkdirSync(home, { recursive: true });
  resolveArtifacts(plan);
  await ensureDatabase();
  await upKafka(plan);
  await upRegistry(plan);
  log('');
  log('Tideline local stack is up:');
  log(`  KAFKA_BROKERS=${services.kafka.endpoint}`);
  log(`  SCHEMA_REGISTRY_URL=${services.registry.endpoint}`);
  log(`  DATABASE_URL=${databaseUrl}`);
  log(`  logs: ${logsDir}  (npm run stack:logs)`);
}

async function down() {
  // The registry first: it keeps its state in Kafka.
  await stopProcess(services.registry);
  await stopProcess(services.kafka);
}

async function status() {
  let allUp = true;
  for (const service of Object.values(services)) {
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
  const names = args.filter((arg, i) => !arg.startsWith('--') && i !== linesAt + 1);
  for (const name of names) {
    if (!(name in services)) throw new StackError(`unknown service "${name}"; choose kafka or registry`);
  }
  for (const name of names.length > 0 ? names : Object.keys(services)) {
    const service = services[name];
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
  process.exitCode = 1;
});
