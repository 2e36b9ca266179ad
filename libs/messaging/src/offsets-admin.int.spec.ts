import { orderPlacedTopic } from '@tideline/contracts';
import {
  eventually,
  isolatedTopic,
  testKafka,
  TestTopics,
  uniqueName,
  uniqueTopicName,
} from '@tideline/testing';
import type { Admin, Producer } from 'kafkajs';
import {
  groupLag,
  parseOffsetTarget,
  planOffsetReset,
  resetOffsets,
  topicWatermarks,
  type OffsetResetPlan,
} from './offsets-admin';

const kafka = testKafka(uniqueName('offsets-int'));
const testTopics = new TestTopics();
const groups: string[] = [];
let admin: Admin;
let producer: Producer;

const PARTITIONS = 3;
const RECORDS = 10;
/** Records an hour old, a minute apart: record `offset` of `partition` is at base + offset min + partition s. */
const base = Date.now() - 3_600_000;
const timestampOf = (partition: number, offset: number): number => base + offset * 60_000 + partition * 1000;
/** 3 min 0.5 s after base: newer than record 3 of partition 0, older than record 3 of partitions 1 and 2. */
const between = new Date(base + 180_500).toISOString();

/** A fresh 3-partition topic with 10 records on each partition, timestamps from timestampOf. */
async function topicWithRecords(): Promise<string> {
  const topic = { ...isolatedTopic(orderPlacedTopic), partitions: PARTITIONS };
  await testTopics.create(topic);
  await producer.send({
    topic: topic.name,
    acks: -1,
    messages: Array.from({ length: PARTITIONS * RECORDS }, (_, n) => {
      const partition = n % PARTITIONS;
      const offset = Math.floor(n / PARTITIONS);
      return { partition, value: `record ${offset}`, timestamp: String(timestampOf(partition, offset)) };
    }),
  });
  return topic.name;
}

function group(prefix: string): string {
  const groupId = uniqueName(prefix);
  groups.push(groupId);
  return groupId;
}

/** Committed offsets by partition, as the broker reports them (-1: none). */
async function committed(groupId: string, topic: string): Promise<Record<number, string>> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries(offsets!.partitions.map((p) => [p.partition, p.offset]));
}

const moves = (plan: OffsetResetPlan) =>
  plan.partitions.map(({ partition, from, to, delta }) => ({ partition, from, to, delta }));

/** The time lag is found to 1 s and never below the true age. */
function expectAge(actualMs: number | null, expectedMs: number): void {
  expect(actualMs).toBeGreaterThanOrEqual(expectedMs);
  expect(actualMs).toBeLessThan(expectedMs + 1000);
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
});

afterAll(async () => {
  await admin.deleteGroups(groups).catch(() => undefined);
  await producer.disconnect();
  await admin.disconnect();
  await testTopics.cleanup();
});

it('plans resets to earliest, latest, a time and explicit offsets without changing anything', async () => {
  const topic = await topicWithRecords();
  const groupId = group('offsets-plan');
  await admin.setOffsets({
    groupId,
    topic,
    partitions: [
      { partition: 0, offset: '2' },
      { partition: 1, offset: '5' },
    ],
  });
  const plan = (spec: string) => planOffsetReset(admin, { groupId, topic, to: parseOffsetTarget(spec) });

  expect(await plan('earliest')).toEqual({
    groupId,
    topic,
    target: { kind: 'earliest' },
    state: 'Empty',
    members: [],
    partitions: [
      { partition: 0, low: '0', high: '10', from: '2', to: '0', delta: -2 },
      { partition: 1, low: '0', high: '10', from: '5', to: '0', delta: -5 },
      { partition: 2, low: '0', high: '10', from: null, to: '0', delta: 0 },
    ],
  });
  expect(moves(await plan('latest'))).toEqual([
    { partition: 0, from: '2', to: '10', delta: 8 },
    { partition: 1, from: '5', to: '10', delta: 5 },
    { partition: 2, from: null, to: '10', delta: 10 },
  ]);
  expect(moves(await plan(between))).toEqual([
    { partition: 0, from: '2', to: '4', delta: 2 },
    { partition: 1, from: '5', to: '3', delta: -2 },
    { partition: 2, from: null, to: '3', delta: 3 },
  ]);
  expect(moves(await plan(new Date(base - 60_000).toISOString())).map((p) => p.to)).toEqual(['0', '0', '0']);
  // After the last record: the end of each partition.
  expect(moves(await plan(new Date(Date.now() + 60_000).toISOString())).map((p) => p.to)).toEqual([
    '10',
    '10',
    '10',
  ]);
  expect(moves(await plan('1:7'))).toEqual([{ partition: 1, from: '5', to: '7', delta: 2 }]);

  expect(await committed(groupId, topic)).toEqual({ 0: '2', 1: '5', 2: '-1' });
});

it('creates the offsets of a group that never committed, then moves them by time', async () => {
  const topic = await topicWithRecords();
  const groupId = group('offsets-reset');

  const first = await resetOffsets(kafka, admin, { groupId, topic, to: parseOffsetTarget('0:1,2:3') });
  expect(moves(first)).toEqual([
    { partition: 0, from: null, to: '1', delta: 1 },
    { partition: 2, from: null, to: '3', delta: 3 },
  ]);
  expect(await committed(groupId, topic)).toEqual({ 0: '1', 1: '-1', 2: '3' });

  const second = await resetOffsets(kafka, admin, { groupId, topic, to: parseOffsetTarget(between) });
  expect(moves(second)).toEqual([
    { partition: 0, from: '1', to: '4', delta: 3 },
    { partition: 1, from: null, to: '3', delta: 3 },
    { partition: 2, from: '3', to: '3', delta: 0 },
  ]);
  expect(await committed(groupId, topic)).toEqual({ 0: '4', 1: '3', 2: '3' });
});

it('refuses to reset a group with a running consumer, names it, and leaves the offsets alone', async () => {
  const topic = await topicWithRecords();
  const groupId = group('offsets-active');
  await admin.setOffsets({
    groupId,
    topic,
    partitions: [0, 1, 2].map((partition) => ({ partition, offset: '4' })),
  });
  const clientId = uniqueName('order-processor');
  // A short fetch wait lets disconnect() return quickly.
  const consumer = testKafka(clientId).consumer({ groupId, maxWaitTimeInMs: 100 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic });
    // No commits: whatever it reads, the group's offsets stay at 4.
    await consumer.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
    const lag = await eventually('the consumer to join the group and get all partitions', async () => {
      const current = await groupLag(admin, groupId);
      return current.state === 'Stable' && current.members[0]?.assignments[topic]?.length === PARTITIONS
        ? current
        : undefined;
    });
    expect(lag.members).toHaveLength(1);
    expect(lag.members[0]).toMatchObject({ clientId, assignments: { [topic]: [0, 1, 2] } });
    expect(lag.members[0]!.memberId).toContain(clientId); // kafkajs member ids are `<clientId>-<uuid>`
    expect(lag.members[0]!.host).toMatch(/127\.0\.0\.1|localhost|::1/);
    expect(lag.partitions.map((p) => p.offsetLag)).toEqual([6, 6, 6]);

    const plan = await planOffsetReset(admin, { groupId, topic, to: { kind: 'earliest' } });
    expect(plan.members).toEqual([`${clientId} (${lag.members[0]!.host})`]);
    await expect(
      resetOffsets(kafka, admin, { groupId, topic, to: { kind: 'earliest' } }),
    ).rejects.toMatchObject({
      code: 'TDL_MSG_GROUP_ACTIVE',
      message: `group ${groupId} has 1 active member: ${clientId} (${lag.members[0]!.host}); stop it before resetting offsets`,
    });
    expect(await committed(groupId, topic)).toEqual({ 0: '4', 1: '4', 2: '4' });
  } finally {
    await consumer.disconnect();
  }
});

it('reports offset lag and the age of the first unconsumed record per partition', async () => {
  const topic = await topicWithRecords();
  const groupId = group('offsets-lag');
  await admin.setOffsets({
    groupId,
    topic,
    partitions: [
      { partition: 0, offset: '4' },
      { partition: 1, offset: '10' },
    ],
  });
  const now = Date.now();

  const lag = await groupLag(admin, groupId, { now });

  expect(lag).toMatchObject({ groupId, state: 'Empty', members: [] });
  expect(lag.partitions.map(({ timeLagMs: _, ...rest }) => rest)).toEqual([
    { topic, partition: 0, committed: '4', low: '0', high: '10', offsetLag: 6 },
    { topic, partition: 1, committed: '10', low: '0', high: '10', offsetLag: 0 },
    { topic, partition: 2, committed: null, low: '0', high: '10', offsetLag: 10 },
  ]);
  const [p0, p1, p2] = lag.partitions;
  expectAge(p0!.timeLagMs, now - timestampOf(0, 4));
  expect(p1!.timeLagMs).toBe(0);
  expectAge(p2!.timeLagMs, now - timestampOf(2, 0));
});

it('fails with typed errors for an unknown group, an unknown topic and offsets outside the topic', async () => {
  const topic = await topicWithRecords();
  const groupId = group('offsets-errors');
  const missing = uniqueTopicName('test', 'missing');

  await expect(groupLag(admin, groupId)).rejects.toMatchObject({
    code: 'TDL_MSG_UNKNOWN_GROUP',
    message: `consumer group ${groupId} is unknown: it has no committed offsets and no members`,
  });
  await expect(
    planOffsetReset(admin, { groupId, topic: missing, to: { kind: 'earliest' } }),
  ).rejects.toMatchObject({
    code: 'TDL_MSG_UNKNOWN_TOPIC',
    message: `topic ${missing} does not exist`,
  });
  await expect(
    resetOffsets(kafka, admin, { groupId, topic: missing, to: { kind: 'latest' } }),
  ).rejects.toMatchObject({
    code: 'TDL_MSG_UNKNOWN_TOPIC',
  });
  await expect(topicWatermarks(admin, missing)).rejects.toMatchObject({
    code: 'TDL_MSG_UNKNOWN_TOPIC',
    message: `topic ${missing} does not exist`,
  });
  expect(await topicWatermarks(admin, topic)).toEqual(
    Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, low: 0n, high: BigInt(RECORDS) })),
  );
  await expect(
    planOffsetReset(admin, { groupId, topic, to: parseOffsetTarget('0:3,99:0') }),
  ).rejects.toMatchObject({
    code: 'TDL_MSG_INVALID_OFFSET_SPEC',
    message: `cannot reset ${topic}: partition 99 does not exist (${topic} has partitions 0-2)`,
  });
  await expect(
    resetOffsets(kafka, admin, { groupId, topic, to: parseOffsetTarget('1:11') }),
  ).rejects.toMatchObject({
    code: 'TDL_MSG_INVALID_OFFSET_SPEC',
    message: `cannot reset ${topic}: offset 11 is outside partition 1's range 0..10 (log start..high watermark)`,
  });
  // Nothing was committed: the group still does not exist.
  expect(await admin.fetchOffsets({ groupId })).toEqual([]);
});
