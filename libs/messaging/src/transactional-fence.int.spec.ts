// A transactional consumer's producer for a partition is fenced when another producer initialises
// the same transactional id: the partition's next owner after a hand-back, or the coordinator
// after a paused process outlived the transaction timeout. kafkajs never initialises a producer
// id again, so the cached producer used to fail every later commit of that partition for good.
// Now the failed transaction's producer is dropped, a new one is initialised, the committed
// offset is read again, and the partition goes on: every record's output exactly once.
import { orderPlacedTopic, type OrderPlaced } from '@tideline/contracts';
import { eventually, readRecords, testKafka } from '@tideline/testing';
import { createConsumer, subscribe, type TidelineConsumer } from './consumer';
import type { Logger } from './log';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
const signer = testSigner(randomSigningKey());
const publisher = fixture.publisher(signer);
const running: TidelineConsumer[] = [];

afterAll(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  await fixture.cleanup();
});

const order = (orderId: string): OrderPlaced => ({
  orderId,
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 1 }],
  placedAt: 1_763_856_000_000,
});

function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void lines.push({ level, fields, message });
  const logger: Logger = { debug: () => undefined, info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

async function setup() {
  const input = await fixture.topic(orderPlacedTopic, 1);
  const output = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([input]);
  const { logger, lines } = recordingLogger();
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
      subscribe(input, async (value, record) => {
        handled.push(value.orderId);
        await record.emit(output, value.orderId, value);
      }),
    ],
    heartbeatIntervalMs: 500,
  });
  running.push(consumer);
  await consumer.start();
  const publish = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++)
      await publisher.publish(input, `order-${i}`, order(`order-${i}`));
  };
  /** The consumer's transactional producer for partition 0: `<groupId>-<topic>-0`. */
  const fencer = async (commitOffset?: string) => {
    const producer = testKafka().producer({
      transactionalId: `${groupId}-${input.name}-0`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    // kafkajs' transactional InitProducerId: the consumer's producer now has an old epoch.
    const transaction = await producer.transaction();
    if (commitOffset === undefined) await transaction.abort();
    else {
      // What a partition's previous owner does when its last commit went through.
      await transaction.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic: input.name, partitions: [{ partition: 0, offset: commitOffset }] }],
      });
      await transaction.commit();
    }
    await producer.disconnect();
  };
  const committed = async () => {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [input.name] });
      return offsets?.partitions[0]?.offset;
    } finally {
      await admin.disconnect();
    }
  };
  /** Exactly `count` committed outputs: the next one never comes. */
  const outputsExactly = async (count: number) => {
    const outputs = await readRecords(output.name, count);
    await expect(readRecords(output.name, count + 1, { timeoutMs: 3_000 })).rejects.toThrow();
    return outputs.map((r) => r.key?.toString()).sort();
  };
  return { input, output, consumer, handled, lines, publish, fencer, committed, outputsExactly };
}

it('a fenced transactional producer is rebuilt: the partition keeps committing, each output once', async () => {
  const { consumer, handled, lines, publish, fencer, committed, outputsExactly } = await setup();
  await publish(0, 10);
  await eventually('the first 10 committed', async () => ((await committed()) === '10' ? true : undefined), {
    timeoutMs: 30_000,
  });

  await fencer();
  await publish(10, 10);
  await eventually('all 20 committed', async () => ((await committed()) === '20' ? true : undefined), {
    timeoutMs: 30_000,
  });

  const keys = await outputsExactly(20);
  expect(keys).toEqual(Array.from({ length: 20 }, (_, i) => `order-${i}`).sort());
  // The fenced transaction ran its records once more (aborted, invisible): they were redone.
  expect(handled.length).toBeGreaterThan(20);
  expect(lines).toContainEqual(
    expect.objectContaining({
      level: 'warn',
      message: 'transaction failed: redoing its records with a new transactional producer',
      fields: expect.objectContaining({ errorCode: 'TDL_MSG_PRODUCER_FENCED' }) as unknown,
    }),
  );
  expect(consumer.status()).toMatchObject({ state: 'running', blocked: [] });
});

it('after a fence, a new producer seeks to an offset committed meanwhile instead of doing that work again', async () => {
  const { consumer, publish, fencer, committed, outputsExactly } = await setup();
  await publish(0, 10);
  await eventually('the first 10 committed', async () => ((await committed()) === '10' ? true : undefined), {
    timeoutMs: 30_000,
  });

  // Records 10..14 were handled and committed by the fencing producer (a previous owner).
  await fencer('15');
  await publish(10, 10);
  await eventually('all 20 committed', async () => ((await committed()) === '20' ? true : undefined), {
    timeoutMs: 30_000,
  });

  const keys = await outputsExactly(15);
  const expected = [
    ...Array.from({ length: 10 }, (_, i) => i),
    ...Array.from({ length: 5 }, (_, i) => 15 + i),
  ];
  expect(keys).toEqual(expected.map((i) => `order-${i}`).sort());
  expect(consumer.status()).toMatchObject({ state: 'running', blocked: [] });
});
