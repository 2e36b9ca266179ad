// `tideline groups lag` of every group, `--version`, the connection flags and --json errors, as a real
// child process against the real Kafka and registry, with groups of its own.
import { orderPlacedTopic } from '@tideline/contracts';
import {
  eventually,
  isolatedTopic,
  startGroupAtEnd,
  testInfra,
  testKafka,
  TestTopics,
  uniqueName,
} from '@tideline/testing';
import { expectOneLineError, tl } from './support';

interface LagView {
  groups: {
    groupId: string;
    state: string;
    members: number;
    offsetLag: number | null;
    timeLagMs: number | null;
    topics: Record<string, { offsetLag: number; timeLagMs: number | null }>;
    partitions: { topic: string; partition: number; committed: string | null; offsetLag: number }[];
  }[];
}

const infra = testInfra();
const kafka = testKafka();
const made = new TestTopics(kafka);
const admin = kafka.admin();
const groups: string[] = [];
const newGroup = (label: string) => {
  const groupId = uniqueName(`ops-lag-${label}`);
  groups.push(groupId);
  return groupId;
};
const consumer = kafka.consumer({ groupId: newGroup('unmeasured'), sessionTimeout: 10_000 });

beforeAll(() => admin.connect());
afterAll(async () => {
  await consumer.disconnect();
  await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
  await made.cleanup();
});

it('groups lag without --group shows every group, most behind first, one with no committed offsets as "-" (last); --topic keeps the groups that read it', async () => {
  const topic = isolatedTopic(orderPlacedTopic);
  await made.create({ ...topic, partitions: 2 });
  const hourAgo = Date.now() - 3_600_000;
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: topic.name,
    messages: Array.from({ length: 7 }, (_, n) => ({
      key: `order-${n}`,
      value: `v${n}`,
      partition: n % 2,
      timestamp: String(hourAgo + n),
    })),
  });
  await producer.disconnect();

  // behind: committed at the start, 7 records behind; caughtUp: committed at the end.
  const behind = newGroup('behind');
  await admin.setOffsets({
    groupId: behind,
    topic: topic.name,
    partitions: [
      { partition: 0, offset: '0' },
      { partition: 1, offset: '0' },
    ],
  });
  const caughtUp = newGroup('caught-up');
  await startGroupAtEnd(caughtUp, [topic.name], kafka);
  // unmeasured: a running member with the topic assigned that never commits.
  const unmeasured = groups[0]!;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic.name], fromBeginning: false });
  await consumer.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
  await eventually(`${unmeasured} to be assigned ${topic.name}`, async () => {
    const { groups: described } = await admin.describeGroups([unmeasured]);
    return described[0]?.state === 'Stable' ? true : undefined;
  });

  const started = Date.now();
  const all = await tl(['groups', 'lag', '--json']);
  expect(all.stderr).toBe('');
  expect(all.code).toBe(0);
  const view = JSON.parse(all.stdout) as LagView;
  // The whole list is sorted: records behind descending, the unmeasurable last.
  const lags = view.groups.map((g) => g.offsetLag ?? -1);
  expect(lags).toEqual([...lags].sort((a, b) => b - a));
  const mine = view.groups.filter((g) => groups.includes(g.groupId));
  expect(mine.map((g) => g.groupId)).toEqual([behind, caughtUp, unmeasured]);
  const [late, current, none] = mine;
  expect(late).toMatchObject({ state: 'Empty', members: 0, offsetLag: 7 });
  expect(late!.topics[topic.name]!.offsetLag).toBe(7);
  // The first unconsumed record is an hour old (to 1 s, never less).
  expect(late!.timeLagMs).toBeGreaterThanOrEqual(3_600_000);
  expect(late!.timeLagMs).toBeLessThan(3_600_000 + (Date.now() - started) + 60_000);
  expect(current).toMatchObject({ offsetLag: 0, timeLagMs: 0 });
  expect(none).toMatchObject({ state: 'Stable', members: 1, offsetLag: null, timeLagMs: null });
  expect(none!.partitions.map((p) => [p.topic, p.partition, p.committed])).toEqual([
    [topic.name, 0, null],
    [topic.name, 1, null],
  ]);

  // People's view of the same, restricted to the topic: exactly these three, in that order.
  const human = await tl(['groups', 'lag', '--topic', topic.name]);
  expect(human.code).toBe(0);
  const lines = human.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^GROUP +STATE +MEMBERS +LAG +TIME LAG +TOPICS$/);
  expect(lines[1]).toMatch(new RegExp(`^${behind} +Empty +0 +7 +1h 0m +${topic.name}$`));
  expect(lines[2]).toMatch(new RegExp(`^${caughtUp} +Empty +0 +0 +- +${topic.name}$`));
  expect(lines[3]).toMatch(
    new RegExp(`^${unmeasured} +Stable +1 +- +- +no committed offsets \\(assigned ${topic.name}\\)$`),
  );
  expect(lines.slice(4)).toEqual(['', '3 groups: 1 behind (7 records in all), 1 with no committed offsets']);

  // The flag wins over a bad KAFKA_BROKERS, which is then not even checked.
  const flagged = await tl(
    ['groups', 'lag', '--topic', topic.name, '--json', '--bootstrap-server', infra.kafkaBrokers.join(',')],
    { KAFKA_BROKERS: 'nope' },
  );
  expect(flagged.code).toBe(0);
  expect((JSON.parse(flagged.stdout) as LagView).groups.map((g) => g.groupId)).toEqual([
    behind,
    caughtUp,
    unmeasured,
  ]);
});

it('groups lag --topic of a topic no group reads says so; --version prints the package version', async () => {
  const nobody = `test.${uniqueName('ops-lag-nobody')}.v1`;
  const none = await tl(['groups', 'lag', '--topic', nobody]);
  expect(none).toMatchObject({ code: 0, stdout: `no consumer group reads ${nobody}\n`, stderr: '' });
  expect(JSON.parse((await tl(['groups', 'lag', '--topic', nobody, '--json'])).stdout)).toEqual({
    groups: [],
  });

  const version = await tl(['--version']);
  expect(version).toMatchObject({ code: 0, stdout: 'tideline 0.1.0\n', stderr: '' });
});

it('with --json, failures are one JSON line on stderr with the code; the exit codes stay', async () => {
  const json = (stderr: string) => {
    expect(stderr.trim().split('\n')).toHaveLength(1);
    return (JSON.parse(stderr) as { error: { code: string; message: string } }).error;
  };
  const unknown = uniqueName('ops-lag-unknown');
  const missing = await tl(['groups', 'lag', '--group', unknown, '--json']);
  expect({ code: missing.code, stdout: missing.stdout }).toEqual({ code: 1, stdout: '' });
  expect(json(missing.stderr)).toEqual({
    code: 'TDL_MSG_UNKNOWN_GROUP',
    message: `consumer group ${unknown} is unknown: it has no committed offsets and no members`,
  });

  const unreachable = await tl(['groups', 'lag', '--json'], { KAFKA_BROKERS: '127.0.0.1:9' });
  expect(unreachable.code).toBe(1);
  expect(json(unreachable.stderr)).toMatchObject({
    code: 'TDL_MSG_KAFKA_UNAVAILABLE',
    message: expect.stringMatching(/^Kafka at 127\.0\.0\.1:9 is not reachable: /) as unknown,
  });

  // --registry wins over SCHEMA_REGISTRY_URL (the real one here): the error names the flag's URL.
  const registry = await tl([
    'schemas',
    'check',
    '--json',
    '--registry',
    'http://127.0.0.1:9/apis/ccompat/v7',
  ]);
  expect(registry.code).toBe(1);
  expect(json(registry.stderr)).toMatchObject({
    code: 'TDL_MSG_REGISTRY_UNAVAILABLE',
    message: expect.stringMatching(
      /^the schema registry at http:\/\/127\.0\.0\.1:9\/apis\/ccompat\/v7 did not answer/,
    ) as unknown,
  });

  expectOneLineError(
    await tl(['groups', 'lag', '--frob', '--json']),
    /^\{"error":\{"code":"TDL_CLI_USAGE"/,
    2,
  );
});
