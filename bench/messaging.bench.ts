// The messaging benchmark (docs/benchmarks.md): the runtime's consumer and publish() against
// raw kafkajs and Kafka's own perf tools, on the same pre-filled topic, in one run.
//   npm run bench:messaging -- --help
// On demand only (never part of npm test); talks to 127.0.0.1 only; every loop is bounded.
import os from 'node:os';
import type { OrderPlaced, TopicDescriptor } from '@tideline/contracts';
import { Publisher, type RecordSigner } from '@tideline/messaging';
import { UsageError, parseArgs, usage, type BenchOptions } from './args';
import {
  consumeWithKafkajs,
  consumeWithRuntime,
  produceWithAwaitedSends,
  produceWithPublish,
  produceWithSendBatch,
  measurement,
  type Measurement,
} from './contenders';
import { BenchEnv, REGISTRY_URL, prepareRecord, recordSizes, sampleOrder, type PreparedRecord } from './env';
import { JAVA_PRODUCER_PROPS, findJavaTools, javaConsume, javaProduce, type JavaTools } from './java-perf';
import { OtlpSink, withObservability, type Observability } from './observability';
import { evaluate, renderTable, summarize, type ContenderResult, type Phase, type Target } from './report';

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');

interface Contender {
  id: string;
  phase: Phase;
  label: string;
  run: () => Promise<Measurement>;
  skipped?: string;
}

const targets: Target[] = [
  {
    label: 'runtime consume / kafkajs eachBatch',
    numerator: 'consume.runtime',
    denominator: 'consume.kafkajs',
    atLeast: 0.8,
    unit: 'percent',
  },
  {
    label: 'runtime consume, metrics + 10 % sampled tracing / off',
    numerator: 'consume.runtime-sampled',
    denominator: 'consume.runtime',
    atLeast: 0.9,
    unit: 'percent',
  },
  {
    label: 'runtime consume, metrics + tracing every record / off',
    numerator: 'consume.runtime-observed',
    denominator: 'consume.runtime',
    atLeast: 0.9,
    unit: 'percent',
  },
  {
    label: 'concurrent publish() / one awaited send',
    numerator: 'produce.publish',
    denominator: 'produce.send',
    atLeast: 10,
    unit: 'times',
  },
  {
    label: 'concurrent publish() / kafkajs sendBatch',
    numerator: 'produce.publish',
    denominator: 'produce.sendBatch',
    atLeast: 0.7,
    unit: 'percent',
  },
];

/** Writes `count` records with publish() as production does: the consume phase's pre-filled topic. */
async function prefill(
  env: BenchEnv,
  topic: TopicDescriptor<OrderPlaced>,
  options: BenchOptions,
): Promise<Measurement> {
  const publisher = new Publisher({
    kafka: env.kafka,
    codec: env.codec,
    signer: env.signer,
    service: 'bench',
    maxBatchSize: options.maxBatchSize,
  });
  try {
    await publisher.connect();
    let next = 0;
    const start = performance.now();
    const caller = async () => {
      while (next < options.records) {
        const value = sampleOrder(next);
        next += 1;
        await publisher.publish(topic, value.orderId, value);
      }
    };
    await Promise.all(Array.from({ length: Math.min(2_000, options.records) }, caller));
    return measurement(options.records, (performance.now() - start) / 1000);
  } finally {
    await publisher.close();
  }
}

async function preflight(env: BenchEnv): Promise<void> {
  const registry = await fetch(`${REGISTRY_URL}/subjects`, { signal: AbortSignal.timeout(5_000) }).then(
    (response) => response.ok,
    () => false,
  );
  if (!registry) throw new Error(`the schema registry does not answer at ${REGISTRY_URL}`);
  const admin = env.kafka.admin();
  try {
    await Promise.race([
      admin.connect(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('Kafka does not answer at 127.0.0.1:9092')), 10_000).unref(),
      ),
    ]);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function consumeContenders(
  env: BenchEnv,
  options: BenchOptions,
  topic: TopicDescriptor<OrderPlaced>,
  java: JavaTools | string,
  sink: OtlpSink,
): Contender[] {
  const settings = {
    records: options.records,
    partitionsConcurrently: options.partitionsConcurrently,
    timeoutMs: 30_000 + options.records,
  };
  const runtime =
    (signer: RecordSigner, observed: Observability = 'off') =>
    () =>
      withObservability(observed, sink, () => consumeWithRuntime(env, topic, signer, settings));
  const contenders: Contender[] = [
    {
      id: 'consume.runtime',
      phase: 'consume',
      label: 'runtime: verify + decode + no-op handler + commits (tracing, metrics off)',
      run: runtime(env.signer),
    },
    {
      id: 'consume.runtime-metrics',
      phase: 'consume',
      label: 'runtime, metrics on, tracing off',
      run: runtime(env.signer, 'metrics'),
    },
    {
      id: 'consume.runtime-sampled',
      phase: 'consume',
      label: 'runtime, metrics + tracing 10 % sampled (OTLP)',
      run: runtime(env.signer, 'sampled'),
    },
    {
      id: 'consume.runtime-observed',
      phase: 'consume',
      label: 'runtime, metrics + tracing every record (OTLP)',
      run: runtime(env.signer, 'all'),
    },
    {
      id: 'consume.kafkajs',
      phase: 'consume',
      label: 'kafkajs eachBatch, no-op',
      run: () => consumeWithKafkajs(env, topic.name, settings),
    },
  ];
  if (options.signingOff)
    contenders.splice(1, 0, {
      id: 'consume.runtime-unsigned',
      phase: 'consume',
      label: 'runtime, signing off: decode + no-op handler + commits',
      run: runtime(env.unsigned),
    });
  contenders.push({
    id: 'consume.java',
    phase: 'consume',
    label: 'Kafka ConsumerPerformance (Java)',
    ...(typeof java === 'string' ? { skipped: java } : {}),
    run: async () => {
      const result = await javaConsume(
        java as JavaTools,
        topic.name,
        options.records,
        env.group('java'),
        settings.timeoutMs,
      );
      return measurement(result.records, result.fetchSeconds, { rebalanceMs: result.rebalanceMs });
    },
  });
  return contenders;
}

function produceContenders(
  env: BenchEnv,
  options: BenchOptions,
  values: readonly OrderPlaced[],
  prepared: readonly PreparedRecord[],
  recordSize: number,
  java: JavaTools | string,
): Contender[] {
  const publishSettings = {
    records: options.produceRecords,
    concurrency: options.concurrency,
    lingerMs: options.lingerMs,
    maxBatchSize: options.maxBatchSize,
    timeoutMs: 30_000 + options.produceRecords * 2,
  };
  const publish = (signer: RecordSigner) => async () =>
    produceWithPublish(env, await env.orderTopic(options.partitions), values, signer, publishSettings);
  const contenders: Contender[] = [
    {
      id: 'produce.publish',
      phase: 'produce',
      label: `publish(), ${options.concurrency} concurrent callers`,
      run: publish(env.signer),
    },
    {
      id: 'produce.sendBatch',
      phase: 'produce',
      label: `kafkajs sendBatch, ${options.maxBatchSize} records/request`,
      run: async () =>
        produceWithSendBatch(
          env,
          await env.rawTopic('send-batch', options.partitions),
          prepared,
          options.produceRecords,
          options.maxBatchSize,
          publishSettings.timeoutMs,
        ),
    },
    {
      id: 'produce.send',
      phase: 'produce',
      label: 'kafkajs send, one awaited per record',
      run: async () =>
        produceWithAwaitedSends(
          env,
          await env.rawTopic('send-one', options.partitions),
          prepared,
          options.sendRecords,
          30_000 + options.sendRecords * 50,
        ),
    },
  ];
  if (options.signingOff)
    contenders.splice(1, 0, {
      id: 'produce.publish-unsigned',
      phase: 'produce',
      label: `publish(), signing off, ${options.concurrency} concurrent callers`,
      run: publish(env.unsigned),
    });
  contenders.push({
    id: 'produce.java',
    phase: 'produce',
    label: 'Kafka ProducerPerformance (Java)',
    ...(typeof java === 'string' ? { skipped: java } : {}),
    run: async () => {
      const result = await javaProduce(
        java as JavaTools,
        await env.rawTopic('java-produce', options.partitions),
        options.produceRecords,
        recordSize,
        publishSettings.timeoutMs,
      );
      return measurement(result.records, result.records / result.rate, { avgLatencyMs: result.avgLatencyMs });
    },
  });
  return contenders;
}

/** Each contender once per run; the order rotates from run to run so none is always first. */
async function runAll(contenders: Contender[], runs: number, results: Map<string, ContenderResult>) {
  const active = contenders.filter((c) => c.skipped === undefined);
  for (const contender of contenders) {
    results.set(contender.id, {
      id: contender.id,
      phase: contender.phase,
      label: contender.label,
      runs: [],
      errors: [],
      ...(contender.skipped !== undefined ? { skipped: `skipped: ${contender.skipped}` } : {}),
    });
    if (contender.skipped !== undefined) progress(`skipping ${contender.label}: ${contender.skipped}`);
  }
  for (let run = 0; run < runs; run += 1) {
    const shift = run % Math.max(1, active.length);
    for (const contender of [...active.slice(shift), ...active.slice(0, shift)]) {
      const result = results.get(contender.id)!;
      const prefix = `[${contender.phase} ${run + 1}/${runs}] ${contender.label}`;
      const load1 = os.loadavg()[0] ?? 0;
      try {
        const m = await contender.run();
        m.extra = { ...m.extra, load1 };
        result.runs.push(m);
        const cpu = m.extra?.['cpuMicrosPerRecord'];
        progress(
          `${prefix}: ${int(m.rate)} rec/s (${int(m.records)} in ${m.seconds.toFixed(2)} s)` +
            (cpu === undefined ? '' : `, ${cpu.toFixed(1)} µs CPU/record`),
        );
      } catch (error) {
        result.errors.push((error as Error).message);
        progress(`${prefix}: FAILED ${(error as Error).message}`);
      }
    }
  }
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench:messaging: ${error.message}\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const options = parsed;
  const env = new BenchEnv();
  let cleaning: Promise<unknown> | undefined;
  const cleanup = () => (cleaning ??= env.cleanup());
  const interrupted = (signal: NodeJS.Signals) => {
    progress(`${signal}: deleting the benchmark's topics, groups and subjects…`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const started = new Date();
  const loadBefore = os.loadavg();
  const results = new Map<string, ContenderResult>();
  let sizes = { key: 0, value: 0, headers: 0, total: 0 };
  let prefillRate: number | undefined;
  const java = options.java ? findJavaTools() : 'disabled by --no-java';
  const sink = await OtlpSink.start();
  try {
    await preflight(env);
    progress(
      `messaging benchmark: ${options.runs} runs; consume ${int(options.records)} records, produce ${int(options.produceRecords)} (one awaited send: ${int(options.sendRecords)}); ${options.partitions} partitions; load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
    );

    // Records as publish() writes them, for the raw producers and the Java record size.
    const sampleTopic = await env.orderTopic(options.partitions);
    const values = Array.from({ length: options.produceRecords }, (_, i) => sampleOrder(i));
    const prepared: PreparedRecord[] = [];
    for (const value of values) prepared.push(await prepareRecord(env, sampleTopic, value));
    sizes = recordSizes(prepared);
    progress(
      `records: key ${sizes.key} B, framed Avro value ${sizes.value} B, headers ${sizes.headers} B (${sizes.total} B in all)`,
    );

    if (options.only !== 'produce') {
      const topic = await env.orderTopic(options.partitions);
      progress(`pre-filling ${topic.name} with ${int(options.records)} records via publish()…`);
      const filled = await prefill(env, topic, options);
      prefillRate = filled.rate;
      progress(`pre-filled in ${filled.seconds.toFixed(1)} s (${int(filled.rate)} rec/s)`);
      await runAll(consumeContenders(env, options, topic, java, sink), options.runs, results);
      progress(`tracing on: ${int(sink.requests)} OTLP exports, ${int(sink.bytes)} bytes of spans`);
    }
    if (options.only !== 'consume') {
      await runAll(
        produceContenders(env, options, values, prepared, sizes.total, java),
        options.runs,
        results,
      );
    }
  } finally {
    await sink.close();
    progress('deleting the benchmark topics, groups and subjects…');
    const removed = await cleanup();
    progress(`deleted ${JSON.stringify(removed)}`);
  }

  const all = [...results.values()];
  const evaluated = evaluate(targets, all);
  const conditions = {
    startedAt: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadAverageBefore: loadBefore,
    loadAverageAfter: os.loadavg(),
    kafka: typeof java === 'string' ? 'unknown' : java.kafkaVersion,
    java: typeof java === 'string' ? java : `${java.javaMajor} (${java.java})`,
    broker: '127.0.0.1:9092 (single local broker)',
    recordBytes: sizes,
    partitions: options.partitions,
    runs: options.runs,
    consumeRecords: options.records,
    produceRecords: options.produceRecords,
    sendRecords: options.sendRecords,
    publishConcurrency: options.concurrency,
    publisherLingerMs: options.lingerMs ?? 2,
    publisherMaxBatchSize: options.maxBatchSize,
    partitionsConcurrently: options.partitionsConcurrently,
    signing: 'HMAC-SHA256, policy required',
    tracingOn:
      'always_on sampler, BatchSpanProcessor (1 s), OTLP/HTTP protobuf to a discarding sink on 127.0.0.1',
    otlpExports: { requests: sink.requests, bytes: sink.bytes },
    javaProducerProps: JAVA_PRODUCER_PROPS,
    prefillRecordsPerSecond: prefillRate,
  };
  if (options.json) {
    const contenders = all.map((r) => ({ ...r, summary: summarize(r.runs.map((m) => m.rate)) ?? null }));
    process.stdout.write(`${JSON.stringify({ conditions, contenders, targets: evaluated }, null, 2)}\n`);
  } else {
    process.stdout.write(
      `\nMessaging benchmark, ${started.toISOString()}: node ${process.version}, ${conditions.cpus} CPUs, Kafka ${conditions.kafka}, load ${loadBefore[0]?.toFixed(2)} → ${os.loadavg()[0]?.toFixed(2)}\n` +
        `record: ${sizes.total} B (key ${sizes.key}, value ${sizes.value}, headers ${sizes.headers}); ${options.partitions} partitions; ` +
        `publish concurrency ${options.concurrency}, linger ${conditions.publisherLingerMs} ms, batch ≤ ${options.maxBatchSize}; signing on\n\n` +
        renderTable(all, evaluated, sizes.total),
    );
  }
  return all.some((r) => r.errors.length > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:messaging: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
