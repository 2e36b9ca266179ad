// A dead-letter write the broker rejects (here: too large for the dead-letter topic) used to
// make the consumer crash-loop. Now the partition blocks, says so, lets the others go on, and
// recovers by itself once the cause is fixed.
import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import { eventually, readRecords, testKafka } from '@tideline/testing';
import { blockedPartitionsCheck } from './blocked-partitions';
import { createConsumer, subscribe } from './consumer';
import { deadLetterTopicName, GROUP_TOPIC_MAX_MESSAGE_BYTES } from './group-topics';
import { HEADER } from './headers';
import type { Logger } from './log';
import { createProjectionConsumer, type ProjectionBatch, type ProjectionStore } from './projection-consumer';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
const signer = testSigner(randomSigningKey());
const publisher = fixture.publisher(signer);
const stops: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  await fixture.cleanup();
});

const order = (orderId: string): OrderPlaced => ({
  orderId,
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 1 }],
  placedAt: 1_763_856_000_000,
});

/** Non-incremental: the topic's other configs go back to their defaults, which these tests do not read. */
async function setMaxMessageBytes(topic: string, bytes: number) {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: 2, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(bytes) }] },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

const errors: { fields: Record<string, unknown>; message: string }[] = [];
const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (fields, message) => void errors.push({ fields, message }),
};

/** Writes a signed order, or signed bytes, to the given partition. */
async function sendTo(
  topic: TopicDescriptor<OrderPlaced>,
  partition: number,
  key: string,
  value: OrderPlaced | Buffer,
) {
  let record: {
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, string | Buffer | (string | Buffer)[]>;
  };
  if (Buffer.isBuffer(value)) {
    const headers: Record<string, string> = { 'x-note': 'poison' };
    signer.sign(topic.name, Buffer.from(key), value, headers);
    record = { key: Buffer.from(key), value, headers };
  } else {
    record = (await publisher.prepare(topic, key, value)).record;
  }
  const producer = testKafka().producer();
  await producer.connect();
  await producer.send({ topic: topic.name, acks: -1, messages: [{ ...record, partition }] });
  await producer.disconnect();
}

/** Poison (a signed record whose bytes are not Avro), then an order, on partition 0. */
async function writeTraffic(topic: TopicDescriptor<OrderPlaced>) {
  await sendTo(topic, 0, 'poison-1', Buffer.from([7, 1, 2, 3]));
  await sendTo(topic, 0, 'order-after-poison', order('order-after-poison'));
}

async function expectBlockedThenRecovered(args: {
  groupId: string;
  topic: TopicDescriptor<OrderPlaced>;
  done: () => string[];
  blocked: () => { topic: string; partition: number; reason: string; failures: number; since: number }[];
  state: () => string;
}) {
  const { groupId, topic } = args;
  await eventually('partition 0 blocked', () => (args.blocked().length > 0 ? true : undefined), {
    timeoutMs: 60_000,
  });
  expect(args.blocked()).toEqual([
    expect.objectContaining({
      topic: topic.name,
      partition: 0,
      reason: expect.stringContaining('larger than the max message size') as unknown,
    }),
  ]);
  await expect(blockedPartitionsCheck(args.blocked())()).rejects.toThrow(`${topic.name}:0`);
  expect(
    errors.some((e) => e.message.startsWith('partition blocked') && e.fields['groupId'] === groupId),
  ).toBe(true);
  // The other partition goes on; nothing past the poison on partition 0 is done; the consumer lives.
  await sendTo(topic, 1, 'order-other', order('order-other'));
  await eventually('the other partition flows', () =>
    args.done().includes('order-other') ? true : undefined,
  );
  expect(args.done()).not.toContain('order-after-poison');
  expect(args.state()).toBe('running');
  // Blocked through five tries (1 + 2 + 4 + 8 s of backoff): longer than kafkajs retries a failing
  // batch before it crashes and restarts the consumer, which the end of this test rules out.
  const fifth = await eventually(
    'five tries',
    () => {
      const [blocked] = args.blocked();
      return blocked !== undefined && blocked.failures >= 5 ? blocked : undefined;
    },
    { timeoutMs: 60_000 },
  );
  // With backoff, not a tight loop of redelivered batches.
  expect(Date.now() - fifth.since).toBeGreaterThanOrEqual(14_000);

  // The cause fixed: the same record's dead letter goes through on a later try, then the rest.
  await setMaxMessageBytes(deadLetterTopicName(groupId), GROUP_TOPIC_MAX_MESSAGE_BYTES);
  await eventually('partition 0 unblocked', () => (args.blocked().length === 0 ? true : undefined), {
    timeoutMs: 90_000,
  });
  await eventually('the order after the poison', () =>
    args.done().includes('order-after-poison') ? true : undefined,
  );
  const [letter] = await readRecords(deadLetterTopicName(groupId), 1);
  expect(letter?.key?.toString()).toBe('poison-1');
  expect(letter?.headers[HEADER.errorCode]).toBe('TDL_MSG_DECODE_FAILED');
  // Waited, not crashed: kafkajs never restarted the consumer over it.
  expect(errors.filter((e) => e.message === 'consumer crashed' && e.fields['groupId'] === groupId)).toEqual(
    [],
  );
}

it('a transactional handler consumer blocks the partition whose dead letter Kafka rejects, reports it, and recovers', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 2);
  const groupId = fixture.group([topic]);
  const output = await fixture.topic(orderPlacedTopic, 1);
  const handled: string[] = [];
  const consumer = createConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    publisher,
    logger,
    groupId,
    transactional: true,
    subscriptions: [
      subscribe(topic, async (value, record) => {
        handled.push(value.orderId);
        await record.emit(output, value.orderId, value);
      }),
    ],
    heartbeatIntervalMs: 500,
  });
  stops.push(() => consumer.stop());
  await consumer.start();
  await setMaxMessageBytes(deadLetterTopicName(groupId), 512);
  await writeTraffic(topic);
  await expectBlockedThenRecovered({
    groupId,
    topic,
    done: () => handled,
    blocked: () => consumer.status().blocked,
    state: () => consumer.status().state,
  });
  // Each blocked try ran the handler again in a transaction that was aborted: one output each.
  const outputs = await readRecords(output.name, 2);
  expect(outputs.map((r) => r.key?.toString()).sort()).toEqual(['order-after-poison', 'order-other']);
});

it('a handler consumer without transactions blocks the partition whose dead letter Kafka rejects, reports it, and recovers', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 2);
  const groupId = fixture.group([topic]);
  const handled: string[] = [];
  const consumer = createConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    publisher,
    logger,
    groupId,
    subscriptions: [subscribe(topic, (value) => void handled.push(value.orderId))],
    heartbeatIntervalMs: 500,
  });
  stops.push(() => consumer.stop());
  await consumer.start();
  await setMaxMessageBytes(deadLetterTopicName(groupId), 512);
  await writeTraffic(topic);
  await expectBlockedThenRecovered({
    groupId,
    topic,
    done: () => handled,
    blocked: () => consumer.status().blocked,
    state: () => consumer.status().state,
  });
  expect(handled.filter((id) => id === 'order-after-poison')).toHaveLength(1);
});

it('a projection consumer blocks the partition whose dead letter Kafka rejects, reports it, and recovers', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 2);
  const groupId = fixture.group([topic], []);
  const applied: string[] = [];
  const positions = new Map<string, string>();
  const store: ProjectionStore = {
    position: (t, p) => Promise.resolve(positions.get(`${t}:${p}`)),
    apply: (batch: ProjectionBatch) => {
      applied.push(...batch.records.map((r) => (r.value as OrderPlaced).orderId));
      positions.set(`${batch.topic}:${batch.partition}`, batch.to);
      return Promise.resolve(true);
    },
    isTransient: () => false,
  };
  const consumer = createProjectionConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    publisher,
    logger,
    groupId,
    topics: [topic],
    store,
  });
  stops.push(() => consumer.stop());
  await consumer.start();
  await setMaxMessageBytes(deadLetterTopicName(groupId), 512);
  await writeTraffic(topic);
  await expectBlockedThenRecovered({
    groupId,
    topic,
    done: () => applied,
    blocked: () => consumer.status().blocked,
    state: () => consumer.status().state,
  });
  expect(applied.filter((id) => id === 'order-after-poison')).toHaveLength(1);
});
