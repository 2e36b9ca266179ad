import type { OrderPlaced, TopicDescriptor } from '@tideline/contracts';
import { Publisher, createConsumer, subscribe, type RecordSigner } from '@tideline/messaging';
// The raw contenders are kafkajs itself: the baseline the runtime is measured against.
// eslint-disable-next-line no-restricted-imports
import type { Message } from 'kafkajs';
import type { BenchEnv, PreparedRecord } from './env';

/** One timed run of one contender. */
export interface Measurement {
  records: number;
  seconds: number;
  /** records per second */
  rate: number;
  /** Contender-specific numbers (batch sizes, latencies) for the JSON output. */
  extra?: Record<string, number>;
}

export function measurement(records: number, seconds: number, extra?: Record<string, number>): Measurement {
  return { records, seconds, rate: records / seconds, ...(extra ? { extra } : {}) };
}

/** Resolves when `done` does, rejects after `timeoutMs` with `what`. */
async function within<T>(done: Promise<T>, timeoutMs: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} (gave up after ${timeoutMs} ms)`)), timeoutMs);
  });
  try {
    return await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts records and takes the time of the first and the `target`-th. */
class Clock {
  count = 0;
  first = 0;
  last = 0;
  /** CPU time of this process from the first record to the target, µs (user + system). */
  cpuMicros = 0;
  private cpuAtFirst: NodeJS.CpuUsage | undefined;
  readonly reached: Promise<void>;
  private resolve!: () => void;

  constructor(private readonly target: number) {
    this.reached = new Promise((resolve) => (this.resolve = resolve));
  }

  add(records: number): void {
    if (this.count === 0) {
      this.first = performance.now();
      this.cpuAtFirst = process.cpuUsage();
    }
    this.count += records;
    if (this.count >= this.target && this.last === 0) {
      this.last = performance.now();
      const cpu = process.cpuUsage(this.cpuAtFirst);
      this.cpuMicros = cpu.user + cpu.system;
      this.resolve();
    }
  }

  seconds(): number {
    return (this.last - this.first) / 1000;
  }
}

export interface ConsumeSettings {
  records: number;
  partitionsConcurrently: number;
  timeoutMs: number;
}

/** The runtime: verify signature + decode + no-op handler + commits, fresh group from the earliest offset. */
export async function consumeWithRuntime(
  env: BenchEnv,
  topic: TopicDescriptor<OrderPlaced>,
  signer: RecordSigner,
  settings: ConsumeSettings,
): Promise<Measurement> {
  const clock = new Clock(settings.records);
  const consumer = createConsumer({
    kafka: env.kafka,
    codec: env.codec,
    signer,
    groupId: env.group('runtime', topic),
    subscriptions: [subscribe(topic, () => clock.add(1))],
    partitionsConcurrently: settings.partitionsConcurrently,
  });
  await consumer.start();
  try {
    await within(
      clock.reached,
      settings.timeoutMs,
      () => `the runtime consumer handled ${clock.count} of ${settings.records} records`,
    );
  } finally {
    await consumer.stop();
  }
  const status = consumer.status();
  if (status.retried + status.deadLettered > 0)
    throw new Error(
      `the runtime failed ${status.retried + status.deadLettered} records (signature or decode)`,
    );
  // CPU per record: steadier than the rate on a machine others share.
  return measurement(clock.count, clock.seconds(), { cpuMicrosPerRecord: clock.cpuMicros / clock.count });
}

/** Raw kafkajs: eachBatch with a no-op, auto-resolve and auto-commit, the runtime's consumer settings. */
export async function consumeWithKafkajs(
  env: BenchEnv,
  topic: string,
  settings: ConsumeSettings,
): Promise<Measurement> {
  const clock = new Clock(settings.records);
  const consumer = env.kafka.consumer({
    groupId: env.group('kafkajs'),
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: settings.partitionsConcurrently,
      eachBatch: ({ batch }) => {
        clock.add(batch.messages.length);
        return Promise.resolve();
      },
    });
    await within(
      clock.reached,
      settings.timeoutMs,
      () => `the kafkajs consumer read ${clock.count} of ${settings.records} records`,
    );
  } finally {
    await consumer.disconnect();
  }
  return measurement(clock.count, clock.seconds());
}

export interface PublishSettings {
  records: number;
  concurrency: number;
  lingerMs: number | undefined;
  maxBatchSize: number;
  timeoutMs: number;
}

/** publish() from `concurrency` concurrent callers, each awaiting its receipt before the next. */
export async function produceWithPublish(
  env: BenchEnv,
  topic: TopicDescriptor<OrderPlaced>,
  values: readonly OrderPlaced[],
  signer: RecordSigner,
  settings: PublishSettings,
): Promise<Measurement> {
  const publisher = new Publisher({
    kafka: env.kafka,
    codec: env.codec,
    signer,
    service: 'bench',
    maxBatchSize: settings.maxBatchSize,
    ...(settings.lingerMs === undefined ? {} : { lingerMs: settings.lingerMs }),
  });
  try {
    await publisher.connect();
    let next = 0;
    const caller = async () => {
      while (next < settings.records) {
        const value = values[next % values.length] as OrderPlaced;
        next += 1;
        await publisher.publish(topic, value.orderId, value);
      }
    };
    const start = performance.now();
    await within(
      Promise.all(Array.from({ length: Math.min(settings.concurrency, settings.records) }, caller)),
      settings.timeoutMs,
      () => `publish() wrote ${publisher.stats().records} of ${settings.records} records`,
    );
    const seconds = (performance.now() - start) / 1000;
    const stats = publisher.stats();
    return measurement(settings.records, seconds, {
      requests: stats.requests,
      recordsPerRequest: stats.records / Math.max(1, stats.requests),
    });
  } finally {
    await publisher.close();
  }
}

function toMessage(record: PreparedRecord): Message {
  return { key: record.key, value: record.value, headers: record.headers };
}

/** The producer the Publisher uses (idempotent, one request in flight), without the runtime around it. */
function rawProducer(env: BenchEnv) {
  return env.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
}

/** Raw kafkajs: pre-encoded, pre-signed records, sendBatch of `batchSize` records, acks=all, awaited in turn. */
export async function produceWithSendBatch(
  env: BenchEnv,
  topic: string,
  records: readonly PreparedRecord[],
  count: number,
  batchSize: number,
  timeoutMs: number,
): Promise<Measurement> {
  const producer = rawProducer(env);
  const messages = Array.from({ length: count }, (_, i) => toMessage(records[i % records.length]!));
  try {
    await producer.connect();
    const start = performance.now();
    const send = async () => {
      for (let i = 0; i < count; i += batchSize) {
        await producer.sendBatch({
          acks: -1,
          topicMessages: [{ topic, messages: messages.slice(i, i + batchSize) }],
        });
      }
    };
    await within(send(), timeoutMs, () => 'kafkajs sendBatch did not finish');
    return measurement(count, (performance.now() - start) / 1000, { requests: Math.ceil(count / batchSize) });
  } finally {
    await producer.disconnect();
  }
}

/** Raw kafkajs, the naive way: one `send` per record, each awaited before the next. */
export async function produceWithAwaitedSends(
  env: BenchEnv,
  topic: string,
  records: readonly PreparedRecord[],
  count: number,
  timeoutMs: number,
): Promise<Measurement> {
  const producer = rawProducer(env);
  try {
    await producer.connect();
    const start = performance.now();
    let sent = 0;
    const send = async () => {
      for (; sent < count; sent += 1) {
        await producer.send({ topic, acks: -1, messages: [toMessage(records[sent % records.length]!)] });
      }
    };
    await within(send(), timeoutMs, () => `one awaited send per record wrote ${sent} of ${count} records`);
    const seconds = (performance.now() - start) / 1000;
    return measurement(count, seconds, { avgLatencyMs: (seconds * 1000) / count });
  } finally {
    await producer.disconnect();
  }
}
