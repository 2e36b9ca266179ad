import { defineTopic, type TopicDescriptor } from '@tideline/contracts';
import { Kafka, logLevel, type Admin, type KafkaMessage } from 'kafkajs';
import { testInfra } from './infra';
import { uniqueName, uniqueTopicName } from './names';

/** A kafkajs client for test set-up and assertions (the code under test uses libs/messaging). */
export function testKafka(clientId = uniqueName('test')): Kafka {
  return new Kafka({ clientId, brokers: testInfra().kafkaBrokers, logLevel: logLevel.NOTHING });
}

/** A copy of a catalog topic under a unique name (and so a unique registry subject). */
export function isolatedTopic<Value>(
  topic: TopicDescriptor<Value>,
  overrides: { valueSchema?: unknown } = {},
): TopicDescriptor<Value> {
  const [domain, event] = topic.name.split('.');
  return defineTopic<Value>({
    name: uniqueTopicName(domain, event),
    key: topic.key,
    valueSchema: (overrides.valueSchema ?? topic.valueSchema) as TopicDescriptor<Value>['valueSchema'],
    partitions: topic.partitions,
    replicationFactor: topic.replicationFactor,
    minInsyncReplicas: topic.minInsyncReplicas,
    cleanup: topic.cleanup,
    retentionMs: topic.retentionMs,
    owner: topic.owner,
    consumers: topic.consumers,
  });
}

/**
 * Creates topics for one test file and deletes them (and their registry subjects) in `cleanup`.
 */
export class TestTopics {
  private readonly created = new Set<string>();
  private admin: Admin | undefined;

  constructor(private readonly kafka: Kafka = testKafka()) {}

  async create(...topics: TopicDescriptor<unknown>[]): Promise<void> {
    const admin = await this.connectedAdmin();
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({ topic: t.name, numPartitions: t.partitions })),
    });
    for (const topic of topics) this.created.add(topic.name);
  }

  /** Deletes these topics (and subjects) in `cleanup` too, though something else created them. */
  track(...names: string[]): void {
    for (const name of names) this.created.add(name);
  }

  /** Deletes every topic this instance created, and its registry subject (soft and hard). */
  async cleanup(): Promise<void> {
    const names = [...this.created];
    this.created.clear();
    if (names.length > 0 && this.admin)
      await this.admin.deleteTopics({ topics: names }).catch(() => undefined);
    await this.admin?.disconnect();
    this.admin = undefined;
    const { registryUrl } = testInfra();
    for (const name of names) {
      for (const query of ['', '?permanent=true']) {
        await fetch(`${registryUrl}/subjects/${encodeURIComponent(`${name}-value`)}${query}`, {
          method: 'DELETE',
        }).catch(() => undefined);
      }
    }
  }

  private async connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      this.admin = this.kafka.admin();
      await this.admin.connect();
    }
    return this.admin;
  }
}

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

function toReadRecord(topic: string, partition: number, message: KafkaMessage): ReadRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined) headers[name] = value.toString();
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: message.key,
    value: message.value,
    headers,
  };
}

type Positions = readonly { topic: string; partition: number; offset: string }[];

/**
 * Commits `offsets` as the offsets of `groupId`, a group with no members, by joining it once for
 * every topic and committing as soon as the join completes. kafkajs' `admin.setOffsets` joins once
 * per topic and then waits out a whole fetch (5 s) before it commits: seconds per topic per test.
 */
async function commitNewGroupOffsets(groupId: string, offsets: Positions, kafka: Kafka): Promise<void> {
  const topics = [...new Set(offsets.map((p) => p.topic))];
  if (topics.length === 0) return;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    // run() resolves once this member has joined and synced; the fetch loop it schedules finds
    // every topic paused, so nothing is read, and nothing but the offsets below is committed.
    const running = consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async () => {},
    });
    consumer.pause(topics.map((topic) => ({ topic })));
    await running;
    await consumer.commitOffsets([...offsets]);
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Reads `topics` with a throwaway group, from the earliest offset or from `from` (its offsets
 * are committed for the group first), handing each record to `take` until it returns true;
 * fails after `timeoutMs` with `progress()` in the message.
 */
async function readUntil(
  topics: readonly string[],
  take: (record: ReadRecord) => boolean,
  progress: () => string,
  {
    timeoutMs,
    kafka,
    from,
    batchRead,
  }: {
    timeoutMs: number;
    kafka: Kafka;
    from?: Positions;
    /**
     * After each fetched batch, with the offset of its last record counting the transaction
     * markers a read_committed consumer never sees: true when that is enough.
     */
    batchRead?: (topic: string, partition: number, lastOffset: bigint) => boolean;
  },
): Promise<void> {
  const groupId = uniqueName('read');
  if (from !== undefined) await commitNewGroupOffsets(groupId, from, kafka);
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: from === undefined });
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(
        () => reject(new Error(`${progress()} from ${topics.join(', ')} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const finish = () => {
        done = true;
        clearTimeout(timer);
        resolve();
      };
      void consumer.run({
        eachBatch: ({ batch }) => {
          for (const message of batch.messages) {
            if (done) break;
            if (take(toReadRecord(batch.topic, batch.partition, message))) finish();
          }
          if (!done && batchRead?.(batch.topic, batch.partition, BigInt(batch.lastOffset()))) finish();
          return Promise.resolve();
        },
      });
    });
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined); // never joined: nothing to delete
    await admin.disconnect();
  }
}

/**
 * Reads a topic from the earliest offset until `count` records arrived (or fails after
 * `timeoutMs`), for assertions on what is really in the topic.
 */
export async function readRecords(
  topic: string,
  count: number,
  { timeoutMs = 20_000, kafka = testKafka() }: { timeoutMs?: number; kafka?: Kafka } = {},
): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  if (count === 0) return records;
  await readUntil(
    [topic],
    (record) => records.push(record) >= count,
    () => `read ${records.length} of ${count} records`,
    { timeoutMs, kafka },
  );
  return records;
}

/**
 * The first record of `topic`, read from the beginning, that `match` accepts (e.g. by key on a
 * dead-letter topic other tests' records reach too). Unlike `recordsWithKey` it does not wait
 * for the partition ends, which a transactional producer's commit marker keeps out of reach.
 */
export async function findRecord(
  topic: string,
  match: (record: ReadRecord) => boolean,
  { timeoutMs = 30_000, kafka = testKafka() }: { timeoutMs?: number; kafka?: Kafka } = {},
): Promise<ReadRecord> {
  let found: ReadRecord | undefined;
  await readUntil(
    [topic],
    (record) => {
      if (match(record)) found = record;
      return found !== undefined;
    },
    () => 'found no matching record',
    { timeoutMs, kafka },
  );
  return found!;
}

/**
 * Every committed record `topics` hold right now: from `from` (the positions taken before the
 * test wrote, e.g. `topicEnds`: a shared topic's history is not read) or, without it, from the
 * earliest offset (a test's own topic), up to the end offset each partition had when called, so a
 * missing record is proven missing, not just not seen yet. Transaction markers count towards the
 * end without being records.
 */
export async function readToEnd(
  topics: readonly string[],
  {
    timeoutMs = 30_000,
    kafka = testKafka(),
    from,
  }: { timeoutMs?: number; kafka?: Kafka; from?: Positions } = {},
): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const starts: { topic: string; partition: number; offset: string }[] = [];
  const ends = new Map<string, bigint>();
  try {
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        const start = BigInt(
          from?.find((p) => p.topic === topic && p.partition === o.partition)?.offset ?? o.low,
        );
        starts.push({ topic, partition: o.partition, offset: String(start) });
        if (BigInt(o.high) > start) ends.set(`${topic}:${o.partition}`, BigInt(o.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  const found: ReadRecord[] = [];
  if (ends.size === 0) return found;
  const pending = new Set(ends.keys());
  const reached = (topic: string, partition: number, offset: bigint) => {
    const end = ends.get(`${topic}:${partition}`);
    if (end !== undefined && offset >= end - 1n) pending.delete(`${topic}:${partition}`);
    return pending.size === 0;
  };
  await readUntil(
    topics,
    (record) => {
      const end = ends.get(`${record.topic}:${record.partition}`);
      if (end !== undefined && BigInt(record.offset) < end) found.push(record);
      return reached(record.topic, record.partition, BigInt(record.offset));
    },
    () => `did not reach the end of ${pending.size} partitions (${[...pending].join(', ')})`,
    { timeoutMs, kafka, from: starts, batchRead: reached },
  );
  return found;
}

/** Every record with `key` that a shared topic holds right now (see `readToEnd`). */
export async function recordsWithKey(
  topic: string,
  key: string,
  options: { timeoutMs?: number; kafka?: Kafka; from?: Positions } = {},
): Promise<ReadRecord[]> {
  return (await readToEnd([topic], options)).filter((record) => record.key?.toString() === key);
}

/** The end (next offset to be written) of every partition of `topics`. */
export async function topicEnds(
  topics: readonly string[],
  kafka: Kafka = testKafka(),
): Promise<{ topic: string; partition: number; offset: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await Promise.all(
      topics.map(async (topic) =>
        (await admin.fetchTopicOffsets(topic)).map((p) => ({
          topic,
          partition: p.partition,
          offset: p.high,
        })),
      ),
    );
    return ends.flat();
  } finally {
    await admin.disconnect();
  }
}

/**
 * Commits a new consumer group's offsets at the end of `topics`, so it starts with what is
 * written next instead of replaying what earlier tests left in shared topics.
 */
export async function startGroupAtEnd(
  groupId: string,
  topics: readonly string[],
  kafka: Kafka = testKafka(),
) {
  await commitNewGroupOffsets(groupId, await topicEnds(topics, kafka), kafka);
}

/**
 * Reads `topics` from given positions (e.g. where a projection started) with a throwaway group,
 * handing every record to `take` until it returns true; fails after `timeoutMs`. For shared
 * topics, where reading from the earliest offset would replay every earlier run.
 */
export async function readFrom(
  from: Positions,
  take: (record: ReadRecord) => boolean,
  { timeoutMs = 60_000, kafka = testKafka() }: { timeoutMs?: number; kafka?: Kafka } = {},
): Promise<void> {
  const topics = [...new Set(from.map((p) => p.topic))];
  await readUntil(topics, take, () => 'did not find everything', { timeoutMs, kafka, from });
}
