// The tideline CLI as a real child process against the real Kafka and registry.
import { TestTopics, uniqueName } from '@tideline/testing';
import { schemasDir, tl } from './support';

const made = new TestTopics();

afterAll(() => made.cleanup());

it('plans, dry-runs and applies topics from a catalog, with the retry and dead-letter topics of its groups; a second plan is in sync', async () => {
  const topic = `test.${uniqueName('cli-topics')}.v1`;
  const group = uniqueName('cli-group');
  const groupTopics = [`${group}.retry.1`, `${group}.retry.2`, `${group}.retry.3`, `${group}.dlt`];
  made.track(topic, ...groupTopics);
  const dir = schemasDir(topic, [], group);

  const dry = await tl(['topics', 'apply', '--schemas', dir]);
  expect(dry.stderr).toBe('');
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(
    `create    ${topic} (2 partitions, replication factor 1, cleanup.policy=delete, retention.ms=86400000, min.insync.replicas=2, unclean.leader.election.enable=false)`,
  );
  expect(dry.stdout).toContain(
    `create    ${group}.retry.1 (2 partitions, replication factor 1, cleanup.policy=delete, retention.ms=604800000, min.insync.replicas=2, unclean.leader.election.enable=false, max.message.bytes=2097152)`,
  );
  expect(dry.stdout).toContain(
    `create    ${group}.dlt (2 partitions, replication factor 1, cleanup.policy=delete, retention.ms=2592000000, min.insync.replicas=2, unclean.leader.election.enable=false, max.message.bytes=2097152)`,
  );
  expect(dry.stdout).toContain('dry run: nothing changed');

  const planAfterDryRun = await tl(['topics', 'plan', '--schemas', dir, '--json']);
  expect(JSON.parse(planAfterDryRun.stdout)).toMatchObject({
    changes: true,
    actions: [topic, ...groupTopics].map((name) => ({ kind: 'create', topic: name })),
  });

  const applied = await tl(['topics', 'apply', '--schemas', dir, '--execute']);
  expect(applied.code).toBe(0);
  expect(applied.stdout).toContain('applied');

  const again = await tl(['topics', 'plan', '--schemas', dir, '--json']);
  expect(JSON.parse(again.stdout)).toMatchObject({
    changes: false,
    actions: [topic, ...groupTopics].map((name) => ({ kind: 'in-sync', topic: name })),
  });
});

it('schemas check exits non-zero naming the field of an incompatible change, and 0 for a compatible one', async () => {
  const topic = `test.${uniqueName('cli-schemas')}.v1`;
  made.track(topic);
  const registered = await tl(['schemas', 'register', '--schemas', schemasDir(topic), '--execute']);
  expect(registered.stderr).toBe('');
  expect(registered.code).toBe(0);
  expect(registered.stdout).toContain(`registered ${topic}-value (id `);

  const breaking = await tl([
    'schemas',
    'check',
    '--schemas',
    schemasDir(topic, [{ name: 'channel', type: 'string', doc: 'sales channel' }]),
  ]);
  expect(breaking.code).toBe(1);
  expect(breaking.stderr).toMatch(/^tideline: incompatible schema change: .*OrderPlaced\.channel/);
  expect(breaking.stderr.trim().split('\n')).toHaveLength(1);

  const fine = await tl([
    'schemas',
    'check',
    '--schemas',
    schemasDir(topic, [{ name: 'channel', type: ['null', 'string'], default: null, doc: 'sales channel' }]),
  ]);
  expect(fine.code).toBe(0);
  expect(fine.stdout).toContain(`compatible   ${topic}-value`);

  const dryRegister = await tl([
    'schemas',
    'register',
    '--schemas',
    schemasDir(topic, [{ name: 'x', type: 'int', doc: 'x' }]),
  ]);
  expect(dryRegister.code).toBe(0);
  expect(dryRegister.stdout).toContain(`REFUSED   ${topic}-value: no matching field for default-less`);
  expect(dryRegister.stdout).toContain('dry run: nothing registered');
});

it('fails with one line when the registry is unreachable', async () => {
  const result = await tl(['schemas', 'check'], {
    SCHEMA_REGISTRY_URL: 'http://127.0.0.1:9/apis/ccompat/v7',
  });
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    /^tideline: the schema registry at http:\/\/127\.0\.0\.1:9\/apis\/ccompat\/v7 did not answer: .*ECONNREFUSED/,
  );
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
});

it('fails with one line when Kafka is unreachable', async () => {
  const result = await tl(['topics', 'plan'], { KAFKA_BROKERS: '127.0.0.1:9' });
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^tideline: Kafka at 127\.0\.0\.1:9 is not reachable: /);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
});
