import { randomBytes } from 'node:crypto';
import type { TopicDescriptor } from '@tideline/contracts';
import { TestTopics, isolatedTopic, testInfra, uniqueName } from '@tideline/testing';
import { RegistryCodec } from '../codec';
import { groupTopics } from '../group-topics';
import { createKafka, type Kafka } from '../kafka';
import { Publisher } from '../publisher';
import { RecordSigner } from '../signing';

export function randomSigningKey(id = uniqueName('key')): { id: string; secret: Buffer } {
  return { id, secret: randomBytes(32) };
}

/** A signer that signs with a fresh key and requires signatures on every topic. */
export function testSigner(key = randomSigningKey()): RecordSigner {
  return new RecordSigner({ signingKey: key, defaultPolicy: 'required' });
}

/** Kafka, registry and topics for one test file; `cleanup()` in afterAll. */
export class MessagingFixture {
  readonly kafka: Kafka;
  readonly codec: RegistryCodec;
  readonly topics = new TestTopics();
  private readonly publishers: Publisher[] = [];

  constructor() {
    const infra = testInfra();
    this.kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('messaging-test') });
    this.codec = new RegistryCodec({ registryUrl: infra.registryUrl, autoRegister: true });
  }

  /** A private copy of a catalog topic, created on the broker, its schema registered. */
  async topic<Value>(
    catalogTopic: TopicDescriptor<Value>,
    partitions?: number,
  ): Promise<TopicDescriptor<Value>> {
    const copy = isolatedTopic(catalogTopic);
    const topic = partitions === undefined ? copy : { ...copy, partitions };
    await this.topics.create(topic);
    await this.codec.register(topic);
    return topic;
  }

  /** A unique consumer group whose retry and dead-letter topics are deleted at cleanup. */
  group(sources: readonly TopicDescriptor<unknown>[], delaysMs?: readonly number[]): string {
    const groupId = uniqueName('group');
    const topics = groupTopics(groupId, sources, delaysMs ? { delaysMs } : undefined);
    this.topics.track(...topics.map((t) => t.name));
    return groupId;
  }

  publisher(signer: RecordSigner, options: { timeoutMs?: number; lingerMs?: number } = {}): Publisher {
    const publisher = new Publisher({
      kafka: this.kafka,
      codec: this.codec,
      signer,
      service: 'messaging-test',
      ...options,
    });
    this.publishers.push(publisher);
    return publisher;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.publishers.map((p) => p.close().catch(() => undefined)));
    await this.topics.cleanup();
  }
}
