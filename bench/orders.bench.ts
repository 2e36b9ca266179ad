// The orders benchmark (docs/benchmarks.md): end-to-end latency POST /orders → SSE at fixed
// arrival rates, and ingest throughput of POST /orders against a fastify no-op route and a
// naive one-awaited-send service, with order-api, order-processor(s) and order-projection as
// OS processes on the local stack, in one run.
//   npm run bench:orders -- --help
// On demand only (never part of npm test); talks to 127.0.0.1 only; every loop is bounded;
// every child process is stopped at the end, also on Ctrl-C or a failure.
import os from 'node:os';
import path from 'node:path';
import { orderPlacedTopic } from '@tideline/contracts';
import {
  freePort,
  probeInfra,
  startKafkaCluster,
  startPrivateRegistry,
  testInfra,
  topicEnds,
  type KafkaCluster,
  type PrivateRegistry,
} from '@tideline/testing';
import { Pool as PgPool } from 'pg';
import { Pool as HttpPool } from 'undici';
import { commitLabel, kafkaVersion, waitForQuiet } from './conditions';
import { BenchEnv } from './env';
import { CpuMeter } from './orders-cpu';
import { commandLine } from './flags';
import { parseArgs, usage } from './orders-args';
import {
  runIngest,
  stopLoad,
  summarizeIngest,
  type IngestRow,
  type IngestRun,
  type IngestTarget,
} from './orders-ingest';
import { KafkaProbe, SseTap, runRate, waitForFirstConfirmation, type LatencyResult } from './orders-latency';
import {
  countsTable,
  cpuTable,
  evaluateTargets,
  ingestTable,
  latencyTable,
  stageTable,
  targetTable,
  type TargetResult,
} from './orders-report';
import {
  OrdersStack,
  killChildrenNow,
  liveChildren,
  startProcess,
  stopAllChildren,
  type BenchProcess,
} from './orders-stack';
import type { IngestServerMode } from './servers/ingest-server';

const serverEntry = path.join(__dirname, 'servers', 'ingest-server.ts');

function progress(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function main(): Promise<number> {
  const options = commandLine('bench:orders', parseArgs, usage);
  if (typeof options === 'number') return options;

  let stopping = false;
  const aborted = () => stopping;
  let cleanup: () => Promise<void> = () => Promise.resolve();
  const interrupted = (signal: NodeJS.Signals) => {
    if (stopping) {
      progress(`${signal} again: killing the child processes`);
      killChildrenNow();
      process.exit(130);
    }
    stopping = true;
    progress(`${signal}: stopping the load, the services and deleting what the benchmark created…`);
    stopLoad();
    void cleanup()
      .then(() => stopOwnStack())
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  process.on('exit', killChildrenNow);

  // The services write to the catalog's topics (their names are fixed in the contracts). Unless
  // pointed at a cluster (KAFKA_BROKERS) or told to use the tests' stack, the run gets a Kafka
  // broker and a registry of its own, so it never grows the topics the tests use.
  let ownStack: { cluster: KafkaCluster; registry?: PrivateRegistry } | undefined;
  const stopOwnStack = async () => {
    const stack = ownStack;
    ownStack = undefined;
    await stack?.registry?.stop().catch(() => undefined);
    await stack?.cluster.stop().catch(() => undefined);
  };
  if (process.env['KAFKA_BROKERS'] === undefined && !options.writeSharedTopics) {
    progress(
      'bench:orders: starting a Kafka broker and a registry of its own for this run (deleted at the end, records included; --write-shared-topics runs on the stack the tests use)',
    );
    try {
      ownStack = { cluster: await startKafkaCluster({ brokers: 1, heap: '1g' }) };
      ownStack.registry = await startPrivateRegistry({ bootstrap: ownStack.cluster.bootstrap });
    } catch (error) {
      await stopOwnStack();
      process.stderr.write(`bench:orders: could not start a stack of its own: ${(error as Error).message}\n`);
      return 1;
    }
    process.env['KAFKA_BROKERS'] = ownStack.cluster.bootstrap;
    process.env['SCHEMA_REGISTRY_URL'] = ownStack.registry.url;
    process.env['TOPIC_REPLICATION'] = '1';
  }
  const brokers = testInfra().kafkaBrokers.join(',');
  progress(
    `bench:orders writes every order it places to ${orderPlacedTopic.name} (and the decisions to the other order topics) on ${brokers}${ownStack ? ' (its own broker)' : "; those records stay for the topics' retention"}`,
  );
  const infra = await probeInfra(testInfra());
  const missing = Object.entries(infra)
    .filter(([, up]) => !up)
    .map(([name]) => name);
  if (missing.length > 0) {
    process.stderr.write(
      `bench:orders: not reachable on 127.0.0.1: ${missing.join(', ')} (npm run stack:up)\n`,
    );
    await stopOwnStack();
    return 1;
  }

  const quiet = await waitForQuiet(options, aborted, progress);
  if (stopping) return 130; // the signal handler stops the own stack
  const started = new Date();
  const loadAtStart = os.loadavg();
  const loadSamples: number[] = [loadAtStart[0] ?? 0];
  const sampler = setInterval(() => loadSamples.push(os.loadavg()[0] ?? 0), 5_000);
  const phases: Record<string, { seconds: number; loadStart: number; loadEnd: number }> = {};
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const loadStart = os.loadavg()[0] ?? 0;
    try {
      return await run();
    } finally {
      phases[name] = { seconds: (performance.now() - t0) / 1000, loadStart, loadEnd: os.loadavg()[0] ?? 0 };
    }
  };

  // First: createKafka (in BenchEnv) installs the filter for kafkajs's TimeoutNegativeWarning on Node 24.
  const env = new BenchEnv();
  const placedEnd = async () =>
    (await topicEnds([orderPlacedTopic.name]).catch(() => [])).reduce((sum, p) => sum + Number(p.offset), 0);
  const placedBefore = await placedEnd();
  const stack = new OrdersStack();
  const cpu = new CpuMeter();
  const cpuAtStart = cpu.snapshot();
  const servers: BenchProcess[] = [];
  let api: HttpPool | undefined;
  let tap: SseTap | undefined;
  let probe: KafkaProbe | undefined;
  let database: PgPool | undefined;
  let cleaning: Promise<void> | undefined;
  const failures: string[] = [];
  cleanup = () =>
    (cleaning ??= (async () => {
      tap?.close();
      await probe?.stop();
      await api?.close().catch(() => undefined);
      await database?.end().catch(() => undefined);
      await Promise.all(servers.map((s) => s.stop('SIGTERM', 10_000)));
      const removed = await stack.stop();
      const bench = await env.cleanup();
      await stopAllChildren();
      progress(
        `stopped ${removed.processes + servers.length} processes; deleted the database, ${removed.topics + bench.topics} topics and the groups (${liveChildren()} child processes left)`,
      );
    })());

  const latency: LatencyResult[] = [];
  let ingestRuns: IngestRun[] = [];
  let ingestRows: IngestRow[] = [];
  let firstConfirmationMs: number | undefined;
  const targets: IngestTarget[] = [];
  try {
    const consumers = options.only !== 'ingest';
    progress(
      `orders benchmark: ${consumers ? `order-api, ${options.processors} order-processor(s), order-projection` : 'order-api'} as OS processes; load ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
    );
    await phase('start-up', () => stack.start({ processors: options.processors, consumers }));
    progress(`services ready (run ${stack.run}, start-up ${phases['start-up']!.seconds.toFixed(0)} s)`);
    cpu.label(stack.api?.child.pid, 'order-api');
    cpu.label(stack.projection?.child.pid, 'order-projection');
    for (const processor of stack.processors)
      cpu.label(processor.child.pid, 'order-processor (all instances)');

    if (options.only !== 'ingest' && !stopping) {
      await phase('latency', async () => {
        api = new HttpPool(stack.api!.url, {
          connections: options.latencyConnections,
          pipelining: 1,
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
          keepAliveTimeout: 60_000,
        });
        tap = await SseTap.open(`${stack.projection!.url}/stream`);
        probe = new KafkaProbe();
        await probe.start();
        database = new PgPool({ connectionString: stack.databaseUrl, max: 2 });
        const deps = {
          api,
          tap,
          probe,
          database,
          projectionGroup: stack.projectionGroup,
          projectionUrl: stack.projection!.url,
          progress,
          aborted,
          cpu,
        };
        firstConfirmationMs = await waitForFirstConfirmation(deps, stack.sku, stack.api!.url);
        progress(
          `first order confirmed on the stream after ${(firstConfirmationMs / 1000).toFixed(1)} s; measuring`,
        );
        const customers = Array.from(
          { length: options.customers },
          (_, i) => `${stack.run}-customer-${String(i).padStart(5, '0')}`,
        );
        for (const rate of options.rates) {
          if (stopping) break;
          const result = await runRate(
            {
              rate,
              warmupS: options.warmupS,
              durationS: options.durationS,
              customers,
              sku: stack.sku,
              drainS: 30,
            },
            deps,
          );
          latency.push(result);
          if (stopping) break;
          const p = (s: typeof result.pending) =>
            s ? `p50 ${s.p50.toFixed(1)} / p99 ${s.p99.toFixed(1)} ms` : 'n/a';
          progress(
            `[latency ${rate}/s] done: 202 ${p(result.http)}; SSE pending ${p(result.pending)}; confirmed ${p(result.confirmed)}; not confirmed ${result.unconfirmed}`,
          );
          const crashed = stack.crashed();
          if (crashed.length > 0)
            throw new Error(`services exited during the run: ${crashed.join(', ')}\n${stack.outputs()}`);
          if (tap.ended !== undefined) throw new Error(`the SSE stream ended: ${tap.ended}`);
        }
      });
      tap?.close();
      await probe?.stop();
      await api?.close();
      api = undefined;
    }

    if (options.only !== 'latency' && !stopping) {
      await phase('ingest', async () => {
        if (consumers) {
          progress('stopping the processors and the projection: order-api alone takes the ingest load');
          await stack.stopConsumers();
        }
        const topic = await env.rawTopic('naive-orders', orderPlacedTopic.partitions);
        const server = async (mode: IngestServerMode) => {
          const started = await startProcess(`ingest-${mode}`, serverEntry, {
            port: await freePort(),
            env: { INGEST_MODE: mode, BENCH_TOPIC: topic, KAFKA_BROKERS: testInfra().kafkaBrokers.join(',') },
          });
          servers.push(started);
          cpu.label(started.child.pid, `ingest server: ${mode}`);
          return started;
        };
        const naive = await server('naive');
        const noop = await server('noop');
        targets.push(
          { id: 'order-api', label: 'order-api POST /orders (Avro, signed, Publisher)', url: stack.api!.url },
          { id: 'naive', label: 'naive: fastify + one awaited kafkajs send (JSON)', url: naive.url },
          { id: 'noop', label: 'fastify no-op (validate, 202)', url: noop.url },
        );
        ingestRuns = await runIngest(
          targets,
          {
            connections: options.connections,
            durationS: options.ingestDurationS,
            warmupS: options.ingestWarmupS,
            runs: options.ingestRuns,
          },
          progress,
          aborted,
          cpu,
        );
        ingestRows = summarizeIngest(targets, options.connections, ingestRuns);
        const crashed = stack.crashed().filter((name) => name === 'order-api');
        if (crashed.length > 0) throw new Error(`order-api exited during the run\n${stack.outputs()}`);
      });
    }
  } catch (error) {
    if (!stopping) {
      failures.push((error as Error).message);
      progress(`FAILED: ${(error as Error).stack ?? String(error)}`);
    }
  } finally {
    clearInterval(sampler);
    progress('stopping every process and deleting the benchmark database, topics and groups…');
    await cleanup();
  }
  if (stopping) return 130;

  const loadAtEnd = os.loadavg();
  const cpuOverall = CpuMeter.between(cpuAtStart, cpu.snapshot());
  const placedWritten = (await placedEnd()) - placedBefore;
  const ownBroker = ownStack !== undefined;
  await stopOwnStack();
  const evaluated: TargetResult[] = evaluateTargets(latency, ingestRows);
  const conditions = {
    startedAt: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    phases,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    commit: commitLabel(),
    loadWait: quiet,
    cpuOverall,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadAtEnd,
    loadAverage1MinDuringRun: {
      min: Math.min(...loadSamples),
      max: Math.max(...loadSamples),
      mean: loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length,
    },
    settings: { ...options, processors: options.only === 'ingest' ? 0 : options.processors },
    firstConfirmationMs,
    kafka: kafkaVersion(),
    recordsWrittenToOrderPlaced: placedWritten,
    services:
      'order-api, order-processor ×N, order-projection from the TypeScript sources (node --import tsx), LOG_LEVEL=warn, defaults otherwise',
  };

  if (options.json) {
    const runs = ingestRuns.map(({ latency: histogram, ...run }) => ({
      ...run,
      latency: histogram.summary(),
    }));
    process.stdout.write(
      `${JSON.stringify({ conditions, latency, ingest: { rows: ingestRows, runs }, targets: evaluated, failures }, null, 2)}\n`,
    );
  } else {
    const l = conditions.loadAverage1MinDuringRun;
    const out: string[] = [
      `## Orders benchmark, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Machine: ${conditions.cpus} CPUs (${conditions.cpuModel}), ${conditions.memoryGiB} GiB RAM, Linux ${conditions.kernel}; Node ${conditions.node}; Kafka ${conditions.kafka} (one local broker); commit ${conditions.commit}.`,
      `Duration ${conditions.durationSeconds} s (${Object.entries(phases)
        .map(([name, p]) => `${name} ${p.seconds.toFixed(0)} s`)
        .join(
          ', ',
        )}). 1-minute load: ${loadAtStart[0]?.toFixed(2)} at start${quiet.waitedS > 1 ? ` (after waiting ${quiet.waitedS.toFixed(0)} s${quiet.gaveUp ? ', gave up' : ''})` : ''}, ${loadAtEnd[0]?.toFixed(2)} at end, ${l.min.toFixed(2)}–${l.max.toFixed(2)} (mean ${l.mean.toFixed(2)}) during the run${cpuOverall ? `; other processes on the machine used ${(cpuOverall.parts['other processes (other engineers, short-lived ones)'] ?? 0).toFixed(2)} cores on average` : ''}.`,
      `Settings: ${options.only === 'ingest' ? '' : `rates ${options.rates.join(', ')} orders/s, ${options.warmupS} s warm-up + ${options.durationS} s measured each, ${options.customers} customers, ${options.processors} processors, ${options.latencyConnections} client connections; `}${options.only === 'latency' ? '' : `ingest ${options.connections.join(' and ')} connections, ${options.ingestWarmupS} s warm-up + ${options.ingestDurationS} s measured, ${options.ingestRuns} runs each.`}`,
      '',
    ];
    if (latency.length > 0) {
      out.push(
        '### Latency POST /orders → SSE (open loop)',
        '',
        latencyTable(latency),
        '',
        countsTable(latency),
        '',
        'CPU while the orders were sent (warm-up and measured seconds), average cores:',
        '',
        cpuTable(latency.map((r) => ({ label: `${r.rate}/s`, parts: r.cpu?.parts }))),
        '',
      );
      for (const r of latency) {
        out.push(
          `#### Where the time goes at ${r.rate} orders/s: \`pending\` path`,
          '',
          stageTable(r.pendingStages),
          '',
          `#### Where the time goes at ${r.rate} orders/s: \`confirmed\` path`,
          '',
          stageTable(r.confirmedStages),
          '',
        );
        if (r.sse.controls.length > 0) out.push(`SSE control messages: ${r.sse.controls.join('; ')}`, '');
      }
    }
    if (ingestRows.length > 0)
      out.push(
        '### Ingest POST /orders (closed loop, autocannon)',
        '',
        ingestTable(ingestRows),
        '',
        'CPU during the measured seconds, average cores (autocannon runs in the benchmark process):',
        '',
        cpuTable(ingestRows.map((r) => ({ label: `${r.target} ×${r.connections}`, parts: r.cpu }))),
        '',
      );
    out.push('### Targets', '', targetTable(evaluated), '');
    out.push(
      ownBroker
        ? `The run wrote ${placedWritten.toLocaleString('en-US')} records to ${orderPlacedTopic.name} on a broker of its own, deleted with it.`
        : `The run wrote ${placedWritten.toLocaleString('en-US')} records to the shared ${orderPlacedTopic.name} (everything else it created is deleted).`,
      '',
    );
    if (failures.length > 0) out.push(`FAILED: ${failures.join('; ')}`, '');
    process.stdout.write(`\n${out.join('\n')}`);
  }
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:orders: ${(error as Error).stack ?? String(error)}\n`);
    killChildrenNow();
    process.exit(1);
  },
);
