// What running Kafka and Apicurio Registry from the Maven cache takes: the versions in
// pom.xml, a Java runtime new enough for each, resolving the jars into the cache, Kafka's
// command lines and storage format, and the node configuration of a 1- or 3-node KRaft
// cluster. Shared by stack.mjs (the local stack) and libs/testing's fault toolkit (private
// clusters that tests kill and restart), so both run the same Kafka the same way.
'use strict';
const { spawnSync } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

class StackError extends Error {}

const here = __dirname;
const repoRoot = path.resolve(here, '..', '..');
const pomPath = path.join(here, 'pom.xml');

function readPomVersions(file = pomPath) {
  const pom = fs.readFileSync(file, 'utf8');
  const prop = (name) => {
    const match = pom.match(new RegExp(`<${name}>([^<]+)</${name}>`));
    if (!match) throw new StackError(`${file} has no <${name}> property`);
    return match[1];
  };
  return {
    kafka: prop('kafka.version'),
    apicurio: prop('apicurio.version'),
    apicurioJava17: prop('apicurio.java17.version'),
  };
}

const versions = readPomVersions();

/** The jar cache: TIDELINE_STACK_CACHE, or <TIDELINE_STACK_HOME or .stack>/cache. */
function defaultCache(env = process.env) {
  const home = path.resolve(env.TIDELINE_STACK_HOME ?? path.join(repoRoot, '.stack'));
  return path.resolve(env.TIDELINE_STACK_CACHE ?? path.join(home, 'cache'));
}

function kafkaHomeIn(cache) {
  return path.join(cache, `kafka-${versions.kafka}`);
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

/** Which Java runs Kafka, and which Apicurio (version, Java, unpacked home) runs. */
function choosePlan(cache = defaultCache()) {
  const javas = findJavas();
  const kafkaJava = javas.find((java) => java.major >= 17);
  if (!kafkaJava) {
    throw new StackError(
      'no Java 17+ runtime was found (JAVA_HOME, PATH, /usr/lib/jvm); install one (apt-get install openjdk-17-jre-headless)',
    );
  }
  const modern = javas.find((java) => java.major >= 21);
  const apicurio = modern
    ? { version: versions.apicurio, java: modern }
    : { version: versions.apicurioJava17, java: kafkaJava };
  return {
    cache,
    kafkaHome: kafkaHomeIn(cache),
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
// Downloads

function requireCommand(command, args, hint) {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.error || result.status !== 0) {
    throw new StackError(`${command} was not found on PATH: ${hint}`);
  }
}

/** Resolves what the cache lacks with Maven (first run only); `log` gets one line when it does. */
function resolveArtifacts(plan, { log = () => {}, stdio = ['ignore', 'inherit', 'inherit'] } = {}) {
  const kafkaReady = fs.existsSync(path.join(plan.kafkaHome, 'libs', `kafka_2.13-${versions.kafka}.jar`));
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
    `resolving ${!kafkaReady ? `Kafka ${versions.kafka} ` : ''}${!apicurioReady ? `Apicurio Registry ${plan.apicurio.version} ` : ''}from Maven Central into ${plan.cache} (first run only)`,
  );
  const result = spawnSync(
    'mvn',
    [
      '-B',
      '-q',
      '-Dstyle.color=never',
      '-f',
      pomPath,
      `-Dstack.cache=${plan.cache}`,
      `-Dapicurio.version=${plan.apicurio.version}`,
      ...goals,
    ],
    { stdio, encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new StackError(
      `mvn could not resolve the stack's artifacts (exit ${result.status}); ${result.stderr ? result.stderr.slice(-2000) : 'see the Maven output above'}`,
    );
  }
}

// ---------------------------------------------------------------------------
// Kafka

/** JVM arguments running `mainClass` from the Kafka jars, logging into `logsDir`. */
function kafkaArgs(plan, logsDir, mainClass, args, extraJvm = []) {
  return [
    ...extraJvm,
    `-Dlog4j2.configurationFile=${path.join(here, 'kafka', 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${logsDir}`,
    '-cp',
    path.join(plan.kafkaHome, 'libs', '*'),
    mainClass,
    ...args,
  ];
}

const brokerJvm = (heap = '1g') => ['-Xms256m', `-Xmx${heap}`, '-XX:+UseG1GC', '-Djava.awt.headless=true'];

/**
 * A KRaft cluster id: a random UUID as base64url. Never one that starts with "-" (about 1 in
 * 64 would), which kafka-storage's argument parser reads as an option; Kafka's own
 * Uuid.randomUuid() skips those too.
 */
function newClusterId() {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Formats a node's storage once (a restart keeps it). One node: `--standalone` (a dynamic
 * quorum of itself); several: the static quorum in the config's controller.quorum.voters.
 */
function formatStorage(
  plan,
  logsDir,
  configFile,
  dataDir,
  { clusterId = newClusterId(), standalone = true } = {},
) {
  if (fs.existsSync(path.join(dataDir, 'meta.properties'))) return;
  const result = spawnSync(
    plan.kafkaJava,
    kafkaArgs(plan, logsDir, 'kafka.tools.StorageTool', [
      'format',
      ...(standalone ? ['--standalone'] : []),
      '-t',
      clusterId,
      '-c',
      configFile,
    ]),
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new StackError(
      `formatting Kafka storage failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
}

/**
 * server.properties of node `id` (1-based) of a cluster whose nodes are all broker and
 * controller. `nodes[i]` = { port, controllerPort, advertisedPort? }. With one node this is the
 * local stack's file with its ports; with several, a static quorum of every node's controller,
 * internal topics replicated to every node with min ISR nodes - 1, and two listeners: EXTERNAL
 * for clients (advertised at `advertisedPort`, e.g. a fault proxy) and INTERNAL for replication.
 */
function kafkaNodeConfig({ id, nodes, dataDir, overrides = {} }) {
  const self = nodes[id - 1];
  if (!self) throw new StackError(`no node ${id} among ${nodes.length}`);
  const settings = new Map();
  const set = (key, value) => settings.set(key, String(value));
  set('node.id', id);
  if (nodes.length === 1 && self.internalPort === undefined) {
    set('controller.quorum.bootstrap.servers', `127.0.0.1:${self.controllerPort}`);
    set('listeners', `PLAINTEXT://127.0.0.1:${self.port},CONTROLLER://127.0.0.1:${self.controllerPort}`);
    set(
      'advertised.listeners',
      `PLAINTEXT://127.0.0.1:${self.advertisedPort ?? self.port},CONTROLLER://127.0.0.1:${self.controllerPort}`,
    );
  } else {
    if (self.internalPort === undefined) throw new StackError(`node ${id} needs an internalPort`);
    const replicas = nodes.length;
    const minIsr = Math.max(1, replicas - 1);
    set('controller.quorum.voters', nodes.map((n, i) => `${i + 1}@127.0.0.1:${n.controllerPort}`).join(','));
    set(
      'listeners',
      `EXTERNAL://127.0.0.1:${self.port},INTERNAL://127.0.0.1:${self.internalPort},CONTROLLER://127.0.0.1:${self.controllerPort}`,
    );
    set(
      'advertised.listeners',
      `EXTERNAL://127.0.0.1:${self.advertisedPort ?? self.port},INTERNAL://127.0.0.1:${self.internalPort},CONTROLLER://127.0.0.1:${self.controllerPort}`,
    );
    set('inter.broker.listener.name', 'INTERNAL');
    set('listener.security.protocol.map', 'CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT');
    set('offsets.topic.replication.factor', replicas);
    set('transaction.state.log.replication.factor', replicas);
    set('transaction.state.log.min.isr', minIsr);
    set('share.coordinator.state.topic.replication.factor', replicas);
    set('share.coordinator.state.topic.min.isr', minIsr);
    set('default.replication.factor', replicas);
    set('min.insync.replicas', minIsr);
  }
  set('log.dirs', dataDir);
  for (const [key, value] of Object.entries(overrides)) set(key, value);
  // The template's other settings; a quorum is given by voters or by bootstrap servers, never both.
  const template = fs.readFileSync(path.join(here, 'kafka', 'server.properties'), 'utf8');
  const quorum = ['controller.quorum.bootstrap.servers', 'controller.quorum.voters'];
  const kept = template.split('\n').filter((line) => {
    const key = line.split('=')[0].trim();
    return !line.includes('=') || line.startsWith('#') || !(settings.has(key) || quorum.includes(key));
  });
  const written = [...settings].map(([key, value]) => `${key}=${value}`);
  return `${[...kept, '# written by tools/local-stack/runtime.cjs', ...written].join('\n').trimEnd()}\n`;
}

// ---------------------------------------------------------------------------
// Apicurio Registry

/** JVM arguments of an Apicurio Registry with kafkasql storage (its state lives in Kafka). */
function registryArgs(plan, { port, managementPort, bootstrap, heap = '768m', extra = [] }) {
  const jar = apicurioJar(plan.apicurio.home);
  if (!jar)
    throw new StackError(
      `Apicurio Registry is not in ${plan.apicurio.home}; resolve the stack's artifacts first`,
    );
  return [
    '-Xms128m',
    `-Xmx${heap}`,
    '-XX:+UseG1GC',
    '-Dquarkus.http.host=127.0.0.1',
    `-Dquarkus.http.port=${port}`,
    '-Dquarkus.log.console.json=false',
    // Health endpoints on the main port instead of a second one on 0.0.0.0:9000.
    '-Dquarkus.management.enabled=false',
    // Apicurio 3.3 binds the management interface anyway (the setting is fixed at build time):
    // a second registry on the machine needs a port of its own for it.
    ...(managementPort === undefined
      ? []
      : ['-Dquarkus.management.host=127.0.0.1', `-Dquarkus.management.port=${managementPort}`]),
    '-Dapicurio.storage.kind=kafkasql',
    `-Dapicurio.kafkasql.bootstrap.servers=${bootstrap}`,
    '-Dapicurio.rules.global.compatibility=BACKWARD',
    ...extra,
    '-jar',
    jar,
  ];
}

module.exports = {
  StackError,
  repoRoot,
  versions,
  readPomVersions,
  defaultCache,
  findJavas,
  choosePlan,
  apicurioJar,
  resolveArtifacts,
  kafkaArgs,
  brokerJvm,
  newClusterId,
  formatStorage,
  kafkaNodeConfig,
  registryArgs,
};
