// `tideline topics plan|apply` on a private 3-broker cluster: topics made at replication factor 1
// and min.insync.replicas 1 (what a cluster default of 1 gives) are reported below the catalog,
// apply moves them to 3 replicas / min ISR 2 by partition reassignment, Kafka's own TopicCommand
// confirms it, and the topics then survive a broker's kill -9 without losing a record.
import {
  eventually,
  runKafkaTool,
  startKafkaCluster,
  uniqueName,
  type KafkaCluster,
} from '@tideline/testing';
import { createTopicsAndWait, type Admin } from '@tideline/messaging';
import { schemasDir, tl } from '../e2e/support';

const RECORDS = 300;
let cluster: KafkaCluster | undefined;
let admin: Admin | undefined;

afterAll(async () => {
  await admin?.disconnect();
  await cluster?.stop();
});

interface Described {
  replicationFactor: number;
  configs: Record<string, string>;
  partitions: { partition: number; replicas: number[]; isr: number[] }[];
}

/** `kafka-topics --describe` (TopicCommand), parsed: Kafka's own view of the topic. */
async function describeWithKafka(bootstrap: string, topic: string): Promise<Described> {
  const result = await runKafkaTool('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server',
    bootstrap,
    '--describe',
    '--topic',
    topic,
  ]);
  if (result.code !== 0)
    throw new Error(`TopicCommand --describe ${topic} exited ${result.code}: ${result.stderr}`);
  const head = /ReplicationFactor:\s*(\d+)\s+Configs:\s*(\S*)/.exec(result.stdout);
  if (!head) throw new Error(`unexpected TopicCommand output:\n${result.stdout}`);
  const list = (raw: string | undefined) => (raw ? raw.split(',').map(Number) : []);
  return {
    replicationFactor: Number(head[1]),
    configs: Object.fromEntries(
      (head[2] ?? '').split(',').map((pair) => pair.split('=') as [string, string]),
    ),
    partitions: [
      ...result.stdout.matchAll(
        /Partition:\s*(\d+)\s+Leader:\s*-?\d+\s+Replicas:\s*([\d,]+)\s+Isr:\s*([\d,]*)/g,
      ),
    ].map((m) => ({ partition: Number(m[1]), replicas: list(m[2]), isr: list(m[3]) })),
  };
}

async function recordCount(topic: string): Promise<number> {
  const offsets = await admin!.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

it('reports topics at replication factor 1 / min ISR 1 on a 3-broker cluster, applies 3 / 2, and Kafka agrees', async () => {
  const started = Date.now();
  cluster = await startKafkaCluster({ brokers: 3 });
  const env = { KAFKA_BROKERS: cluster.bootstrap, TOPIC_REPLICATION: '' };
  admin = cluster.kafka.admin();
  await admin.connect();

  const topic = `test.${uniqueName('rf')}.v1`;
  const group = uniqueName('rf-group');
  const all = [topic, `${group}.retry.1`, `${group}.retry.2`, `${group}.retry.3`, `${group}.dlt`];
  const dir = schemasDir(topic, [], group);
  // What a cluster whose default.replication.factor and min.insync.replicas are 1 creates.
  await createTopicsAndWait(
    admin,
    all.map((name) => ({
      topic: name,
      numPartitions: 2,
      replicationFactor: 1,
      configEntries: [{ name: 'min.insync.replicas', value: '1' }],
    })),
  );
  const producer = cluster.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    });
  } finally {
    await producer.disconnect();
  }

  const plan = await tl(['topics', 'plan', '--schemas', dir], env);
  expect(plan.stderr).toBe('');
  expect(plan.code).toBe(0);
  expect(plan.stdout).toContain('cluster   3 brokers');
  expect(plan.stdout).not.toContain('OVERRIDE');
  for (const name of all) {
    expect(plan.stdout).toContain(
      `replicate ${name} replication factor 1 → 3, below the catalog (reassigns 2 partitions`,
    );
    const configure = plan.stdout.split('\n').find((line) => line.startsWith(`configure ${name} `));
    expect(configure).toContain('min.insync.replicas: 1 → 2 (below the catalog)');
  }
  const before = await describeWithKafka(cluster.bootstrap, topic);
  expect(before.replicationFactor).toBe(1);

  const applyStarted = Date.now();
  const applied = await tl(['topics', 'apply', '--schemas', dir, '--execute'], env);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  expect(applied.stdout).toContain('applied');
  const applyMs = Date.now() - applyStarted;

  for (const name of all) {
    const described = await describeWithKafka(cluster.bootstrap, name);
    expect([name, described.replicationFactor, described.configs['min.insync.replicas']]).toEqual([
      name,
      3,
      '2',
    ]);
    // Only overrides are listed; the topic kept the broker's default (false), which the plan accepts.
    expect(described.configs['unclean.leader.election.enable']).not.toBe('true');
    expect(described.partitions).toHaveLength(2);
    for (const partition of described.partitions) {
      expect(new Set(partition.replicas).size).toBe(3);
      expect([...partition.isr].sort()).toEqual([...partition.replicas].sort());
    }
  }
  expect(await recordCount(topic)).toBe(RECORDS);

  const again = await tl(['topics', 'plan', '--schemas', dir, '--json'], env);
  expect(JSON.parse(again.stdout)).toMatchObject({
    changes: false,
    conflicts: [],
    actions: all.map((name) => ({ kind: 'in-sync', topic: name })),
  });

  // The point of it: a broker lost, every acknowledged record still there, acks=all still served.
  const leader = await cluster.leaderOf(topic, 0);
  await cluster.kill9(leader);
  // The controller moves the partition's leadership once the killed broker's session expires
  // (broker.session.timeout.ms); until then kafkajs' retries of a send run out against it.
  await eventually(
    `a new leader for ${topic}:0 after broker ${leader}'s kill`,
    async () => {
      const now = await cluster!.leaderOf(topic, 0).catch(() => undefined);
      return now !== undefined && now !== leader ? now : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const survivor = cluster.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await survivor.connect();
  try {
    await survivor.send({ topic, acks: -1, messages: [{ key: 'k0', value: 'after the kill' }] });
  } finally {
    await survivor.disconnect();
  }
  expect(
    await eventually(
      'the record count from the brokers left',
      () => recordCount(topic).catch(() => undefined),
      {
        timeoutMs: 30_000,
      },
    ),
  ).toBe(RECORDS + 1);
  process.stdout.write(
    `topics-durability: ${all.length} topics RF 1 → 3, min ISR 1 → 2, apply ${applyMs} ms; ${RECORDS} records kept, broker ${leader} killed, 0 lost; ${Date.now() - started} ms in all\n`,
  );
});
