import { randomBytes } from 'node:crypto';
import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import {
  AVRO_CONTENT_TYPE,
  HEADER,
  RecordSigner,
  RegistryCodec,
  createKafka,
  groupTopics,
  type Admin,
  type Headers,
  type Kafka,
} from '@tideline/messaging';
import { isolatedTopic, uniqueName, uniqueTopicName } from '@tideline/testing';
import { v7 as uuidv7 } from 'uuid';

/** The benchmark talks to the local stack only. */
export const BROKER = '127.0.0.1:9092';
export const REGISTRY_URL = 'http://127.0.0.1:8081/apis/ccompat/v7';

/** A record as publish() writes it: UTF-8 key, framed Avro value, identity and signature headers. */
export interface PreparedRecord {
  key: Buffer;
  value: Buffer;
  headers: Headers;
}

/** Kafka, registry, signers and every topic, subject and group the run creates (deleted in `cleanup`). */
export class BenchEnv {
  readonly kafka: Kafka;
  readonly codec: RegistryCodec;
  /** Signs with a fresh key and requires signatures, as in production. */
  readonly signer = new RecordSigner({
    signingKey: { id: uniqueName('bench-key'), secret: randomBytes(32) },
    defaultPolicy: 'required',
  });
  readonly unsigned = RecordSigner.disabled();
  private admin: Admin | undefined;
  private readonly topics = new Set<string>();
  private readonly subjects = new Set<string>();
  private readonly groups = new Set<string>();

  constructor() {
    this.kafka = createKafka({ brokers: [BROKER], clientId: uniqueName('bench') });
    this.codec = new RegistryCodec({ registryUrl: REGISTRY_URL, autoRegister: true });
  }

  /** A fresh OrderPlaced topic (unique name) on the broker, its schema registered. */
  async orderTopic(partitions: number): Promise<TopicDescriptor<OrderPlaced>> {
    // bench.order-placed-<unique>.v1: every topic the benchmark creates starts with "bench".
    const copy = isolatedTopic({ ...orderPlacedTopic, name: 'bench.order-placed.v1' });
    const topic: TopicDescriptor<OrderPlaced> = { ...copy, partitions };
    await this.createTopic(topic.name, partitions);
    this.subjects.add(topic.valueSubject);
    await this.codec.register(topic);
    return topic;
  }

  /** A fresh topic for raw producers (no schema). */
  async rawTopic(label: string, partitions: number): Promise<string> {
    const name = uniqueTopicName('bench', label);
    await this.createTopic(name, partitions);
    return name;
  }

  /** A unique consumer group, deleted at cleanup with its retry and dead-letter topics when `runtime`. */
  group(label: string, runtimeOf?: TopicDescriptor<unknown>): string {
    const groupId = uniqueName(`bench-${label}`);
    this.groups.add(groupId);
    if (runtimeOf) for (const topic of groupTopics(groupId, [runtimeOf])) this.topics.add(topic.name);
    return groupId;
  }

  /** Deletes these topics at cleanup too, though something else created them. */
  track(...names: string[]): void {
    for (const name of names) this.topics.add(name);
  }

  async createTopic(name: string, partitions: number): Promise<void> {
    const admin = await this.connectedAdmin();
    this.topics.add(name);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }],
    });
  }

  /** Deletes every group, topic and subject created so far. Never throws. */
  async cleanup(): Promise<{ topics: number; groups: number }> {
    const topics = [...this.topics];
    const groups = [...this.groups];
    this.topics.clear();
    this.groups.clear();
    const admin = await this.connectedAdmin().catch(() => undefined);
    if (admin) {
      if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
      for (let i = 0; i < topics.length; i += 50) {
        await admin.deleteTopics({ topics: topics.slice(i, i + 50), timeout: 30_000 }).catch(() => undefined);
      }
      await admin.disconnect().catch(() => undefined);
      this.admin = undefined;
    }
    for (const subject of this.subjects) {
      for (const query of ['', '?permanent=true']) {
        await fetch(`${REGISTRY_URL}/subjects/${encodeURIComponent(subject)}${query}`, {
          method: 'DELETE',
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined);
      }
    }
    this.subjects.clear();
    return { topics: topics.length, groups: groups.length };
  }

  private async connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }
}

const SKUS = ['KEYBOARD', 'MONITOR', 'HEADSET', 'WEBCAM', 'DOCKING', 'CHARGER', 'STAND', 'CABLE'];

/** An order of about 250 bytes as framed Avro: eight lines with realistic SKUs. */
export function sampleOrder(i: number): OrderPlaced {
  return {
    orderId: uuidv7(),
    customerId: `customer-${String(i % 50_000).padStart(6, '0')}-${(i * 7919) % 1_000_003}`,
    currency: 'EUR',
    lines: Array.from({ length: 8 }, (_, line) => ({
      sku: `SKU-${SKUS[(i + line) % SKUS.length]}-${String((i * 31 + line * 977) % 100_000).padStart(5, '0')}-EU`,
      quantity: 1 + ((i + line) % 9),
    })),
    placedAt: 1_780_000_000_000 + i,
  };
}

/**
 * Encodes and signs `value` the way Publisher.publish does (same headers, same framing), for
 * the raw kafkajs producers, so they write the same bytes.
 */
export async function prepareRecord(
  env: BenchEnv,
  topic: TopicDescriptor<OrderPlaced>,
  value: OrderPlaced,
): Promise<PreparedRecord> {
  const eventId = uuidv7();
  const headers: Headers = {
    [HEADER.specVersion]: '1.0',
    [HEADER.eventId]: eventId,
    [HEADER.eventType]: topic.eventType,
    [HEADER.producer]: 'bench',
    [HEADER.producedAt]: new Date().toISOString(),
    [HEADER.contentType]: AVRO_CONTENT_TYPE,
    [HEADER.correlationId]: eventId,
  };
  const bytes = await env.codec.encode(topic, value);
  const key = Buffer.from(value.orderId);
  env.signer.sign(topic.name, key, bytes, headers);
  return { key, value: bytes, headers };
}

/** Average bytes of key, value and headers (names + values) of the records. */
export function recordSizes(records: readonly PreparedRecord[]): {
  key: number;
  value: number;
  headers: number;
  total: number;
} {
  let key = 0;
  let value = 0;
  let headers = 0;
  for (const record of records) {
    key += record.key.length;
    value += record.value.length;
    for (const [name, text] of Object.entries(record.headers))
      headers += Buffer.byteLength(name) + Buffer.byteLength(text);
  }
  const n = Math.max(1, records.length);
  const avg = (bytes: number) => Math.round(bytes / n);
  return { key: avg(key), value: avg(value), headers: avg(headers), total: avg(key + value + headers) };
}
