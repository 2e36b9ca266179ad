// A cold start during a registry outage used to dead-letter orders: the handler's `emit` could
// not look its output schema up, the Confluent client reported the refused connection as
// "status 400", read as the registry rejecting the record. Now an emit that cannot reach the
// registry makes the same record wait and run again; nothing is dead-lettered or retried for it.
import { orderPlacedTopic, type OrderPlaced } from '@tideline/contracts';
import { eventually, readRecords, TcpFaultProxy, testInfra, topicEnds } from '@tideline/testing';
import { RegistryCodec } from './codec';
import { createConsumer, subscribe, type TidelineConsumer } from './consumer';
import { deadLetterTopicName, retryTopicName } from './group-topics';
import { Publisher } from './publisher';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
const signer = testSigner(randomSigningKey());
const running: TidelineConsumer[] = [];
const closing: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  await Promise.all(closing.splice(0).map((close) => close()));
  await fixture.cleanup();
});

const order = (orderId: string): OrderPlaced => ({
  orderId,
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 1 }],
  placedAt: 1_763_856_000_000,
});

it.each([true, false])(
  'an emit that cannot reach the schema registry waits and redoes the record (transactional: %s)',
  async (transactional) => {
    const input = await fixture.topic(orderPlacedTopic, 1);
    const output = await fixture.topic(orderPlacedTopic, 1);
    const groupId = fixture.group([input]);
    // The emitting side reaches the registry through a proxy that refuses connections for now:
    // its codec has never looked the output's schema up (a cold start).
    const registry = new URL(testInfra().registryUrl);
    const proxy = await TcpFaultProxy.start({ host: registry.hostname, port: Number(registry.port) });
    closing.push(() => proxy.close());
    await proxy.reset();
    const emitting = new Publisher({
      kafka: fixture.kafka,
      codec: new RegistryCodec({
        registryUrl: `http://127.0.0.1:${proxy.port}${registry.pathname}`,
      }),
      signer,
      service: 'messaging-test',
    });
    closing.push(() => emitting.close());
    let attempts = 0;
    const consumer = createConsumer({
      kafka: fixture.kafka,
      codec: fixture.codec,
      signer,
      publisher: emitting,
      groupId,
      transactional,
      subscriptions: [
        subscribe(input, async (value, record) => {
          attempts += 1;
          await record.emit(output, value.orderId, value);
        }),
      ],
      heartbeatIntervalMs: 500,
    });
    running.push(consumer);
    await consumer.start();
    await fixture.publisher(signer).publish(input, 'order-1', order('order-1'));

    await eventually('the record tried while the registry is out of reach', () =>
      attempts >= 2 ? true : undefined,
    );
    expect(consumer.status()).toMatchObject({ retried: 0, deadLettered: 0 });
    await proxy.recover();

    const [emitted] = await readRecords(output.name, 1, { timeoutMs: 30_000 });
    expect(emitted?.key?.toString()).toBe('order-1');
    await eventually('the record processed', () => (consumer.status().processed === 1 ? true : undefined));
    expect(consumer.status()).toMatchObject({ retried: 0, deadLettered: 0, blocked: [] });
    const groupTopics = await topicEnds([deadLetterTopicName(groupId), retryTopicName(groupId, 1)]);
    expect(groupTopics.every((p) => p.offset === '0')).toBe(true);
    // Exactly one output: the waiting attempts added nothing to a transaction or the topic.
    await expect(readRecords(output.name, 2, { timeoutMs: 3_000 })).rejects.toThrow();
  },
);
