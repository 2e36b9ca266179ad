import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import { eventually, readRecords, testKafka, uniqueName } from '@tideline/testing';
import { frame } from './codec';
import { createConsumer, subscribe, type RecordContext, type TidelineConsumer } from './consumer';
import { MessagingError } from './errors';
import { ProcessingError } from './failure';
import { deadLetterTopicName, retryTopicName } from './group-topics';
import { HEADER } from './headers';
import { createKafka } from './kafka';
import type { Publisher } from './publisher';
import { RecordSigner } from './signing';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
const running: TidelineConsumer[] = [];
const key = randomSigningKey();
const signer = testSigner(key);

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});
afterAll(() => fixture.cleanup());

const order = (n: number, sku = 'SKU-1'): OrderPlaced => ({
  orderId: `order-${n}`,
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku, quantity: 1 }],
  placedAt: 1_763_856_000_000 + n,
});

interface Seen {
  value: OrderPlaced;
  record: RecordContext;
}

async function start(
  groupId: string,
  topic: TopicDescriptor<OrderPlaced>,
  handler: (value: OrderPlaced, record: RecordContext) => Promise<void> | void,
  options: {
    delaysMs?: number[];
    consumerSigner?: RecordSigner;
    from?: 'earliest' | 'latest' | { timestamp: number };
  } = {},
): Promise<TidelineConsumer> {
  const consumer = createConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer: options.consumerSigner ?? signer,
    groupId,
    subscriptions: [subscribe(topic, handler, options.from ? { from: options.from } : {})],
    retry: { delaysMs: options.delaysMs ?? [1_000, 10_000, 60_000] },
    heartbeatIntervalMs: 500,
  });
  running.push(consumer);
  await consumer.start();
  return consumer;
}

/** Writes raw bytes to a topic, bypassing the publisher (what a foreign or buggy producer does). */
async function produceRaw(
  topic: string,
  key: string,
  value: Buffer | null,
  headers: Record<string, string> = {},
) {
  const producer = testKafka().producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key, value, headers, partition: 0 }] });
  await producer.disconnect();
}

let publisher: Publisher;
beforeAll(() => {
  publisher = fixture.publisher(signer);
});

it('dead-letters a garbage-bytes record with its reason and goes on with the records after it on the same partition', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  const seen: Seen[] = [];
  await publisher.publish(topic, 'order-1', order(1));
  await produceRaw(topic.name, 'order-2', Buffer.from('not avro at all'));
  await publisher.publish(topic, 'order-3', order(3));
  const consumer = await start(groupId, topic, (value, record) => {
    seen.push({ value, record });
  });

  await eventually('both good records handled', () => (seen.length === 2 ? true : undefined));
  expect(seen.map((s) => s.value.orderId)).toEqual(['order-1', 'order-3']);
  const [dead] = await readRecords(deadLetterTopicName(groupId), 1);
  expect(dead?.key?.toString()).toBe('order-2');
  expect(dead?.value?.toString()).toBe('not avro at all');
  // Raw bytes without a signature fail the signature check first: the reason says so.
  expect(dead?.headers[HEADER.errorCode]).toBe('TDL_MSG_SIGNATURE_MISSING');
  expect(consumer.status()).toMatchObject({ state: 'running', processed: 2, deadLettered: 1 });
});

it('dead-letters undecodable bytes and an unknown schema id with the decoder reason when signing is off', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  const seen: string[] = [];
  await produceRaw(topic.name, 'order-1', Buffer.from([0, 0, 0]));
  await produceRaw(topic.name, 'order-2', frame(987_654_321, Buffer.from([1, 2, 3])));
  await publisher.publish(topic, 'order-3', order(3));
  await start(groupId, topic, (value) => void seen.push(value.orderId), {
    consumerSigner: RecordSigner.disabled(),
  });

  const dead = await readRecords(deadLetterTopicName(groupId), 2);
  expect(Object.fromEntries(dead.map((d) => [d.key?.toString(), d.headers[HEADER.errorCode]]))).toEqual({
    'order-1': 'TDL_MSG_DECODE_FAILED',
    'order-2': 'TDL_MSG_UNKNOWN_SCHEMA_ID',
  });
  await eventually('the good record handled', () => (seen.includes('order-3') ? true : undefined));
});

it('retries a retryable failure through the retry topics, with one effect, while later records flow past it', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], [800, 800]);
  const effects: string[] = [];
  const attempts: number[] = [];
  await start(
    groupId,
    topic,
    (value, record) => {
      if (value.orderId === 'order-1') {
        attempts.push(record.attempt);
        if (record.attempt < 3) throw new ProcessingError('INVENTORY_BUSY', 'inventory is busy', true);
      }
      effects.push(value.orderId);
    },
    { delaysMs: [800, 800] },
  );
  await publisher.publish(topic, 'order-1', order(1));
  await publisher.publish(topic, 'order-2', order(2));

  await eventually('order-1 succeeded on its third attempt', () =>
    effects.includes('order-1') ? true : undefined,
  );
  expect(attempts).toEqual([1, 2, 3]);
  // order-2 came after order-1 on the same partition, yet was handled before order-1's retry was due.
  expect(effects).toEqual(['order-2', 'order-1']);
  const retried = await readRecords(retryTopicName(groupId, 2), 1);
  expect(retried[0]?.headers).toMatchObject({
    [HEADER.attempts]: '2',
    [HEADER.errorCode]: 'INVENTORY_BUSY',
    [HEADER.originalTopic]: topic.name,
    [HEADER.originalPartition]: '0',
    [HEADER.originalOffset]: '0',
  });
});

it('dead-letters a permanent failure after one attempt, with the failure headers', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  const attempts: number[] = [];
  const handled: string[] = [];
  await start(groupId, topic, (value, record) => {
    if (value.orderId === 'order-1') {
      attempts.push(record.attempt);
      throw new ProcessingError('ORDER_UNPROCESSABLE', `order ${value.orderId} has 17 problems`, false);
    }
    handled.push(value.orderId);
  });
  const sent = await publisher.publish(topic, 'order-1', order(1), { correlationId: 'corr-permanent' });
  await publisher.publish(topic, 'order-2', order(2));

  const [dead] = await readRecords(deadLetterTopicName(groupId), 1);
  await eventually('the next record handled', () => (handled.includes('order-2') ? true : undefined));
  expect(attempts).toEqual([1]);
  const headers = dead!.headers;
  expect(headers).toMatchObject({
    [HEADER.group]: groupId,
    [HEADER.originalTopic]: topic.name,
    [HEADER.originalPartition]: String(sent.partition),
    [HEADER.originalOffset]: sent.offset,
    [HEADER.attempts]: '1',
    [HEADER.errorCode]: 'ORDER_UNPROCESSABLE',
    [HEADER.errorMessage]: 'order order-1 has 17 problems',
    // The original identity headers and signature ride along unchanged.
    [HEADER.eventId]: sent.eventId,
    [HEADER.correlationId]: 'corr-permanent',
  });
  expect(headers[HEADER.errorFingerprint]).toMatch(/^[0-9a-f]{16}$/);
  expect(Number(headers[HEADER.originalTimestamp])).toBeGreaterThan(Date.now() - 60_000);
  expect(Date.parse(headers[HEADER.firstFailureAt]!)).toBe(Date.parse(headers[HEADER.lastFailureAt]!));
  expect(Date.parse(headers[HEADER.deadLetteredAt]!)).toBeGreaterThan(0);
  expect(await fixture.codec.decode(topic, dead!.value!)).toEqual(order(1));
});

it('dead-letters a record whose value was tampered with, and one signed with a key the consumer does not know', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  const handled: string[] = [];
  // A correctly signed record, then altered in flight: same headers, other value bytes.
  const value = await fixture.codec.encode(topic, order(1));
  const headers: Record<string, string> = {
    [HEADER.eventId]: 'event-1',
    [HEADER.eventType]: topic.eventType,
    [HEADER.correlationId]: 'corr-1',
    [HEADER.producer]: 'messaging-test',
    [HEADER.producedAt]: new Date().toISOString(),
  };
  signer.sign(topic.name, Buffer.from('order-1'), value, headers);
  const tampered = await fixture.codec.encode(topic, { ...order(1), customerId: 'mallory' });
  await produceRaw(topic.name, 'order-1', tampered, headers);
  const stranger = fixture.publisher(testSigner(randomSigningKey('stranger')));
  await stranger.publish(topic, 'order-2', order(2));
  await publisher.publish(topic, 'order-3', order(3));
  await start(groupId, topic, (v) => void handled.push(v.orderId));

  const dead = await readRecords(deadLetterTopicName(groupId), 2);
  expect(Object.fromEntries(dead.map((d) => [d.key?.toString(), d.headers[HEADER.errorCode]]))).toEqual({
    'order-1': 'TDL_MSG_SIGNATURE_INVALID',
    'order-2': 'TDL_MSG_SIGNATURE_UNKNOWN_KEY',
  });
  await eventually('the genuine record handled', () => (handled.includes('order-3') ? true : undefined));
  expect(handled).toEqual(['order-3']);
});

it('accepts records signed with an older key during a rotation', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  const oldKey = randomSigningKey('old');
  const newKey = randomSigningKey('new');
  const handled: string[] = [];
  await fixture.publisher(testSigner(oldKey)).publish(topic, 'order-1', order(1));
  await fixture.publisher(testSigner(newKey)).publish(topic, 'order-2', order(2));
  const rotating = new RecordSigner({
    signingKey: newKey,
    verificationKeys: new Map([[oldKey.id, oldKey.secret]]),
    defaultPolicy: 'required',
  });
  await start(groupId, topic, (v) => void handled.push(v.orderId), { consumerSigner: rotating });
  await eventually('both records handled', () => (handled.length === 2 ? handled : undefined));
  expect(handled).toEqual(['order-1', 'order-2']);
});

it('splits partitions across three members and loses nothing while one joins and one leaves', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 6);
  const groupId = fixture.group([topic]);
  const handled = new Map<string, number>();
  const handler = (value: OrderPlaced) => {
    handled.set(value.orderId, (handled.get(value.orderId) ?? 0) + 1);
  };
  const a = await start(groupId, topic, handler);
  const b = await start(groupId, topic, handler);
  const c = await start(groupId, topic, handler);
  await eventually('three members share the six partitions', () => {
    const owned = [a, b, c].map((m) => (m.status().assignments[topic.name] ?? []).length);
    return owned.every((n) => n === 2) ? owned : undefined;
  });

  const total = 300;
  const publishing = (async () => {
    for (let n = 0; n < total; n += 1) await publisher.publish(topic, `order-${n}`, order(n));
  })();
  await eventually('some records handled', () => (handled.size > 50 ? true : undefined));
  const d = await start(groupId, topic, handler); // joins mid-stream
  await a.stop(); // leaves mid-stream
  await publishing;

  await eventually(`all ${total} records handled`, () => (handled.size === total ? true : undefined));
  expect([...handled.keys()].sort()).toEqual(Array.from({ length: total }, (_, n) => `order-${n}`).sort());
  await eventually('the remaining three members share the partitions', () => {
    const owned = [b, c, d].map((m) => (m.status().assignments[topic.name] ?? []).length);
    return owned.reduce((x, y) => x + y, 0) === 6 && owned.every((n) => n > 0) ? owned : undefined;
  });
});

it('starts a new group at latest or at a timestamp when asked', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  await publisher.publish(topic, 'order-1', order(1), { timestamp: new Date(Date.now() - 3_600_000) });
  const cutoff = Date.now() - 1_800_000;
  await publisher.publish(topic, 'order-2', order(2), { timestamp: new Date(Date.now() - 60_000) });

  const fromTime: string[] = [];
  await start(fixture.group([topic]), topic, (v) => void fromTime.push(v.orderId), {
    from: { timestamp: cutoff },
  });
  const fromLatest: string[] = [];
  await start(fixture.group([topic]), topic, (v) => void fromLatest.push(v.orderId), { from: 'latest' });
  await publisher.publish(topic, 'order-3', order(3));

  await eventually('both groups saw order-3', () =>
    fromTime.includes('order-3') && fromLatest.includes('order-3') ? true : undefined,
  );
  expect(fromTime).toEqual(['order-2', 'order-3']);
  expect(fromLatest).toEqual(['order-3']);
});

it('pauses its partitions while the downstream is saturated and resumes when it drains', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  let saturated = false;
  let drain: () => void = () => undefined;
  const handled: string[] = [];
  const consumer = createConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    groupId,
    subscriptions: [
      subscribe(topic, (value) => {
        handled.push(value.orderId);
        if (handled.length === 3) saturated = true;
      }),
    ],
    saturation: {
      saturated: () => saturated,
      drained: () => new Promise<void>((resolve) => (drain = resolve)),
    },
  });
  running.push(consumer);
  await Promise.all(Array.from({ length: 10 }, (_, n) => publisher.publish(topic, `order-${n}`, order(n))));
  await consumer.start();

  await eventually('three records handled', () => (handled.length >= 3 ? true : undefined));
  await eventually('the partition paused', () =>
    consumer.status().paused.includes(`${topic.name}:0`) ? true : undefined,
  );
  // A record arriving while paused is not fetched; the committed offset stays after the three handled.
  await publisher.publish(topic, 'order-late', order(99));
  const admin = testKafka().admin();
  await admin.connect();
  await eventually('the group committed the three handled records', async () => {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic.name] });
    return offsets?.partitions[0]?.offset === '3' ? true : undefined;
  });
  await admin.disconnect();
  expect(handled).toHaveLength(3);
  expect(consumer.status().paused).toEqual([`${topic.name}:0`]);

  saturated = false;
  drain();
  await eventually('all records handled after draining', () => (handled.length === 11 ? true : undefined));
});

it('rejects start with a typed error when Kafka does not answer', async () => {
  const consumer = createConsumer({
    kafka: createKafka({ brokers: ['127.0.0.1:1'], clientId: uniqueName('down'), failFast: true }),
    codec: fixture.codec,
    signer,
    groupId: uniqueName('group'),
    subscriptions: [subscribe(orderPlacedTopic, () => undefined)],
  });
  await expect(consumer.start()).rejects.toBeInstanceOf(MessagingError);
  expect(consumer.status().state).toBe('crashed');
});

it('keeps its partitions through a handler slower than the session timeout (heartbeats continue)', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  const calls: string[] = [];
  let joins = 0;
  const consumer = createConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    groupId,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 1_000,
    subscriptions: [
      subscribe(topic, async (value) => {
        calls.push(value.orderId);
        // Simulated slow work, longer than the session timeout.
        if (value.orderId === 'order-1') await new Promise((resolve) => setTimeout(resolve, 8_000));
      }),
    ],
    logger: {
      debug: () => undefined,
      info: (_fields, message) => {
        if (message === 'joined consumer group') joins += 1;
      },
      warn: () => undefined,
      error: () => undefined,
    },
  });
  running.push(consumer);
  await consumer.start();
  await publisher.publish(topic, 'order-1', order(1));
  await publisher.publish(topic, 'order-2', order(2));

  await eventually('both records handled', () => (calls.length >= 2 ? true : undefined), {
    timeoutMs: 30_000,
  });
  // Without heartbeats during the slow handler the broker would have evicted the member, and
  // the rejoin would have re-delivered order-1.
  expect(calls).toEqual(['order-1', 'order-2']);
  expect(joins).toBe(1);
});
