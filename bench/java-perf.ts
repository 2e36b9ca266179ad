import { spawnSync } from 'node:child_process';
import { runCli } from '@tideline/testing';
import fs from 'node:fs';
import path from 'node:path';
import { BROKER } from './env';

/**
 * Kafka's own perf tools (org.apache.kafka.tools.ConsumerPerformance and ProducerPerformance) with the java and the
 * Kafka jars tools/local-stack/stack.mjs runs the broker with: the machine's ceiling.
 */
export interface JavaTools {
  java: string;
  javaMajor: number;
  classpath: string;
  kafkaVersion: string;
}

const repoRoot = path.resolve(__dirname, '..');

function javaMajor(bin: string): number | undefined {
  const result = spawnSync(bin, ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  const match = `${result.stderr}${result.stdout}`.match(/version "(\d+)(?:\.(\d+))?/);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

/** Same search order as stack.mjs: JAVA_HOME, PATH, /usr/lib/jvm; the first Java 17+. */
function findJava(): { bin: string; major: number } | undefined {
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(path.join(process.env.JAVA_HOME, 'bin', 'java'));
  candidates.push('java');
  for (const root of ['/usr/lib/jvm', '/opt/java']) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(root);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const bin = path.join(root, entry, 'bin', 'java');
      if (fs.existsSync(bin)) candidates.push(bin);
    }
  }
  for (const bin of candidates) {
    const major = javaMajor(bin);
    if (major !== undefined && major >= 17) return { bin, major };
  }
  return undefined;
}

/** The Java tools, or a reason they cannot run. */
export function findJavaTools(): JavaTools | string {
  const pom = fs.readFileSync(path.join(repoRoot, 'tools', 'local-stack', 'pom.xml'), 'utf8');
  const kafkaVersion = pom.match(/<kafka\.version>([^<]+)<\/kafka\.version>/)?.[1];
  if (!kafkaVersion) return 'tools/local-stack/pom.xml names no kafka.version';
  const home = path.resolve(process.env.TIDELINE_STACK_HOME ?? path.join(repoRoot, '.stack'));
  const cache = path.resolve(process.env.TIDELINE_STACK_CACHE ?? path.join(home, 'cache'));
  const libs = path.join(cache, `kafka-${kafkaVersion}`, 'libs');
  if (!fs.existsSync(path.join(libs, `kafka-tools-${kafkaVersion}.jar`)))
    return `${libs} has no kafka-tools-${kafkaVersion}.jar (run npm run stack:up once)`;
  const java = findJava();
  if (!java) return 'no Java 17+ runtime found (JAVA_HOME, PATH, /usr/lib/jvm)';
  return { java: java.bin, javaMajor: java.major, classpath: path.join(libs, '*'), kafkaVersion };
}

async function runJava(
  tools: JavaTools,
  mainClass: string,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string }> {
  // The perf tools' default heap (kafka-*-perf-test.sh): 512 MiB.
  const { code, stdout, stderr } = await runCli(
    tools.java,
    ['-Xmx512M', '-cp', tools.classpath, mainClass, ...args],
    { timeoutMs },
  );
  if (code !== 0) {
    const tail = (stderr || stdout).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${mainClass} exited with ${code}: ${tail}`);
  }
  return { stdout, stderr };
}

export interface JavaConsumeResult {
  records: number;
  /** records/s of the fetch phase (first fetch to last record, without the group join). */
  rate: number;
  fetchSeconds: number;
  rebalanceMs: number;
}

/** ConsumerPerformance: reads `records` from the earliest offset with a fresh group. */
export async function javaConsume(
  tools: JavaTools,
  topic: string,
  records: number,
  groupId: string,
  timeoutMs: number,
): Promise<JavaConsumeResult> {
  const { stdout } = await runJava(
    tools,
    'org.apache.kafka.tools.ConsumerPerformance',
    ['--bootstrap-server', BROKER, '--topic', topic, '--num-records', String(records), '--group', groupId],
    timeoutMs,
  );
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  // rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = stdout.trim().split('\n');
  const headerIndex = lines.findIndex((line) => line.includes('fetch.nMsg.sec'));
  const header = lines[headerIndex]?.split(',').map((s) => s.trim());
  const row = lines[headerIndex + 1]?.split(',').map((s) => s.trim());
  if (!header || !row) throw new Error(`unexpected ConsumerPerformance output: ${stdout.trim()}`);
  const field = (name: string) => Number(row[header.indexOf(name)]);
  const consumed = field('data.consumed.in.nMsg');
  if (consumed < records) throw new Error(`ConsumerPerformance read ${consumed} of ${records} records`);
  return {
    records: consumed,
    rate: field('fetch.nMsg.sec'),
    fetchSeconds: field('fetch.time.ms') / 1000,
    rebalanceMs: field('rebalance.time.ms'),
  };
}

export interface JavaProduceResult {
  records: number;
  rate: number;
  avgLatencyMs: number;
}

export const JAVA_PRODUCER_PROPS = ['acks=all', 'enable.idempotence=true'];

/** ProducerPerformance: `records` records of `recordSize` bytes, unthrottled, idempotent, acks=all. */
export async function javaProduce(
  tools: JavaTools,
  topic: string,
  records: number,
  recordSize: number,
  timeoutMs: number,
): Promise<JavaProduceResult> {
  const { stdout } = await runJava(
    tools,
    'org.apache.kafka.tools.ProducerPerformance',
    [
      '--bootstrap-server',
      BROKER,
      '--topic',
      topic,
      '--num-records',
      String(records),
      '--record-size',
      String(recordSize),
      '--throughput',
      '-1',
      '--command-property',
      ...JAVA_PRODUCER_PROPS,
    ],
    timeoutMs,
  );
  // The summary: "N records sent, X records/sec (Y MB/sec), Z ms avg latency, …"
  const summary = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((line) => /records sent, [\d.]+ records\/sec/.test(line));
  const match = summary?.match(/^(\d+) records sent, ([\d.]+) records\/sec .*?([\d.]+) ms avg latency/);
  if (!match) throw new Error(`unexpected ProducerPerformance output: ${stdout.trim()}`);
  return { records: Number(match[1]), rate: Number(match[2]), avgLatencyMs: Number(match[3]) };
}
