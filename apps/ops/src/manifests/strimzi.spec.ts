import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTopics } from '@tideline/contracts/catalog';
import { parse, stringify } from 'yaml';
import { runCli } from '../cli';
import { serviceAcls, strimziManifests } from './strimzi';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const schemas = path.join(repoRoot, 'schemas');
const committedDir = path.join(repoRoot, 'k8s', 'overlays', 'prod', 'strimzi');
const topics = loadTopics(schemas);

/** A copy of schemas/ whose catalog lacks `topic`. */
function catalogWithout(topic: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-strimzi-'));
  fs.cpSync(schemas, dir, { recursive: true });
  const catalog = parse(fs.readFileSync(path.join(dir, 'catalog.yaml'), 'utf8')) as {
    topics: { name: string }[];
  };
  catalog.topics = catalog.topics.filter((t) => t.name !== topic);
  fs.writeFileSync(path.join(dir, 'catalog.yaml'), stringify(catalog));
  return dir;
}

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { env: {}, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('Strimzi manifests of the catalog', () => {
  it('are committed in the prod overlay exactly as the catalog gives them (drift check)', () => {
    const generated = strimziManifests(topics, { cluster: 'kafka' });
    expect(fs.readdirSync(committedDir).sort()).toEqual(Object.keys(generated).sort());
    for (const [name, text] of Object.entries(generated))
      expect(fs.readFileSync(path.join(committedDir, name), 'utf8')).toBe(text);
  });

  it('drift when a topic leaves the catalog: its KafkaTopic is gone, and --check fails naming the file', async () => {
    const dir = catalogWithout('orders.order-rejected.v1');
    const without = strimziManifests(loadTopics(dir), { cluster: 'kafka' });
    expect(without['kafka-topics.yaml']).not.toContain('name: orders.order-rejected.v1');
    expect(fs.readFileSync(path.join(committedDir, 'kafka-topics.yaml'), 'utf8')).toContain(
      'name: orders.order-rejected.v1',
    );
    const check = await run([
      'manifests',
      'strimzi',
      '--schemas',
      dir,
      '--out',
      committedDir,
      '--check',
      '--json',
    ]);
    expect(check.code).toBe(1);
    expect(JSON.parse(check.stderr)).toEqual({
      error: {
        code: 'TDL_CLI_MANIFESTS_DRIFT',
        message: expect.stringMatching(
          /kafka-topics\.yaml, .*kafka-users\.yaml differ from the catalog/,
        ) as unknown,
      },
    });
    const clean = await run(['manifests', 'strimzi', '--out', committedDir, '--check']);
    expect(clean).toEqual({ code: 0, stdout: `${committedDir} matches the catalog\n`, stderr: '' });
  });

  it('have one KafkaTopic per catalog topic and per retry and dead-letter topic, with its durability and configs', () => {
    const resources = strimziManifests(topics, { cluster: 'kafka' })
      ['kafka-topics.yaml']!.split(/^---$/m)
      .slice(1)
      .map(
        (doc) => parse(doc) as { kind: string; metadata: { name: string }; spec: Record<string, unknown> },
      );
    const groups = new Set(topics.flatMap((t) => t.consumers));
    expect(resources).toHaveLength(topics.length + groups.size * 4);
    expect(resources.find((r) => r.metadata.name === 'orders.order-placed.v1')?.spec).toEqual({
      topicName: 'orders.order-placed.v1',
      partitions: 6,
      replicas: 3,
      config: {
        'cleanup.policy': 'delete',
        'retention.ms': String(30 * 86_400_000),
        'min.insync.replicas': '2',
        'unclean.leader.election.enable': 'false',
      },
    });
    expect(resources.find((r) => r.metadata.name === 'order-processor.dlt')?.spec).toMatchObject({
      partitions: 6,
      replicas: 3,
      config: { 'max.message.bytes': String(2 * 1024 * 1024), 'min.insync.replicas': '2' },
    });
  });

  it('give each service only what it needs: its topics, its groups and transactional ids by prefix', () => {
    const acls = (service: string) =>
      serviceAcls(service, topics).map(
        (a) => `${a.resource.type} ${a.resource.patternType} ${a.resource.name}: ${a.operations.join(',')}`,
      );
    expect(acls('order-processor')).toEqual([
      'topic literal catalog.product-updated.v1: Describe,Read',
      'topic literal order-processor.dlt: Describe,Write',
      'topic literal order-processor.retry.1: Describe,Read,Write',
      'topic literal order-processor.retry.2: Describe,Read,Write',
      'topic literal order-processor.retry.3: Describe,Read,Write',
      'topic literal orders.order-cancelled.v1: Describe,Read',
      'topic literal orders.order-confirmed.v1: Describe,Write',
      'topic literal orders.order-placed.v1: Describe,Read',
      'topic literal orders.order-rejected.v1: Describe,Write',
      'group prefix order-processor: Describe,Read',
      'transactionalId prefix order-processor: Describe,Write',
    ]);
    // A producer only: no group, no topic to read.
    expect(acls('order-api').filter((a) => a.includes('Read') || a.startsWith('group'))).toEqual([]);
  });

  it('refuses --check without --out, and a cluster name that is no resource name', async () => {
    expect(await run(['manifests', 'strimzi', '--check'])).toMatchObject({
      code: 2,
      stderr: 'tideline: --check needs --out DIR to compare with\n',
    });
    expect((await run(['manifests', 'strimzi', '--cluster', 'My_Kafka'])).stderr).toBe(
      'tideline: --cluster must be a Kubernetes resource name (got "My_Kafka")\n',
    );
  });
});
