import { defineTopic, type TopicDescriptor } from '@tideline/contracts';
import { Kafka, logLevel, type Admin } from 'kafkajs';
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

/**
 * Reads a topic from the earliest offset with a throwaway group until `count` records
 * arrived (or fails after `timeoutMs`), for assertions on what is really in the topic.
 */
export async function readRecords(
  topic: string,
  count: number,
  { timeoutMs = 20_000, kafka = testKafka() }: { timeoutMs?: number; kafka?: Kafka } = {},
): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({
    groupId: uniqueName('read'),
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
  });
  const records: ReadRecord[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`read ${records.length} of ${count} records from ${topic} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (count === 0) {
        clearTimeout(timer);
        resolve();
      }
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            if (value !== undefined) headers[name] = value.toString();
          }
          records.push({
            topic,
            partition,
            offset: message.offset,
            timestamp: message.timestamp,
            key: message.key,
            value: message.value,
            headers,
          });
          if (records.length >= count) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
    return records;
  } finally {
    await consumer.disconnect();
  }
}
