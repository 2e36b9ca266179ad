// `tideline topics plan|apply` and topic durability, on the one-broker test stack: the catalog's
// production durability is refused with the broker count, the development override is explicit
// and reported, and a topic whose durability settings drifted is reported and fixed.
import { TestTopics, testKafka, uniqueName } from '@tideline/testing';
import type { Admin } from '@tideline/messaging';
import { schemasDir, tl } from './support';

const kafka = testKafka();
const made = new TestTopics(kafka);
let admin: Admin;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
  await made.cleanup();
});

/** A unique catalog topic read by a unique group, and the names of everything a plan of it covers. */
function catalog(label: string) {
  const topic = `test.${uniqueName(label)}.v1`;
  const group = uniqueName(`${label}-group`);
  const all = [topic, `${group}.retry.1`, `${group}.retry.2`, `${group}.retry.3`, `${group}.dlt`];
  made.track(...all);
  return { topic, group, all, dir: schemasDir(topic, [], group) };
}

async function topicConfig(topic: string): Promise<Record<string, string>> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: 2, name: topic }],
  });
  return Object.fromEntries((resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]));
}

/** One acks=all write, no retries: what order-api's publisher needs to get a 202. */
async function writeAcksAll(topic: string): Promise<void> {
  const producer = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v' }] });
  } finally {
    await producer.disconnect();
  }
}

it('refuses to create production topics on one broker without an explicit override, naming the broker count and the override', async () => {
  const { topic, dir } = catalog('durability-refused');
  const refused = await tl(['topics', 'apply', '--schemas', dir, '--execute'], { TOPIC_REPLICATION: '' });
  expect(refused.code).toBe(1);
  expect(refused.stdout).toContain('cluster   1 broker');
  expect(refused.stdout).toContain(
    `CONFLICT  ${topic} cannot be created: needs replication factor 3 and the cluster has 1 broker: add brokers, or for a development cluster choose --replication 1 (TOPIC_REPLICATION=1)`,
  );
  expect(refused.stdout).not.toContain('OVERRIDE');
  expect(refused.stderr).toMatch(/^tideline: the cluster conflicts with the catalog: /);
  expect(await admin.listTopics()).not.toContain(topic);
});

it('creates at the development override only when asked, and says so in the plan', async () => {
  const { topic, group, all, dir } = catalog('durability-override');
  const plan = await tl(['topics', 'plan', '--schemas', dir, '--replication', '1', '--json'], {
    TOPIC_REPLICATION: '',
  });
  expect(plan.code).toBe(0);
  expect(JSON.parse(plan.stdout)).toMatchObject({
    durability: {
      brokers: 1,
      replication: 1,
      lowered: [
        {
          from: { replicationFactor: 3, minInsyncReplicas: 2 },
          to: { replicationFactor: 1, minInsyncReplicas: 2 },
          topics: all.length,
        },
      ],
    },
    actions: all.map((name) => ({
      kind: 'create',
      topic: name,
      replicationFactor: 1,
      config: { 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' },
    })),
  });

  const applied = await tl(['topics', 'apply', '--schemas', dir, '--execute'], { TOPIC_REPLICATION: '1' });
  expect(applied.code).toBe(0);
  expect(applied.stdout).toContain(
    `OVERRIDE  TOPIC_REPLICATION=1: replication factor 3 → 1 on ${all.length} topics, below the catalog: an acknowledged record may be on one broker only (min.insync.replicas stays 2`,
  );
  expect(applied.stdout).toContain(
    `create    ${group}.dlt (2 partitions, replication factor 1, cleanup.policy=delete, retention.ms=2592000000, min.insync.replicas=2, unclean.leader.election.enable=false, max.message.bytes=2097152)`,
  );
  expect(await topicConfig(topic)).toMatchObject({
    'min.insync.replicas': '2',
    'unclean.leader.election.enable': 'false',
  });
  // Kafka requires at most the replicas a partition has: on one broker, acks=all still works.
  await writeAcksAll(topic);
});

it('reports and fixes a topic whose min.insync.replicas is below the catalog and whose unclean leader election is on', async () => {
  const { topic, dir } = catalog('durability-drift');
  // Made by hand, as an operator might: min ISR 1 (the broker default), and unclean leader
  // election, which lets an out-of-sync replica become leader and drop acknowledged records.
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: 2,
        replicationFactor: 1,
        configEntries: [
          { name: 'min.insync.replicas', value: '1' },
          { name: 'unclean.leader.election.enable', value: 'true' },
          { name: 'retention.ms', value: '86400000' },
        ],
      },
    ],
  });

  const plan = await tl(['topics', 'plan', '--schemas', dir], { TOPIC_REPLICATION: '1' });
  expect(plan.code).toBe(0);
  expect(plan.stdout).toContain(
    `configure ${topic} min.insync.replicas: 1 → 2 (below the catalog), unclean.leader.election.enable: true → false`,
  );

  const applied = await tl(['topics', 'apply', '--schemas', dir, '--execute'], { TOPIC_REPLICATION: '1' });
  expect(applied.code).toBe(0);
  expect(applied.stdout).toContain('applied');
  expect(await topicConfig(topic)).toMatchObject({
    'min.insync.replicas': '2',
    'unclean.leader.election.enable': 'false',
    'retention.ms': '86400000',
    'cleanup.policy': 'delete',
  });
  await writeAcksAll(topic);

  const again = await tl(['topics', 'plan', '--schemas', dir, '--json'], { TOPIC_REPLICATION: '1' });
  expect(JSON.parse(again.stdout)).toMatchObject({ changes: false, conflicts: [] });
});
