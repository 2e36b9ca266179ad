import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import { eventually, isolatedTopic, testInfra, TestTopics, uniqueName } from '@tideline/testing';
import type { Consumer, Producer } from 'kafkajs';
import { frame } from './codec';
import { RegistryCodec } from './codec';
import { isMessagingError } from './errors';
import { createKafka } from './kafka';
import { checkSchemas } from './schema-admin';

const infra = testInfra();
const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('codec-int') });
const codec = new RegistryCodec({ registryUrl: infra.registryUrl });
const testTopics = new TestTopics();
let producer: Producer;
const consumers: Consumer[] = [];

const order = (n: number): OrderPlaced => ({
  orderId: `0193a4c2-7b1e-7000-8000-${String(n).padStart(12, '0')}`,
  customerId: `customer-${n}`,
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: n }],
  placedAt: 1_763_856_000_000 + n,
});

function withExtraField(topic: TopicDescriptor<unknown>, field: Record<string, unknown>): unknown {
  const schema = JSON.parse(JSON.stringify(topic.valueSchema)) as { fields: unknown[] };
  schema.fields.push(field);
  return schema;
}

/** Consumes a topic from earliest in a fresh consumer group until `count` values arrived. */
async function consume<Value>(topic: TopicDescriptor<Value>, count: number): Promise<Value[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('codec-int-group') });
  consumers.push(consumer);
  const received: Value[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: topic.name, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push(await codec.decode(topic, message.value!));
    },
  });
  return eventually(`${count} records on ${topic.name}`, () =>
    received.length >= count ? received : undefined,
  );
}

beforeAll(async () => {
  producer = kafka.producer({ idempotent: true });
  await producer.connect();
});

afterAll(async () => {
  await Promise.all(consumers.map((c) => c.disconnect()));
  await producer.disconnect();
  await testTopics.cleanup();
});

it('registers a schema, produces an OrderPlaced in the Confluent wire format and decodes it in a consumer group', async () => {
  const topic = isolatedTopic(orderPlacedTopic);
  await testTopics.create(topic);
  const id = await codec.register(topic);
  expect(await codec.register(topic)).toBe(id); // idempotent

  const value = await codec.encode(topic, order(1));
  expect(value[0]).toBe(0);
  expect(value.readInt32BE(1)).toBe(id);
  await producer.send({ topic: topic.name, acks: -1, messages: [{ key: order(1).orderId, value }] });

  const [decoded] = await consume(topic, 1);
  expect(decoded).toEqual(order(1));
});

it('refuses an incompatible change and names the field; accepts a compatible one and still decodes older records', async () => {
  const v1 = isolatedTopic(orderPlacedTopic);
  await testTopics.create(v1);
  await codec.register(v1);
  await producer.send({
    topic: v1.name,
    acks: -1,
    messages: [{ key: 'a', value: await codec.encode(v1, order(1)) }],
  });

  // A new field without a default: readers of v2 could not read v1 records.
  const breaking = {
    ...v1,
    ...isolatedTopicWithName(
      v1,
      withExtraField(v1, { name: 'channel', type: 'string', doc: 'sales channel' }),
    ),
  };
  const [check] = await checkSchemas(codec, infra.registryUrl, [breaking]);
  expect(check).toMatchObject({ status: 'incompatible', subject: v1.valueSubject });
  expect(check!.reasons.join()).toContain('OrderPlaced.channel');
  const refusal = await codec.register(breaking).catch((error: unknown) => error);
  expect(isMessagingError(refusal, 'TDL_MSG_SCHEMA_INCOMPATIBLE')).toBe(true);
  expect((refusal as Error).message).toContain('channel');

  // A new optional field with a default: accepted, and v1 records decode into the v2 type.
  const compatible = isolatedTopicWithName(
    v1,
    withExtraField(v1, { name: 'channel', type: ['null', 'string'], default: null, doc: 'sales channel' }),
  );
  const [ok] = await checkSchemas(codec, infra.registryUrl, [compatible]);
  expect(ok).toMatchObject({ status: 'compatible', reasons: [] });
  const v2Id = await codec.register(compatible);
  await producer.send({
    topic: v1.name,
    acks: -1,
    messages: [{ key: 'b', value: await codec.encode(compatible, { ...order(2), channel: 'web' }) }],
  });

  // Different keys may land on different partitions: order by id, not by arrival.
  const decoded = (await consume(compatible, 2)).sort((a, b) => a.orderId.localeCompare(b.orderId));
  expect(decoded).toEqual([
    { ...order(1), channel: null },
    { ...order(2), channel: 'web' },
  ]);
  expect(v2Id).not.toBe(await codec.schemaId(v1));
  // The consumer's synchronous path reads old records through the cached resolver too.
  const v1Bytes = await codec.encode(v1, order(1));
  expect(codec.decodeCached(compatible, v1Bytes)).toEqual({ value: { ...order(1), channel: null } });
});

it('reports an unknown schema id as a non-retryable TDL_MSG_UNKNOWN_SCHEMA_ID', async () => {
  const topic = isolatedTopic(orderPlacedTopic);
  const error = await codec.decode(topic, frame(2_000_000_000, Buffer.from([2, 0]))).catch((e: unknown) => e);
  expect(isMessagingError(error, 'TDL_MSG_UNKNOWN_SCHEMA_ID')).toBe(true);
  expect((error as { retryable: boolean }).retryable).toBe(false);
});

it('says which command to run when a producer uses a schema nobody registered', async () => {
  const topic = isolatedTopic(orderPlacedTopic);
  const error = await codec.encode(topic, order(1)).catch((e: unknown) => e);
  expect(isMessagingError(error, 'TDL_MSG_SCHEMA_NOT_REGISTERED')).toBe(true);
  expect((error as Error).message).toContain('npm run schemas:register');
});

/** The same topic (name, subject) with another local schema: what a later build of the code would carry. */
function isolatedTopicWithName(
  topic: TopicDescriptor<unknown>,
  valueSchema: unknown,
): TopicDescriptor<OrderPlaced & { channel?: string | null }> {
  const copy = isolatedTopic(topic, { valueSchema });
  return { ...copy, name: topic.name, valueSubject: topic.valueSubject } as TopicDescriptor<
    OrderPlaced & { channel?: string | null }
  >;
}
