// `tideline groups | replay | dlq | asyncapi` as real child processes against the real Kafka, registry and
// PostgreSQL, with real consumers (TidelineConsumer) in this process.
import { randomBytes } from 'node:crypto';
import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import {
  ProcessingError,
  Publisher,
  RecordSigner,
  RegistryCodec,
  createConsumer,
  createKafka,
  groupTopics,
  subscribe,
  type TidelineConsumer,
} from '@tideline/messaging';
import { PostgresProjectionStore, setPositions } from '@tideline/projections';
import {
  createTestDatabase,
  eventually,
  isolatedTopic,
  testInfra,
  testKafka,
  TestTopics,
  topicEnds,
  sampleOrder,
  uniqueName,
} from '@tideline/testing';
import { Pool } from 'pg';
import { expectOneLineError, schemasDir, tl } from './support';

const infra = testInfra();
const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('ops-e2e') });
const codec = new RegistryCodec({ registryUrl: infra.registryUrl, autoRegister: true });
// Signed and verified: a redriven record must still carry a valid signature.
const signer = new RecordSigner({
  signingKey: { id: uniqueName('ops-e2e-key'), secret: randomBytes(32) },
  defaultPolicy: 'required',
});
const publisher = new Publisher({ kafka, codec, signer, service: 'ops-e2e' });
const made = new TestTopics();
const running: TidelineConsumer[] = [];
const groups: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});
afterAll(async () => {
  await publisher.close();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
  await made.cleanup();
});

async function newTopic(partitions = 2): Promise<TopicDescriptor<OrderPlaced>> {
  const topic = { ...isolatedTopic(orderPlacedTopic), partitions };
  await made.create(topic);
  await codec.register(topic);
  return topic;
}

function newGroup(topic: TopicDescriptor<unknown>): string {
  const groupId = uniqueName('ops-e2e');
  groups.push(groupId);
  made.track(...groupTopics(groupId, [topic]).map((t) => t.name));
  return groupId;
}

/** A consumer counting what it handles per order id; refuses SKU POISON (not retryable) while `refuse.on`. */
async function countingConsumer(
  groupId: string,
  topic: TopicDescriptor<OrderPlaced>,
  refuse = { on: false },
): Promise<{ consumer: TidelineConsumer; handled: Map<string, number> }> {
  const handled = new Map<string, number>();
  const consumer = createConsumer({
    kafka,
    codec,
    signer,
    groupId,
    service: uniqueName('counting'),
    subscriptions: [
      subscribe(topic, (value) => {
        if (refuse.on && value.lines[0]?.sku === 'POISON')
          throw new ProcessingError(
            'UNKNOWN_SKU',
            `sku "POISON" of order ${value.orderId} is unknown`,
            false,
          );
        handled.set(value.orderId, (handled.get(value.orderId) ?? 0) + 1);
      }),
    ],
    heartbeatIntervalMs: 500,
  });
  running.push(consumer);
  await consumer.start();
  return { consumer, handled };
}

const total = (handled: Map<string, number>) => [...handled.values()].reduce((a, b) => a + b, 0);

const json = <T>(stdout: string): T => JSON.parse(stdout) as T;

/** Waits until the group has committed every record of its topics (per `groups lag --json`). */
async function caughtUp(groupId: string): Promise<void> {
  await eventually(`group ${groupId} to commit everything`, async () => {
    const lag = await tl(['groups', 'lag', '--group', groupId, '--json']);
    if (lag.code !== 0) return undefined;
    const partitions = json<{ partitions: { offsetLag: number }[] }>(lag.stdout).partitions;
    return partitions.length > 0 && partitions.every((p) => p.offsetLag === 0) ? true : undefined;
  });
}

it('replay --to <time> makes a stopped counting consumer reprocess exactly the records from that time on; refused while it runs', async () => {
  const topic = await newTopic();
  const groupId = newGroup(topic);
  const hourAgo = Date.now() - 3_600_000;
  // Orders 0-4 an hour ago, 5-9 half an hour later; the replay starts between them.
  for (let n = 0; n < 10; n++) {
    await publisher.publish(topic, `order-${n}`, sampleOrder(n), {
      timestamp: new Date(hourAgo + (n < 5 ? 0 : 1_800_000) + n * 1000),
    });
  }
  const cutoff = new Date(hourAgo + 900_000).toISOString();
  const replay = (...more: string[]) =>
    tl(['replay', '--group', groupId, '--topic', topic.name, '--to', cutoff, ...more]);
  const first = await countingConsumer(groupId, topic);
  await eventually('ten orders handled', () => (total(first.handled) === 10 ? true : undefined));
  await caughtUp(groupId);

  // While the consumer runs: refused, naming it, nothing moved.
  const described = json<{ members: { clientId: string; assignments: Record<string, number[]> }[] }>(
    (await tl(['groups', 'describe', '--group', groupId, '--json'])).stdout,
  );
  expect(described.members).toHaveLength(1);
  expect(described.members[0]!.assignments[topic.name]).toEqual([0, 1]);
  const refused = await replay('--execute');
  expectOneLineError(
    refused,
    new RegExp(
      `^tideline: group ${groupId} has 1 active member: ${described.members[0]!.clientId} \\(.+\\); stop it before replaying \\(nothing changed\\)`,
    ),
  );
  await first.consumer.stop();

  const dry = await replay();
  expect(dry.stderr).toBe('');
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`replay of group ${groupId} on ${topic.name} to ${cutoff}`);
  expect(dry.stdout).toContain('total: reprocess 5 records');
  expect(dry.stdout).toContain('dry run: nothing changed');
  const endsBefore = await topicEnds([topic.name]);

  const executed = await replay('--execute', '--json');
  expect(executed.code).toBe(0);
  const plan = json<{ dryRun: boolean; reprocess: number; moves: { from: string; to: string }[] }>(
    executed.stdout,
  );
  expect(plan).toMatchObject({ dryRun: false, reprocess: 5 });
  expect(plan.moves.map((m) => m.from)).toEqual(endsBefore.map((e) => e.offset));

  const second = await countingConsumer(groupId, topic);
  await eventually('the five newer orders handled again', () =>
    total(second.handled) === 5 ? true : undefined,
  );
  await caughtUp(groupId);
  expect([...second.handled.keys()].sort()).toEqual(['order-5', 'order-6', 'order-7', 'order-8', 'order-9']);
  expect([...second.handled.values()]).toEqual([1, 1, 1, 1, 1]);
});

it('redrives ten poison records once after the cause is fixed; a second redrive moves nothing', async () => {
  const topic = await newTopic();
  const groupId = newGroup(topic);
  const refuse = { on: true };
  const { consumer, handled } = await countingConsumer(groupId, topic, refuse);
  for (let n = 0; n < 10; n++) await publisher.publish(topic, `poison-${n}`, sampleOrder(n, 'POISON'));
  await publisher.publish(topic, 'fine', sampleOrder(100));
  await eventually('ten dead letters', () => (consumer.status().deadLettered === 10 ? true : undefined));

  const listed = await tl(['dlq', 'list', '--group', groupId, '--json']);
  expect(listed.code).toBe(0);
  const summary = json<{
    pending: number;
    groups: { fingerprint: string; count: number; errorCode: string }[];
  }>(listed.stdout);
  expect(summary.pending).toBe(10);
  expect(summary.groups).toEqual([expect.objectContaining({ count: 10, errorCode: 'UNKNOWN_SKU' })]);
  const fingerprint = summary.groups[0]!.fingerprint;

  const shown = await tl(['dlq', 'show', '--group', groupId, '--fingerprint', fingerprint.slice(0, 8)]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toContain('UNKNOWN_SKU: sku "POISON" of order order-0 is unknown');
  expect(shown.stdout).toContain(`original  ${topic.name} partition`);
  expect(shown.stdout).toMatch(/"orderId": "order-0"/);
  expect(shown.stdout).toContain('tdl-error-fingerprint: ' + fingerprint);
  expect(shown.stdout).toContain('9 more dead letters match');

  const dry = await tl(['dlq', 'redrive', '--group', groupId, '--topic', topic.name]);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`dry run: would redrive 10 dead letters to ${topic.name}`);
  expect(
    json<{ pending: number }>((await tl(['dlq', 'list', '--group', groupId, '--json'])).stdout).pending,
  ).toBe(10);

  refuse.on = false; // the cause is fixed
  const redriven = await tl([
    'dlq',
    'redrive',
    '--group',
    groupId,
    '--topic',
    topic.name,
    '--rate',
    '50',
    '--execute',
  ]);
  expect(redriven.stderr).toBe('');
  expect(redriven.code).toBe(0);
  expect(redriven.stdout).toMatch(
    new RegExp(`redrove 10 dead letters to ${topic.name.replace(/\./g, '\\.')} in [\\d.]+ s`),
  );
  await eventually('every poison order handled', () => (handled.size === 11 ? true : undefined));
  await caughtUp(groupId);
  const endsAfterRedrive = await topicEnds([topic.name]);

  const again = await tl([
    'dlq',
    'redrive',
    '--group',
    groupId,
    '--topic',
    topic.name,
    '--execute',
    '--json',
  ]);
  expect(again.code).toBe(0);
  expect(json(again.stdout)).toMatchObject({ dryRun: false, redriven: 0, matching: 0, alreadyRedriven: 10 });
  expect(await topicEnds([topic.name])).toEqual(endsAfterRedrive);
  await caughtUp(groupId);
  expect([...handled.values()]).toEqual(Array<number>(11).fill(1));
  expect(
    json<{ pending: number }>((await tl(['dlq', 'list', '--group', groupId, '--json'])).stdout).pending,
  ).toBe(0);
});

it('replay of a projection group moves its stored positions in PostgreSQL too', async () => {
  const topic = await newTopic();
  const groupId = newGroup(topic);
  for (let n = 0; n < 6; n++) await publisher.publish(topic, `order-${n}`, sampleOrder(n));
  const ends = await topicEnds([topic.name]);
  const admin = testKafka().admin();
  await admin.connect();
  await admin.setOffsets({
    groupId,
    topic: topic.name,
    partitions: ends.map((e) => ({ partition: e.partition, offset: e.offset })),
  });
  await admin.disconnect();
  const database = await createTestDatabase('ops_replay');
  const pool = new Pool({ connectionString: database.url });
  try {
    await setPositions(pool, groupId, ends);
    const dry = await tl(['replay', '--group', groupId, '--topic', topic.name, '--to', 'earliest'], {
      DATABASE_URL: database.url,
    });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`projection ${groupId}: its positions in PostgreSQL move too`);

    const executed = await tl(
      ['replay', '--group', groupId, '--topic', topic.name, '--to', 'earliest', '--execute'],
      {
        DATABASE_URL: database.url,
      },
    );
    expect(executed.code).toBe(0);
    expect(executed.stdout).toContain('reprocesses 6 records');
    const store = new PostgresProjectionStore(pool, groupId, () => Promise.resolve([]));
    expect((await store.positions()).map((p) => [p.partition, p.nextOffset])).toEqual([
      [0, '0'],
      [1, '0'],
    ]);
  } finally {
    await pool.end();
    await database.drop();
  }
});

it('answers bad input to every command with one line on stderr, a non-zero exit, and changes nothing', async () => {
  const topic = await newTopic();
  const groupId = newGroup(topic);
  await publisher.publish(topic, 'order-1', sampleOrder(1));
  const admin = testKafka().admin();
  await admin.connect();
  await admin.setOffsets({ groupId, topic: topic.name, partitions: [{ partition: 0, offset: '1' }] });
  const committedBefore = await admin.fetchOffsets({ groupId, topics: [topic.name] });
  const unknownGroup = uniqueName('nobody');
  const missingTopic = `test.${uniqueName('missing')}.v1`;
  const otherTopic = await newTopic();

  expectOneLineError(
    await tl(['groups', 'lag', '--group', unknownGroup]),
    new RegExp(`^tideline: consumer group ${unknownGroup} is unknown`),
  );
  expectOneLineError(
    await tl(['replay', '--group', unknownGroup, '--topic', topic.name, '--to', 'earliest', '--execute']),
    new RegExp(`^tideline: consumer group ${unknownGroup} is unknown`),
  );
  expectOneLineError(
    await tl(['replay', '--group', groupId, '--topic', missingTopic, '--to', 'earliest', '--execute']),
    new RegExp(`^tideline: topic ${missingTopic} does not exist`),
  );
  expectOneLineError(
    await tl(['replay', '--group', groupId, '--topic', topic.name, '--to', '0:0,7:0', '--execute']),
    /partition 7 does not exist/,
  );
  expectOneLineError(
    await tl(['replay', '--group', groupId, '--topic', topic.name, '--to', '2026-02-30T10:00Z', '--execute']),
    /^tideline: --to: "2026-02-30T10:00Z" is not a valid date and time/,
    2,
  );
  expectOneLineError(
    await tl(['replay', '--group', groupId, '--topic', otherTopic.name, '--to', 'earliest', '--execute']),
    new RegExp(`^tideline: group ${groupId} does not read ${otherTopic.name.replace(/\./g, '\\.')}`),
  );
  expectOneLineError(
    await tl(['dlq', 'list', '--group', unknownGroup]),
    new RegExp(
      `^tideline: the dead-letter topic of group ${unknownGroup}, ${unknownGroup}\\.dlt does not exist`,
    ),
  );
  expectOneLineError(
    await tl(['dlq', 'redrive', '--group', groupId, '--topic', missingTopic, '--execute']),
    new RegExp(`^tideline: topic ${missingTopic} does not exist \\(nothing changed\\)`),
  );
  expectOneLineError(
    await tl(['groups', 'list'], { KAFKA_BROKERS: '127.0.0.1:9' }),
    /^tideline: Kafka at 127\.0\.0\.1:9 is not reachable: /,
  );
  expectOneLineError(
    await tl(['replay', '--group', groupId, '--topic', topic.name, '--to', 'earliest'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:9/tideline',
    }),
    /^tideline: cannot read projection positions: PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:9\/tideline did not answer/,
  );
  expect(await admin.fetchOffsets({ groupId, topics: [topic.name] })).toEqual(committedBefore);
  expect((await admin.fetchOffsets({ groupId: unknownGroup })).length).toBe(0);
  await admin.disconnect();
});

it('prints a valid AsyncAPI 3 document of the catalog, and shows a schema change field by field', async () => {
  const document = await tl(['asyncapi', '--json']);
  expect(document.code).toBe(0);
  const parsed = json<{ asyncapi: string; channels: Record<string, unknown> }>(document.stdout);
  expect(parsed.asyncapi).toBe('3.0.0');
  expect(Object.keys(parsed.channels)).toEqual(
    expect.arrayContaining(['orders.order-placed.v1', 'order-processor.dlt']),
  );
  const yaml = await tl(['asyncapi', '--service', 'order-processor']);
  expect(yaml.code).toBe(0);
  expect(yaml.stdout).toMatch(/^asyncapi: 3\.0\.0\n/);
  expect(yaml.stdout).toContain('order-processor.dlt');
  expectOneLineError(
    await tl(['asyncapi', '--service', 'nobody']),
    /^tideline: the catalog has no service nobody/,
  );

  const topicName = `test.${uniqueName('cli-diff')}.v1`;
  made.track(topicName);
  const dir = (extraFields: unknown[]) => schemasDir(topicName, extraFields);
  const before = await tl(['schemas', 'diff', '--schemas', dir([])]);
  expect(before.stdout).toContain(`new        ${topicName}-value: not registered yet`);
  expect((await tl(['schemas', 'register', '--schemas', dir([]), '--execute'])).code).toBe(0);
  const changed = await tl([
    'schemas',
    'diff',
    '--schemas',
    dir([{ name: 'channel', type: ['null', 'string'], default: null, doc: 'sales channel' }]),
  ]);
  expect(changed.code).toBe(0);
  expect(changed.stdout).toMatch(
    new RegExp(
      `changed    ${topicName.replace(/\./g, '\\.')}-value \\(registered version 1, id \\d+\\) → local:`,
    ),
  );
  expect(changed.stdout).toContain('+ channel  [null,string] = null');
});
