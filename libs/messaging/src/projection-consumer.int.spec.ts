// ProjectionConsumer against the real Kafka and registry, with a store that keeps positions in memory.
import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import { eventually, readRecords, topicEnds } from '@tideline/testing';
import { frame } from './codec';
import { deadLetterTopicName } from './group-topics';
import { HEADER } from './headers';
import type { Logger } from './log';
import {
  createProjectionConsumer,
  type ProjectionBatch,
  type ProjectionConsumer,
  type ProjectionStore,
} from './projection-consumer';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
const signer = testSigner(randomSigningKey());
const running: ProjectionConsumer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});
afterAll(() => fixture.cleanup());

const order = (n: number): OrderPlaced => ({
  orderId: `order-${n}`,
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 1 }],
  placedAt: 1_763_856_000_000 + n,
});

/** Positions and applied values in memory, with the same compare-and-set contract as the PostgreSQL store. */
class MemoryStore implements ProjectionStore {
  readonly positions = new Map<string, string>();
  readonly applied: string[] = [];
  failNext: { error: Error; times: number } | undefined;
  /** Batches this rejects with a transient error while it answers true (checked before anything else). */
  failWhen: ((batch: ProjectionBatch) => boolean) | undefined;
  poison = new Set<string>();

  position(topic: string, partition: number): Promise<string | undefined> {
    return Promise.resolve(this.positions.get(`${topic}:${partition}`));
  }

  apply(batch: ProjectionBatch): Promise<boolean> {
    const slot = `${batch.topic}:${batch.partition}`;
    const stored = this.positions.get(slot);
    if (stored !== undefined && stored !== batch.from) return Promise.resolve(false);
    if (this.failWhen?.(batch)) return Promise.reject(unavailable());
    if (this.failNext && this.failNext.times > 0) {
      this.failNext.times -= 1;
      return Promise.reject(this.failNext.error);
    }
    const values = batch.records.map((r) => (r.value as OrderPlaced).orderId);
    const bad = values.find((v) => this.poison.has(v));
    if (bad !== undefined) return Promise.reject(new RangeError(`cannot apply ${bad}`));
    this.applied.push(...values);
    this.positions.set(slot, batch.to);
    return Promise.resolve(true);
  }

  isTransient(error: unknown): boolean {
    return (error as { code?: string }).code === 'ECONNREFUSED';
  }
}

const unavailable = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

async function start(
  groupId: string,
  topic: TopicDescriptor<OrderPlaced>,
  store: ProjectionStore,
  logger?: Logger,
) {
  const consumer = createProjectionConsumer({
    ...(logger ? { logger } : {}),
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    groupId,
    topics: [topic],
    store,
    maxBatchRecords: 4,
    heartbeatIntervalMs: 500,
  });
  running.push(consumer);
  await consumer.start();
  return consumer;
}

async function publish(topic: TopicDescriptor<OrderPlaced>, from: number, to: number) {
  const publisher = fixture.publisher(signer);
  for (let n = from; n < to; n++) await publisher.publish(topic, 'same-key', order(n));
}

/** order-0, an undecodable record, order-1, order-2 (offsets 0 to 3), all with key `k`. */
async function publishWithGarbage(topic: TopicDescriptor<OrderPlaced>) {
  const publisher = fixture.publisher(signer);
  await publisher.publish(topic, 'k', order(0));
  // Not Avro at all, but correctly signed: only decoding fails.
  const garbage = frame(1, Buffer.from('definitely not avro'));
  const headers = { [HEADER.eventId]: 'garbage', [HEADER.eventType]: topic.eventType };
  signer.sign(topic.name, Buffer.from('k'), garbage, headers);
  await publisher.send({ topic: topic.name, key: Buffer.from('k'), value: garbage, headers });
  await publisher.publish(topic, 'k', order(1));
  await publisher.publish(topic, 'k', order(2));
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `order-${from + i}`);

it('applies every record once, from the stored position, also after Kafka offsets were committed further or not at all', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], []);
  await publish(topic, 0, 10);
  const store = new MemoryStore();
  const first = await start(groupId, topic, store);
  await eventually('10 applied', () => (store.applied.length >= 10 ? true : undefined));
  await first.stop();
  expect(store.applied).toEqual(range(0, 10));
  expect(store.positions.get(`${topic.name}:0`)).toBe('10');

  // The read model is reset to offset 4 (Kafka's committed offset is 10): the consumer goes back.
  store.positions.set(`${topic.name}:0`, '4');
  store.applied.length = 0;
  await publish(topic, 10, 12);
  await start(groupId, topic, store);
  await eventually('back to 12', () => (store.positions.get(`${topic.name}:0`) === '12' ? true : undefined));
  expect(store.applied).toEqual(range(4, 12));
  await running.pop()!.stop();

  // A store ahead of Kafka (commits lost): the consumer skips forward, applying nothing twice.
  const fresh = new MemoryStore();
  fresh.positions.set(`${topic.name}:0`, '9');
  const ahead = await start(fixture.group([topic], []), topic, fresh);
  await eventually('up to 12', () => (fresh.positions.get(`${topic.name}:0`) === '12' ? true : undefined));
  expect(fresh.applied).toEqual(range(9, 12));
  // It sought to offset 9 instead of reading (and skipping) the records before it.
  expect(ahead.status().skipped).toBe(0);
});

it('dead-letters an undecodable record and one its batch cannot apply, and keeps going', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], []);
  await publishWithGarbage(topic);
  const store = new MemoryStore();
  store.poison.add('order-1');
  const consumer = await start(groupId, topic, store);
  await eventually('position past the last record', () =>
    store.positions.get(`${topic.name}:0`) === '4' ? true : undefined,
  );
  expect(store.applied).toEqual(['order-0', 'order-2']);
  const dead = await readRecords(deadLetterTopicName(groupId), 2);
  expect(dead.map((r) => [r.headers[HEADER.originalOffset], r.headers[HEADER.errorCode]])).toEqual([
    ['1', expect.stringMatching(/^TDL_MSG_/)],
    ['2', 'TDL_MSG_HANDLER_FAILED'],
  ]);
  expect(dead[1]!.headers[HEADER.errorMessage]).toBe('cannot apply order-1');
  expect(consumer.status()).toMatchObject({ deadLettered: 2, state: 'running' });
});

it('retries a batch the store could not apply for a transient reason, without dead-lettering', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], []);
  await publish(topic, 0, 3);
  const store = new MemoryStore();
  store.failNext = {
    error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    times: 2,
  };
  const consumer = await start(groupId, topic, store);
  await eventually('3 applied', () => (store.applied.length >= 3 ? true : undefined), { timeoutMs: 15_000 });
  expect(store.applied).toEqual(range(0, 3));
  expect(consumer.status().deadLettered).toBe(0);
  const progress = await consumer.progress();
  expect(progress).toHaveLength(1);
  expect(progress[0]).toMatchObject({ topic: topic.name, partition: 0, end: '3' });
});

it('writes each dead letter once however often a transient store failure makes its batch run again', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], []);
  await publishWithGarbage(topic); // offset 1 undecodable; order-1 at offset 2 its batch cannot apply
  const store = new MemoryStore();
  store.poison.add('order-1');
  // The database goes away twice: after the undecodable record's dead letter was written (the
  // whole slice fails, 3 tries), and after order-1's dead letter, while moving past it (2 tries).
  let slice = 3;
  let skip = 2;
  store.failWhen = (batch) =>
    (batch.from === '0' && batch.to === '4' && slice-- > 0) ||
    (batch.from === '2' && batch.records.length === 0 && skip-- > 0);
  const consumer = await start(groupId, topic, store);
  await eventually(
    'position past the last record',
    () => (store.positions.get(`${topic.name}:0`) === '4' ? true : undefined),
    { timeoutMs: 30_000 },
  );
  expect([slice, skip]).toEqual([-1, -1]); // every failure happened
  expect(store.applied).toEqual(['order-0', 'order-2']);
  // Every dead letter was acknowledged before the position moved past it: the topic is complete.
  const [end] = await topicEnds([deadLetterTopicName(groupId)]);
  const dead = await readRecords(deadLetterTopicName(groupId), Number(end!.offset));
  expect(dead.map((r) => r.headers[HEADER.originalOffset])).toEqual(['1', '2']);
  expect(consumer.status()).toMatchObject({ deadLettered: 2, state: 'running' });
});

it("a new group whose store starts at the topic's end fetches from there, never the topic's history first", async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], []);
  await publish(topic, 0, 10); // another run's history, which this group must not fetch
  const store = new MemoryStore();
  store.positions.set(`${topic.name}:0`, '10');
  const messages: string[] = [];
  const note = (_fields: Record<string, unknown>, message: string) => void messages.push(message);
  await start(groupId, topic, store, { debug: note, info: note, warn: note, error: note });
  await publish(topic, 10, 12);
  await eventually('the new records applied', () => (store.applied.length >= 2 ? true : undefined));
  expect(store.applied).toEqual(range(10, 12));
  expect(messages.filter((m) => m.startsWith('seeking'))).toEqual([]);
});
