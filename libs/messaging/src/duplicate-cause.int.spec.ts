// Two copies of one event in a topic (an ambiguous publish retried with the same event id, or
// republished by another producer) must not become two different reactions: in both consumer
// modes the reactions to the copies carry one event id, which every consumer deduplicates by.
import { orderPlacedTopic, type OrderPlaced } from '@tideline/contracts';
import { readRecords } from '@tideline/testing';
import { v7 as uuidv7 } from 'uuid';
import { createConsumer, subscribe } from './consumer';
import { HEADER } from './headers';
import { reactionEventId } from './reaction-id';
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

it.each([true, false])(
  'a duplicate cause (same event id) gives reactions with one event id (transactional: %s)',
  async (transactional) => {
    const input = await fixture.topic(orderPlacedTopic, 1);
    const output = await fixture.topic(orderPlacedTopic, 1);
    const groupId = fixture.group([input]);
    const eventId = uuidv7();
    // Two copies of one event, as a retry after an ambiguous timeout writes them.
    for (let copy = 0; copy < 2; copy += 1)
      await publisher.publish(input, 'order-1', order('order-1'), { eventId, correlationId: 'corr-1' });
    const consumer = createConsumer({
      kafka: fixture.kafka,
      codec: fixture.codec,
      signer,
      publisher,
      groupId,
      transactional,
      subscriptions: [
        subscribe(input, async (value, record) => {
          await record.emit(output, value.orderId, value);
        }),
      ],
      heartbeatIntervalMs: 500,
    });
    stops.push(() => consumer.stop());
    await consumer.start();

    const reactions = await readRecords(output.name, 2, { timeoutMs: 30_000 });
    expect(reactions.map((r) => r.headers[HEADER.causationId])).toEqual([eventId, eventId]);
    const ids = new Set(reactions.map((r) => r.headers[HEADER.eventId]));
    expect(ids).toEqual(new Set([reactionEventId(eventId, output.name, 'order-1')]));
  },
);
