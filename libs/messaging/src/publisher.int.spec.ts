import { orderPlacedTopic, type OrderPlaced } from '@tideline/contracts';
import { freePort, readRecords, uniqueName } from '@tideline/testing';
import { isMessagingError, type MessagingError } from './errors';
import { HEADER } from './headers';
import { createKafka } from './kafka';
import { Publisher } from './publisher';
import { RecordSigner } from './signing';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
afterAll(() => fixture.cleanup());

const order = (n: number): OrderPlaced => ({
  orderId: `order-${n}`,
  customerId: `customer-${n % 7}`,
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 1 + (n % 3) }],
  placedAt: 1_763_856_000_000 + n,
});

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

it('batches concurrent publishes into few requests and reports each record at the offset it really has', async () => {
  const topic = await fixture.topic(orderPlacedTopic);
  const signer = testSigner();
  const publisher = fixture.publisher(signer, { lingerMs: 5 });
  await publisher.connect();
  const count = 600;

  const receipts = await Promise.all(
    Array.from({ length: count }, (_, n) =>
      publisher.publish(topic, `order-${n}`, order(n), {
        correlationId: `corr-${n}`,
        causationId: `cause-${n}`,
      }),
    ),
  );

  // One request per linger window or full batch, not one per record.
  expect(publisher.stats().requests).toBeLessThanOrEqual(10);
  expect(publisher.stats().records).toBe(count);
  const records = await readRecords(topic.name, count);
  expect(records).toHaveLength(count);
  const byPosition = new Map(records.map((r) => [`${r.partition}:${r.offset}`, r]));
  for (const [n, receipt] of receipts.entries()) {
    const record = byPosition.get(`${receipt.partition}:${receipt.offset}`);
    expect(record?.key?.toString()).toBe(`order-${n}`);
    expect(record?.headers[HEADER.eventId]).toBe(receipt.eventId);
    expect(receipt.eventId).toMatch(UUID_V7);
    expect(record?.headers).toMatchObject({
      [HEADER.eventType]: 'dev.tideline.orders.OrderPlaced',
      [HEADER.correlationId]: `corr-${n}`,
      [HEADER.causationId]: `cause-${n}`,
      [HEADER.producer]: 'messaging-test',
    });
    expect(Date.parse(record!.headers[HEADER.producedAt]!)).toBeGreaterThan(Date.now() - 60_000);
    // The signature verifies against the bytes as stored in Kafka.
    expect(() => signer.verify(topic.name, record!.key, record!.value, record!.headers)).not.toThrow();
    expect(await fixture.codec.decode(topic, record!.value!)).toEqual(order(n));
  }
});

it('carries the cause: correlation id and causation id come from the consumed event', async () => {
  const topic = await fixture.topic(orderPlacedTopic);
  const publisher = fixture.publisher(testSigner());
  const receipt = await publisher.publish(topic, 'order-1', order(1), {
    causedBy: { eventId: 'event-a', correlationId: 'corr-a' },
  });
  const [record] = await readRecords(topic.name, 1);
  expect(receipt.correlationId).toBe('corr-a');
  expect(record?.headers[HEADER.causationId]).toBe('event-a');
  expect(record?.headers[HEADER.correlationId]).toBe('corr-a');
});

it('rejects an invalid value with the field path and sends nothing', async () => {
  const topic = await fixture.topic(orderPlacedTopic);
  const publisher = fixture.publisher(testSigner());
  const bad = { ...order(1), lines: [{ sku: 'SKU-1', quantity: 'two' }] } as unknown as OrderPlaced;
  await expect(publisher.publish(topic, 'order-1', bad)).rejects.toMatchObject({
    code: 'TDL_MSG_ENCODE_INVALID',
    details: { fields: ['lines.0.quantity'] },
  });
  expect(publisher.stats().requests).toBe(0);
});

it('refuses to publish to a required-signing topic without a signing key', async () => {
  const topic = await fixture.topic(orderPlacedTopic);
  const verifyOnly = new RecordSigner({
    verificationKeys: new Map([[randomSigningKey().id, randomSigningKey().secret]]),
    defaultPolicy: 'required',
  });
  const publisher = fixture.publisher(verifyOnly);
  await expect(publisher.publish(topic, 'order-1', order(1))).rejects.toMatchObject({
    code: 'TDL_MSG_SIGNATURE_MISSING',
  });
});

it('rejects each publish with a typed error within its timeout when no broker answers, and reports nothing as sent', async () => {
  const topic = await fixture.topic(orderPlacedTopic);
  // A port that accepts nothing: the broker is down.
  const port = await freePort();
  const publisher = new Publisher({
    kafka: createKafka({ brokers: [`127.0.0.1:${port}`], clientId: uniqueName('down') }),
    codec: fixture.codec,
    signer: testSigner(),
    service: 'messaging-test',
    timeoutMs: 1_500,
  });
  const started = Date.now();
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, n) => publisher.publish(topic, `order-${n}`, order(n))),
  );
  const elapsed = Date.now() - started;
  expect(results.every((r) => r.status === 'rejected')).toBe(true);
  for (const result of results) {
    const error = (result as PromiseRejectedResult).reason as MessagingError;
    expect(isMessagingError(error)).toBe(true);
    expect(['TDL_MSG_PUBLISH_TIMEOUT', 'TDL_MSG_KAFKA_UNAVAILABLE']).toContain(error.code);
    expect(error.retryable).toBe(true);
    // Regression: records were marked sent before the producer connected, so a timeout said
    // "may have been written" and a late connect could still write them.
    expect(error.code === 'TDL_MSG_PUBLISH_TIMEOUT' ? error.details.sent : false).toBe(false);
  }
  // Every call settled within its own timeout plus the sweep interval, not kafkajs's ~30 s of retries.
  expect(elapsed).toBeLessThan(1_500 + 1_000);
  await publisher.close();
  // Nothing reached the real topic.
  const admin = fixture.kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic.name);
  await admin.disconnect();
  expect(offsets.every((o) => o.high === '0')).toBe(true);
});
