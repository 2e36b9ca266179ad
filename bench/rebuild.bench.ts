// The rebuild benchmark (docs/benchmarks.md): rebuilds the sales projection from 1,000,000
// order events with its batched apply and with a row-by-row implementation of the same
// projection, both through the real ProjectionConsumer and PostgresProjectionStore, in one run,
// and checks that both built the same tables.
//   npm run bench:rebuild -- --help
// On demand only (never part of npm test); talks to 127.0.0.1 only; every loop is bounded; the
// database and consumer groups it makes are deleted at the end, also on Ctrl-C (the topics are
// kept for the next run unless --drop-topics).
import os from 'node:os';
import {
  createProjectionConsumer,
  RecordSigner,
  type ProjectionBatch,
  type ProjectionConsumer,
} from '@tideline/messaging';
import {
  compareVersions,
  migrateRuntime,
  PostgresProjectionStore,
  versionSchema,
  type FeedChange,
  type TableComparison,
} from '@tideline/projections';
import {
  HOURLY_TABLE,
  ORDER_SALES_TABLE,
  salesProjection,
  type SalesProjectionDefinition,
} from '@tideline/read-models';
import { createTestDatabase, probeInfra, readRecords, testInfra, type TestDatabase } from '@tideline/testing';
import { Pool, type PoolClient } from 'pg';
import { commitLabel, kafkaVersion, load1, waitForQuiet } from './conditions';
import { BenchEnv } from './env';
import { benchSigner, ensureBenchTopics } from './rebuild-data';
import { commandLine } from './flags';
import { parseArgs, usage, type RebuildBenchOptions } from './rebuild-args';
import { rowByRowApply } from './rebuild-row-by-row';

function progress(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');
const slotOf = (topic: string, partition: number) => `${topic}:${partition}`;

type Apply = (client: PoolClient, batch: ProjectionBatch, schema: string) => Promise<FeedChange[]>;

interface RebuildRun {
  id: string;
  label: string;
  events: number;
  /** From the first batch applied to the last position reached (the group join is not timed). */
  seconds: number;
  /** From start() to the last position reached, the group join included. */
  secondsWithJoin: number;
  eventsPerSecond: number;
  batches: number;
  schema: string;
  tables: { table: string; rows: number; bytes: number }[];
  load1: { start: number; end: number };
}

interface RebuildSpec {
  id: string;
  label: string;
  definition: SalesProjectionDefinition;
  /** A fresh version schema to build into. */
  version: number;
  apply: Apply;
  signer: RecordSigner;
  /** Where each partition stops (`topic:partition` → offset); the topics' ends when undefined. */
  limits: Map<string, bigint>;
}

/** Runs one rebuild to the limits; stops its consumer and deletes its group whatever happens. */
async function rebuild(
  env: BenchEnv,
  pool: Pool,
  spec: RebuildSpec,
  options: RebuildBenchOptions,
  aborted: () => boolean,
  running: Set<ProjectionConsumer>,
): Promise<RebuildRun> {
  const schema = versionSchema(spec.definition, spec.version);
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  await pool.query(spec.definition.createTables(schema));
  const groupId = env.group(`rebuild-${spec.id}`);
  const projection = `${groupId}@${schema}`;
  let firstApply: number | undefined;
  const store = new PostgresProjectionStore(
    pool,
    projection,
    (client, batch) => {
      firstApply ??= performance.now();
      return spec.apply(client, batch, schema);
    },
    { feed: false },
  );
  const consumer = createProjectionConsumer({
    kafka: env.kafka,
    codec: env.codec,
    signer: spec.signer,
    groupId,
    topics: spec.definition.topics,
    store,
    maxBatchRecords: options.batchRecords,
    partitionsConcurrently: options.partitionsConcurrently,
    provisionTopics: false,
    deadLetters: false,
    bounded: true,
  });
  consumer.setLimits(spec.limits);
  const total = Number([...spec.limits.values()].reduce((sum, limit) => sum + limit, 0n));
  const loadStart = load1();
  const started = performance.now();
  running.add(consumer);
  try {
    await consumer.start();
    let lastReport = started;
    const deadline = started + 3_600_000;
    for (;;) {
      const positions = new Map(
        (await store.positions()).map((p) => [slotOf(p.topic, p.partition), BigInt(p.nextOffset)]),
      );
      const open = [...spec.limits].filter(([slot, limit]) => (positions.get(slot) ?? 0n) < limit);
      const done =
        total - open.reduce((sum, [slot, limit]) => sum + Number(limit - (positions.get(slot) ?? 0n)), 0);
      if (open.length === 0) break;
      if (aborted()) throw new Error('interrupted');
      if (consumer.status().state === 'crashed') throw new Error(`the ${spec.id} rebuild's consumer crashed`);
      const now = performance.now();
      if (now > deadline)
        throw new Error(`the ${spec.id} rebuild did not finish within an hour (${done} of ${total})`);
      if (now - lastReport >= 10_000) {
        lastReport = now;
        const since = firstApply ?? now;
        progress(
          `[${spec.id}] ${int(done)} of ${int(total)} events (${int(done / Math.max((now - since) / 1000, 0.001))}/s)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ended = performance.now();
    const seconds = (ended - (firstApply ?? started)) / 1000;
    const status = consumer.status();
    const tables = [];
    for (const table of [ORDER_SALES_TABLE, HOURLY_TABLE]) {
      const { rows } = await pool.query<{ rows: string; bytes: string }>(
        `SELECT (SELECT count(*) FROM ${schema}.${table})::text AS rows,
                pg_total_relation_size('${schema}.${table}')::text AS bytes`,
      );
      tables.push({ table, rows: Number(rows[0]!.rows), bytes: Number(rows[0]!.bytes) });
    }
    const run: RebuildRun = {
      id: spec.id,
      label: spec.label,
      events: total,
      seconds,
      secondsWithJoin: (ended - started) / 1000,
      eventsPerSecond: total / seconds,
      batches: status.batches,
      schema,
      tables,
      load1: { start: loadStart, end: load1() },
    };
    progress(
      `[${spec.id}] done: ${int(total)} events in ${seconds.toFixed(1)} s = ${int(run.eventsPerSecond)} events/s (${status.batches} transactions; ${run.secondsWithJoin.toFixed(1)} s with the group join)`,
    );
    return run;
  } finally {
    running.delete(consumer);
    await consumer.stop(30_000).catch(() => undefined);
    await pool.query(`DELETE FROM tideline_projection_offsets WHERE projection = $1`, [projection]);
  }
}

/** Each partition's end, or the first `share` of it (rounded up): where a rebuild stops. */
async function limitsOf(env: BenchEnv, definition: SalesProjectionDefinition, share: number) {
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    const limits = new Map<string, bigint>();
    for (const topic of definition.topics) {
      for (const p of await admin.fetchTopicOffsets(topic.name)) {
        const low = BigInt(p.low);
        const high = BigInt(p.high);
        const span = Number(high - low);
        limits.set(slotOf(topic.name, p.partition), low + BigInt(Math.ceil(span * share)));
      }
    }
    return limits;
  } finally {
    await admin.disconnect();
  }
}

/** Average key, value and header bytes of the first records of each topic. */
async function recordSizes(definition: SalesProjectionDefinition) {
  const sizes: Record<string, { key: number; value: number; headers: number }> = {};
  for (const topic of definition.topics) {
    const records = await readRecords(topic.name, 500, { timeoutMs: 60_000 });
    const sum = { key: 0, value: 0, headers: 0 };
    for (const r of records) {
      sum.key += r.key?.length ?? 0;
      sum.value += r.value?.length ?? 0;
      for (const [name, value] of Object.entries(r.headers))
        sum.headers += name.length + Buffer.byteLength(value);
    }
    const n = records.length;
    sizes[topic.name] = { key: sum.key / n, value: sum.value / n, headers: sum.headers / n };
  }
  return sizes;
}

interface Conditions {
  started: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kafka: string;
  postgres: string;
  commit: string;
  loadWait: { waitedS: number; load: number; gaveUp: boolean };
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  events: Record<string, number>;
  producedSeconds: number | null;
  recordBytes: Record<string, { key: number; value: number; headers: number }>;
  partitionsPerTopic: number;
}

function markdown(
  runs: RebuildRun[],
  ratio: number | undefined,
  comparisons: { between: string; tables: TableComparison[] }[],
  c: Conditions,
  options: RebuildBenchOptions,
): string {
  const table = (rows: string[][]) =>
    [rows[0]!, rows[0]!.map(() => '---'), ...rows.slice(1)].map((r) => `| ${r.join(' | ')} |`).join('\n');
  const rate = (id: string) => runs.find((r) => r.id === id)?.eventsPerSecond;
  const batched = rate('batched');
  const alone = rate('runtime-only');
  const total = Object.values(c.events).reduce((sum, n) => sum + n, 0);
  const bytes = Object.entries(c.recordBytes)
    .map(([topic, b]) => `${topic.replace(/^bench\.rebuild-\d+-/, '')} ${Math.round(b.value)}`)
    .join(', ');
  const anyRecord = Object.values(c.recordBytes)[0];
  const lines = [
    `## Rebuild benchmark, ${c.started.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${c.cpus} CPUs (${c.cpuModel}), ${c.memoryGiB} GiB RAM; Node ${c.node}; Kafka ${c.kafka} (one local broker) and PostgreSQL ${c.postgres} on the same machine; commit ${c.commit}.`,
    `1-minute load ${c.loadAverageAtStart[0]} at start${c.loadWait.waitedS > 1 ? ` (after waiting ${c.loadWait.waitedS.toFixed(0)} s${c.loadWait.gaveUp ? ', gave up' : ''})` : ''}, ${c.loadAverageAtEnd[0]} at end.`,
    `Data: ${int(total)} events (${Object.entries(c.events)
      .map(([role, n]) => `${int(n)} ${role}`)
      .join(
        ', ',
      )}) in 3 topics of ${c.partitionsPerTopic} partitions, ${c.producedSeconds === null ? 'produced by an earlier run' : `produced in ${c.producedSeconds.toFixed(0)} s`}; per record key ${anyRecord ? Math.round(anyRecord.key) : '?'} B, headers ${anyRecord ? Math.round(anyRecord.headers) : '?'} B, value (B): ${bytes}.`,
    `Settings: MAX_BATCH_RECORDS ${options.batchRecords}, PARTITIONS_CONCURRENTLY ${options.partitionsConcurrently}, signatures verified (HMAC-SHA256) unless said otherwise.`,
    '',
    table([
      [
        'rebuild',
        'events',
        'seconds',
        'events/s',
        'transactions',
        'with group join (s)',
        'load 1-min start → end',
      ],
      ...runs.map((r) => [
        r.label,
        int(r.events),
        r.seconds.toFixed(1),
        int(r.eventsPerSecond),
        int(r.batches),
        r.secondsWithJoin.toFixed(1),
        `${r.load1.start.toFixed(2)} → ${r.load1.end.toFixed(2)}`,
      ]),
    ]),
    '',
    table([
      ['rebuild', 'schema', ...[ORDER_SALES_TABLE, HOURLY_TABLE].map((t) => `${t} rows (MB)`)],
      ...runs.map((r) => [
        r.label,
        r.schema,
        ...r.tables.map((t) => `${int(t.rows)} (${(t.bytes / 2 ** 20).toFixed(0)})`),
      ]),
    ]),
    '',
    ...comparisons.map(
      (cmp) =>
        `Identical tables (${cmp.between}): ${cmp.tables.every((t) => t.equal) ? 'yes' : 'NO'} (${cmp.tables
          .map(
            (t) =>
              `${t.table} ${int(t.live.rows)} rows, checksum ${t.live.checksum} vs ${t.rebuilt.checksum}`,
          )
          .join('; ')}).`,
    ),
    ...(batched && alone
      ? [
          '',
          `The batched rebuild runs at ${((batched / alone) * 100).toFixed(0)} % of the runtime alone (c).`,
        ]
      : []),
    '',
    table([
      ['target', 'required', 'measured', 'result'],
      [
        'batched rebuild, events/s',
        '≥ 50,000',
        batched ? int(batched) : 'n/a',
        batched ? (batched >= 50_000 ? 'met' : 'MISSED') : 'n/a',
      ],
      [
        'batched / row-by-row',
        '≥ 10×',
        ratio === undefined ? 'n/a' : `${ratio.toFixed(1)}×`,
        ratio === undefined ? 'n/a' : ratio >= 10 ? 'met' : 'MISSED',
      ],
    ]),
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const options = commandLine('bench:rebuild', parseArgs, usage);
  if (typeof options === 'number') return options;

  let stopping = false;
  const aborted = () => stopping;
  const running = new Set<ProjectionConsumer>();
  let cleanup: () => Promise<void> = () => Promise.resolve();
  const interrupted = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    progress(`${signal}: stopping the rebuilds and deleting what the benchmark created…`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);

  const infra = await probeInfra(testInfra());
  const missing = Object.entries(infra)
    .filter(([, up]) => !up)
    .map(([name]) => name);
  if (missing.length > 0) {
    process.stderr.write(
      `bench:rebuild: not reachable on 127.0.0.1: ${missing.join(', ')} (npm run stack:up)\n`,
    );
    return 1;
  }

  // First: createKafka (in BenchEnv) installs the filter for kafkajs's TimeoutNegativeWarning on Node 24.
  const env = new BenchEnv();
  let database: TestDatabase | undefined;
  let pool: Pool | undefined;
  let cleaning: Promise<void> | undefined;
  cleanup = () =>
    (cleaning ??= (async () => {
      await Promise.all([...running].map((c) => c.stop(10_000).catch(() => undefined)));
      await pool?.end().catch(() => undefined);
      await database?.drop().catch(() => undefined);
      const removed = await env.cleanup();
      progress(`deleted the benchmark database and ${removed.groups} consumer groups`);
    })());

  const started = new Date();
  const failures: string[] = [];
  const runs: RebuildRun[] = [];
  const comparisons: { between: string; tables: TableComparison[] }[] = [];
  let conditions: Conditions | undefined;
  try {
    const data = await ensureBenchTopics(env, options.events, progress);
    if (options.dropTopics)
      env.track(data.topics.confirmed.name, data.topics.rejected.name, data.topics.cancelled.name);
    const definition = salesProjection({ name: 'bench-rebuild', schema: 'bench_sales', topics: data.topics });
    const sizes = await recordSizes(definition);
    const quiet = await waitForQuiet(options, aborted, progress);
    const loadAtStart = os.loadavg();

    database = await createTestDatabase('tdl_bench_rebuild');
    pool = new Pool({ connectionString: database.url, max: options.partitionsConcurrently + 2 });
    await migrateRuntime(pool);

    const all = await limitsOf(env, definition, 1);
    const share = options.rowByRowEvents === 0 ? 1 : options.rowByRowEvents / options.events;
    const slice = share === 1 ? all : await limitsOf(env, definition, share);
    const signed = benchSigner();
    const batched = (
      id: string,
      label: string,
      version: number,
      limits: Map<string, bigint>,
      signer = signed,
    ) => ({
      id,
      label,
      definition,
      version,
      apply: (client: PoolClient, batch: ProjectionBatch, schema: string) =>
        definition.apply(client, batch, schema),
      signer,
      limits,
    });
    const specs: RebuildSpec[] = [
      batched('batched', '(a) batched: a few multi-row statements per transaction', 1, all),
    ];
    if (!options.batchedOnly) {
      specs.push({
        id: 'row-by-row',
        label: '(b) row by row: one statement per row read or written',
        definition,
        version: 2,
        apply: rowByRowApply((record) => definition.readEvent(record)),
        signer: signed,
        limits: slice,
      });
      if (share < 1) specs.push(batched('batched-slice', '(a) batched, on the row-by-row slice', 3, slice));
      // Where the runtime's own ceiling is on this machine: the same consumer, store and
      // transactions (positions only), but an apply that writes nothing.
      specs.push({
        id: 'runtime-only',
        label: '(c) runtime alone: same consumer, store and transactions, apply writes nothing',
        definition,
        version: 5,
        apply: () => Promise.resolve([]),
        signer: signed,
        limits: all,
      });
    }
    if (options.alsoUnsigned)
      specs.push(
        batched(
          'batched-unsigned',
          '(a) batched, signature verification off',
          4,
          all,
          RecordSigner.disabled(),
        ),
      );

    for (const spec of specs) {
      if (stopping) break;
      progress(`[${spec.id}] rebuilding ${spec.label}`);
      runs.push(await rebuild(env, pool, spec, options, aborted, running));
    }
    const schemaOf = (id: string) => runs.find((r) => r.id === id)?.schema;
    const reference = share < 1 ? 'batched-slice' : 'batched';
    const [a, b] = [schemaOf(reference), schemaOf('row-by-row')];
    if (a && b) {
      const tables = await compareVersions(pool, definition, a, b);
      comparisons.push({ between: `${reference} vs row-by-row`, tables });
      if (!tables.every((t) => t.equal))
        failures.push(`the batched and row-by-row rebuilds built different tables`);
    }
    const unsigned = schemaOf('batched-unsigned');
    if (unsigned && schemaOf('batched')) {
      const tables = await compareVersions(pool, definition, schemaOf('batched')!, unsigned);
      comparisons.push({ between: 'batched vs batched-unsigned', tables });
      if (!tables.every((t) => t.equal)) failures.push('the signed and unsigned batched rebuilds differ');
    }
    conditions = {
      started: started.toISOString(),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      kafka: kafkaVersion(),
      postgres:
        (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ??
        'unknown',
      commit: commitLabel(),
      loadWait: quiet,
      loadAverageAtStart: loadAtStart.map((l) => Number(l.toFixed(2))),
      loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))),
      events: data.counts,
      producedSeconds: data.producedSeconds,
      recordBytes: sizes,
      partitionsPerTopic: 6,
    };
  } catch (error) {
    if (!stopping) {
      failures.push((error as Error).message);
      progress(`FAILED: ${(error as Error).stack ?? String(error)}`);
    }
  } finally {
    await cleanup();
  }
  if (stopping) return 130;

  const rate = (id: string) => runs.find((r) => r.id === id)?.eventsPerSecond;
  const batchedRate = rate('batched');
  const rowRate = rate('row-by-row');
  const ratio = batchedRate && rowRate ? batchedRate / rowRate : undefined;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ conditions, runs, ratio, comparisons, failures }, null, 2)}\n`);
  } else if (conditions) {
    process.stdout.write(`\n${markdown(runs, ratio, comparisons, conditions, options)}`);
  }
  if (failures.length > 0) process.stdout.write(`FAILED: ${failures.join('; ')}\n`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:rebuild: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
