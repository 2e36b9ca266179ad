// Regression: one record with a null header value (written by Kafka's console producer) crashed
// the consumers in readHeaders, outside any try, over and over at the same offset. Every odd
// shape, on each consumer type, against the real Kafka and registry.
import {
  orderConfirmedTopic,
  orderPlacedTopic,
  productUpdatedTopic,
  type OrderPlaced,
  type ProductUpdated,
} from '@tideline/contracts';
import { eventually, isolatedTopic, readRecords, testInfra, type ReadRecord } from '@tideline/testing';
import { createConsumer, subscribe, type TidelineConsumer } from './consumer';
import { deadLetterTopicName } from './group-topics';
import { HEADER } from './headers';
import type { ProjectionBatch, ProjectionStore } from './projection-consumer';
import { createProjectionConsumer, type ProjectionConsumer } from './projection-consumer';
import { createTable, type Table } from './table';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';
import {
  BROKER_MAX_MESSAGE_BYTES,
  ODD_HEADER,
  ODD_SHAPES,
  writeOddRecords,
} from './test-support/odd-records';

const fixture = new MessagingFixture();
const signer = testSigner(randomSigningKey());
const publisher = fixture.publisher(signer);
const brokers = testInfra().kafkaBrokers;
const stops: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  await fixture.cleanup();
});

const order = (n: number): OrderPlaced => ({
  orderId: `order-${n}`,
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 1 }],
  placedAt: 1_763_856_000_000 + n,
});

let foreignSchemaId: number;
beforeAll(async () => {
  foreignSchemaId = await fixture.codec.register(isolatedTopic(orderConfirmedTopic));
});

async function writeOdd(topic: string) {
  await writeOddRecords({
    kafka: fixture.kafka,
    brokers,
    topic,
    foreignSchemaId,
    sign: (t, key, value, headers) => signer.sign(t, key, value, headers),
  });
}

/** The group's dead letters by shape: each odd record exactly once, with its code and a reason. */
async function expectDeadLetters(groupId: string, expected: Record<string, string>) {
  const letters = await readRecords(deadLetterTopicName(groupId), Object.keys(expected).length, {
    timeoutMs: 60_000,
  });
  const byShape = (letter: ReadRecord) => letter.headers[ODD_HEADER] ?? '?';
  expect(Object.fromEntries(letters.map((l) => [byShape(l), l.headers[HEADER.errorCode]]))).toEqual(expected);
  expect(letters.map(byShape).sort()).toEqual(Object.keys(expected).sort());
  for (const letter of letters) {
    expect(letter.headers[HEADER.errorMessage]).toMatch(/\w/);
    expect(letter.headers[HEADER.errorFingerprint]).toMatch(/^[0-9a-f]{16}$/);
  }
  return new Map(letters.map((l) => [byShape(l), l]));
}

const deadLettered = Object.fromEntries(ODD_SHAPES.map((s) => [s.name, s.code]));

it('the transactional handler consumer dead-letters every odd shape once, with its reason, and handles the orders around them', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  await publisher.publish(topic, 'order-1', order(1));
  await writeOdd(topic.name);
  await publisher.publish(topic, 'order-2', order(2));
  const handled: string[] = [];
  const consumer: TidelineConsumer = createConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    publisher,
    groupId,
    transactional: true,
    subscriptions: [subscribe(topic, (value) => void handled.push(value.orderId))],
    heartbeatIntervalMs: 500,
  });
  stops.push(() => consumer.stop());
  await consumer.start();

  const letters = await expectDeadLetters(groupId, deadLettered);
  await eventually('both orders handled', () => (handled.length >= 2 ? true : undefined));
  expect(handled).toEqual(['order-1', 'order-2']);
  expect(letters.get('null-header-value')?.headers[HEADER.nullHeaders]).toBe(
    JSON.stringify([HEADER.eventId]),
  );
  expect(letters.get('null-header-value')?.headers[HEADER.errorMessage]).toContain(
    'header ce_id has a null value',
  );
  expect(letters.get('duplicate-header')?.headers[HEADER.eventId]).toBe('a,b'); // both kept, in order
  expect(letters.get('max-size-value')?.value?.length).toBeGreaterThan(BROKER_MAX_MESSAGE_BYTES - 400);
  expect(letters.get('null-key')?.key).toBeNull();
  expect(consumer.status()).toMatchObject({ state: 'running', processed: 2, blocked: [] });
});

/** Keeps what it applied and its positions in memory. */
class MemoryStore implements ProjectionStore {
  readonly applied: string[] = [];
  private readonly positions = new Map<string, string>();
  position(topic: string, partition: number) {
    return Promise.resolve(this.positions.get(`${topic}:${partition}`));
  }
  apply(batch: ProjectionBatch) {
    this.applied.push(...batch.records.map((r) => (r.value as OrderPlaced).orderId));
    this.positions.set(`${batch.topic}:${batch.partition}`, batch.to);
    return Promise.resolve(true);
  }
  isTransient() {
    return false;
  }
}

it('the projection consumer dead-letters every odd shape once and applies the orders around them', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], []);
  await publisher.publish(topic, 'order-1', order(1));
  await writeOdd(topic.name);
  await publisher.publish(topic, 'order-2', order(2));
  const store = new MemoryStore();
  const consumer: ProjectionConsumer = createProjectionConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    publisher,
    groupId,
    topics: [topic],
    store,
  });
  stops.push(() => consumer.stop());
  await consumer.start();

  await expectDeadLetters(groupId, deadLettered);
  await eventually('both orders applied', () => (store.applied.length >= 2 ? true : undefined));
  expect(store.applied).toEqual(['order-1', 'order-2']);
  expect(consumer.status()).toMatchObject({ state: 'running', applied: 2, blocked: [] });
});

it('the table skips every odd shape with its reason, takes the signed tombstone as a deletion, and keeps the products around them', async () => {
  const topic = await fixture.topic(productUpdatedTopic, 1);
  const product = (sku: string): ProductUpdated => ({
    sku,
    name: sku,
    priceCents: 100,
    currency: 'EUR',
    active: true,
    updatedAt: 1_763_856_000_000,
  });
  await publisher.publish(topic, 'SKU-1', product('SKU-1'));
  await writeOdd(topic.name);
  await publisher.publish(topic, 'SKU-2', product('SKU-2'));
  const table: Table<ProductUpdated> = createTable({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    topic,
    service: 'odd-records-test',
  });
  stops.push(() => table.stop());
  await table.start();
  await table.whenReady();

  expect([...table.entries()].map(([sku]) => sku).sort()).toEqual(['SKU-1', 'SKU-2']);
  expect(table.status()).toMatchObject({
    applied: 2,
    skipped: ODD_SHAPES.filter((s) => s.onTable === 'skipped').length,
    ready: true,
  });
});
