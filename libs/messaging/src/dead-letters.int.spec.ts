import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import { eventually, readRecords, sampleOrder, testKafka, uniqueName } from '@tideline/testing';
import { createConsumer, subscribe, type TidelineConsumer } from './consumer';
import { DeadLetterRedriver, readDeadLetters, scanDeadLetters, type DeadLetterRecord } from './dead-letters';
import { ProcessingError } from './failure';
import { deadLetterTopicName, retryTopicName } from './group-topics';
import { HEADER } from './headers';
import { readTopic } from './topic-reader';
import { MessagingFixture, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
const signer = testSigner();
const running: TidelineConsumer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});
afterAll(() => fixture.cleanup());

/** A consumer whose handler refuses SKU `POISON` (not retryable) while `refuse.on`, and counts what it handled. */
async function startConsumer(groupId: string, topic: TopicDescriptor<OrderPlaced>, refuse: { on: boolean }) {
  const handled = new Map<string, number>();
  const consumer = createConsumer({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    groupId,
    subscriptions: [
      subscribe(topic, (value) => {
        if (refuse.on && value.lines[0]?.sku === 'POISON')
          throw new ProcessingError('BAD_SKU', `sku "POISON" of ${value.orderId} is unknown`, false);
        handled.set(value.orderId, (handled.get(value.orderId) ?? 0) + 1);
      }),
    ],
    retry: { delaysMs: [500] },
    heartbeatIntervalMs: 500,
  });
  running.push(consumer);
  await consumer.start();
  return { consumer, handled };
}

it('scans dead letters, redrives them once in a transaction with a marker each, and a second redrive moves nothing', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 2);
  const groupId = fixture.group([topic], [500]);
  const refuse = { on: true };
  const { consumer, handled } = await startConsumer(groupId, topic, refuse);
  const publisher = fixture.publisher(signer);
  const receipts = [];
  for (let n = 0; n < 6; n++)
    receipts.push(await publisher.publish(topic, `order-${n}`, sampleOrder(n, 'POISON')));
  await publisher.publish(topic, 'order-ok', sampleOrder(99));
  await eventually('six dead letters', () => consumer.status().deadLettered === 6 || undefined);

  const scan = await scanDeadLetters(fixture.kafka, { groupId });
  expect(scan.pending).toHaveLength(6);
  expect(scan.redriven).toBe(0);
  expect(scan.pending[0]).toMatchObject({
    originalTopic: topic.name,
    errorCode: 'BAD_SKU',
    attempts: 1,
  });
  expect(new Set(scan.pending.map((l) => l.fingerprint)).size).toBe(1);
  expect(new Set(scan.pending.map((l) => l.eventId))).toEqual(new Set(receipts.map((r) => r.eventId)));
  // Filters: another topic matches nothing; a fingerprint prefix matches all.
  expect((await scanDeadLetters(fixture.kafka, { groupId, filter: { topic: 'x.y.v1' } })).pending).toEqual(
    [],
  );
  const prefix = scan.pending[0]!.fingerprint.slice(0, 6);
  expect(
    (await scanDeadLetters(fixture.kafka, { groupId, filter: { fingerprint: prefix } })).pending,
  ).toHaveLength(6);

  // The cause is fixed; redrive two first (a limit), then the rest.
  refuse.on = false;
  const redriver = await DeadLetterRedriver.open(fixture.kafka, groupId);
  try {
    const first = await redriver.redrive(scan.pending.slice(0, 2), {
      target: { kind: 'original' },
      ratePerSecond: 1000,
    });
    expect(first).toEqual({ redriven: 2, byTopic: { [topic.name]: 2 } });
    // The markers become readable once the transaction's commit marker is written (right
    // after commit() returns; a later redriver's open waits for it).
    const after = await eventually('the markers of the first redrive to be readable', async () => {
      const scanned = await scanDeadLetters(fixture.kafka, { groupId });
      return scanned.pending.length === 4 ? scanned : undefined;
    });
    expect(after.pending).toHaveLength(4);
    expect(after.redriven).toBe(2);
    const progress: number[] = [];
    const rest = await redriver.redrive(after.pending, {
      target: { kind: 'original' },
      ratePerSecond: 1000,
      batchSize: 3,
      onProgress: (p) => progress.push(p.redriven),
    });
    expect(rest.redriven).toBe(4);
    expect(progress).toEqual([3, 4]);
  } finally {
    await redriver.close();
  }
  await eventually('every poison order handled', () => handled.size === 7 || undefined);
  expect([...handled.values()]).toEqual([1, 1, 1, 1, 1, 1, 1]);

  const again = await scanDeadLetters(fixture.kafka, { groupId });
  expect(again).toMatchObject({ pending: [], redriven: 6 });

  // The redriven records keep identity and correlation, lose the failure headers, and name their dead letter.
  const onTopic = await readRecords(topic.name, 13);
  const redriven = onTopic.filter((r) => r.headers[HEADER.redrivenFrom] !== undefined);
  expect(redriven).toHaveLength(6);
  const original = onTopic.find((r) => r.headers[HEADER.eventId] === redriven[0]!.headers[HEADER.eventId])!;
  expect(redriven[0]!.headers[HEADER.redrivenFrom]).toMatch(
    new RegExp(`^${deadLetterTopicName(groupId).replace(/\./g, '\\.')}:\\d+:\\d+$`),
  );
  expect(redriven[0]!.headers[HEADER.errorCode]).toBeUndefined();
  expect(redriven[0]!.headers[HEADER.correlationId]).toBe(original.headers[HEADER.correlationId]);
  expect(redriven[0]!.headers[HEADER.signature]).toBe(original.headers[HEADER.signature]);
});

it('redrives into a retry tier, due at once, and shows dead letters with their values', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], [500]);
  const refuse = { on: true };
  const { consumer, handled } = await startConsumer(groupId, topic, refuse);
  const publisher = fixture.publisher(signer);
  await publisher.publish(topic, 'order-1', sampleOrder(1, 'POISON'));
  await eventually('a dead letter', () => consumer.status().deadLettered === 1 || undefined);

  const { pending } = await scanDeadLetters(fixture.kafka, { groupId });
  const shown: DeadLetterRecord[] = [];
  await readDeadLetters(fixture.kafka, { groupId, letters: pending, onLetter: (l) => void shown.push(l) });
  expect(shown).toHaveLength(1);
  expect(await fixture.codec.decode(topic, shown[0]!.value!)).toEqual(sampleOrder(1, 'POISON'));
  expect(shown[0]!.headers[HEADER.deadLetteredAt]).toBeDefined();

  refuse.on = false;
  const redriver = await DeadLetterRedriver.open(fixture.kafka, groupId);
  try {
    expect(
      await redriver.redrive(pending, { target: { kind: 'retry', tier: 1 }, ratePerSecond: 10 }),
    ).toEqual({ redriven: 1, byTopic: { [retryTopicName(groupId, 1)]: 1 } });
  } finally {
    await redriver.close();
  }
  await eventually('the order handled from the retry tier', () => handled.get('order-1') === 1 || undefined);
  // Not retryable: the record went straight to the dead-letter topic, so the tier holds only the redriven record.
  const [retried] = await readRecords(retryTopicName(groupId, 1), 1);
  expect(retried!.headers[HEADER.redrivenFrom]).toBe(`${deadLetterTopicName(groupId)}:0:0`);
  expect(retried!.headers[HEADER.attempts]).toBe('1');
  expect(retried!.headers[HEADER.deadLetteredAt]).toBeUndefined();
  expect(retried!.headers[HEADER.originalTopic]).toBe(topic.name);
});

it('a redrive that starts fences one still running: it stops with TDL_MSG_REDRIVE_FENCED and nothing moves twice', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 1);
  const groupId = fixture.group([topic], [500]);
  const { consumer } = await startConsumer(groupId, topic, { on: true });
  const publisher = fixture.publisher(signer);
  for (let n = 0; n < 3; n++) await publisher.publish(topic, `order-${n}`, sampleOrder(n, 'POISON'));
  await eventually('three dead letters', () => consumer.status().deadLettered === 3 || undefined);
  await consumer.stop();

  const first = await DeadLetterRedriver.open(fixture.kafka, groupId);
  const { pending } = await scanDeadLetters(fixture.kafka, { groupId });
  const second = await DeadLetterRedriver.open(fixture.kafka, groupId);
  try {
    await expect(
      first.redrive(pending, { target: { kind: 'original' }, ratePerSecond: 100 }),
    ).rejects.toMatchObject({ code: 'TDL_MSG_REDRIVE_FENCED' });
    const rescan = await scanDeadLetters(fixture.kafka, { groupId });
    expect(rescan.pending).toHaveLength(3);
    expect(
      (await second.redrive(rescan.pending, { target: { kind: 'original' }, ratePerSecond: 100 })).redriven,
    ).toBe(3);
  } finally {
    await first.close();
    await second.close();
  }
  expect(await scanDeadLetters(fixture.kafka, { groupId })).toMatchObject({ pending: [], redriven: 3 });
});

it('fails with TDL_MSG_UNKNOWN_TOPIC for a group without a dead-letter topic', async () => {
  const groupId = uniqueName('no-dlt');
  await expect(scanDeadLetters(fixture.kafka, { groupId })).rejects.toMatchObject({
    code: 'TDL_MSG_UNKNOWN_TOPIC',
    message: `the dead-letter topic of group ${groupId}, ${groupId}.dlt does not exist`,
  });
});

it('reads a range of a topic written in transactions (control records, an aborted batch) to its end', async () => {
  const topic = await fixture.topic(orderPlacedTopic, 2);
  const producer = testKafka().producer({
    transactionalId: uniqueName('reader-test'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (const commit of [true, false, true]) {
      const transaction = await producer.transaction();
      await transaction.send({
        topic: topic.name,
        messages: [0, 1].map((partition) => ({
          partition,
          key: `k${partition}`,
          value: commit ? 'kept' : 'aborted',
        })),
      });
      await (commit ? transaction.commit() : transaction.abort());
    }
  } finally {
    await producer.disconnect();
  }
  // commit() returns before the coordinator has written the commit markers: until they are, the
  // last transaction is not stable and a read_committed end stops before it.
  const admin = fixture.kafka.admin();
  await admin.connect();
  try {
    await eventually('every commit marker written (each partition stable at offset 6)', async () => {
      const ends = await admin.fetchTopicOffsets(topic.name);
      return ends.every((p) => p.offset === '6') ? true : undefined;
    });
  } finally {
    await admin.disconnect();
  }
  const values: string[] = [];
  const summary = await readTopic({
    kafka: fixture.kafka,
    topic: topic.name,
    onRecord: (record) => void values.push(`${record.partition}:${record.value?.toString()}`),
  });
  expect(values.sort()).toEqual(['0:kept', '0:kept', '1:kept', '1:kept']);
  // Three records and three markers per partition: every offset up to the end counts as read.
  expect(summary.read).toBe(12);

  const fromOffset = new Map([[0, 4n]]);
  const tail: string[] = [];
  await readTopic({
    kafka: fixture.kafka,
    topic: topic.name,
    from: fromOffset,
    until: new Map([[0, 6n]]),
    onRecord: (record) => void tail.push(`${record.partition}:${record.offset}`),
  });
  expect(tail).toEqual(['0:4']);
});
