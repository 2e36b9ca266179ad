import { orderPlacedTopic, type OrderPlaced } from '@tideline/contracts';
import { eventually, readRecords, testInfra } from '@tideline/testing';
import { createConsumer, subscribe } from './consumer';
import { deadLetterTopicName } from './group-topics';
import { HEADER } from './headers';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';
import { consoleProduce } from './test-support/odd-records';

// Regression: one LZ4 batch written by a Java producer made kafkajs throw "LZ4 compression not
// implemented" on every fetch, and the consumer stopped for good.
const fixture = new MessagingFixture();
const signer = testSigner(randomSigningKey());
const publisher = fixture.publisher(signer);
const codecs = ['lz4', 'snappy', 'zstd', 'gzip'] as const;

afterAll(() => fixture.cleanup());

const order = (n: number): OrderPlaced => ({
  orderId: `order-${n}`,
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 1 }],
  placedAt: 1_763_856_000_000 + n,
});

it('reads batches a Java producer compressed with LZ4, Snappy, ZSTD or gzip, and dead-letters their unsigned records byte for byte', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic]);
  await publisher.publish(topic, 'order-0', order(0));
  for (const codec of codecs) {
    // Compressible values, so each batch really is compressed.
    await consoleProduce(
      testInfra().kafkaBrokers,
      topic.name,
      [`x-codec:${codec}\tkey-${codec}\t${codec.repeat(200)}`],
      codec,
    );
  }
  await publisher.publish(topic, 'order-1', order(1));
  const handled: string[] = [];
  const consumer = createConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    publisher,
    groupId,
    subscriptions: [subscribe(topic, (placed) => void handled.push(placed.orderId))],
  });
  await consumer.start();
  try {
    await eventually('both orders handled', () => (handled.length === 2 ? true : undefined), {
      timeoutMs: 60_000,
    });
    expect(handled).toEqual(['order-0', 'order-1']);
    const letters = await readRecords(deadLetterTopicName(groupId), codecs.length, { timeoutMs: 30_000 });
    expect(letters.map((l) => [l.headers['x-codec'], l.key?.toString(), l.value?.toString()])).toEqual(
      codecs.map((codec) => [codec, `key-${codec}`, codec.repeat(200)]),
    );
    for (const letter of letters) expect(letter.headers[HEADER.errorCode]).toMatch(/^TDL_MSG_/);
    expect(consumer.status().state).toBe('running');
  } finally {
    await consumer.stop();
  }
});
