import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { orderPlacedTopic } from '@tideline/contracts';
import { runCli, testInfra } from '@tideline/testing';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const tideline = path.join(repoRoot, 'apps', 'ops', 'bin', 'tideline.cjs');
const infra = testInfra();

/** The real CLI as a child process, against the test stack (`extraEnv` overrides). */
export const tl = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
  runCli(process.execPath, [tideline, ...args], {
    env: {
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: infra.registryUrl,
      DATABASE_URL: infra.databaseUrl,
      TOPIC_REPLICATION: String(infra.topicReplication),
      ...extraEnv,
    },
    cwd: repoRoot,
  });

/** A schemas/ folder with one unique topic carrying OrderPlaced, plus `extraFields` on the record. */
export function schemasDir(topicName: string, extraFields: unknown[] = [], group = 'test'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-schemas-'));
  const schema = JSON.parse(JSON.stringify(orderPlacedTopic.valueSchema)) as { fields: unknown[] };
  schema.fields.push(...extraFields);
  fs.writeFileSync(path.join(dir, 'OrderPlaced.avsc'), JSON.stringify(schema));
  fs.writeFileSync(
    path.join(dir, 'catalog.yaml'),
    `topics:\n  - { name: ${topicName}, key: orderId, value: OrderPlaced.avsc, partitions: 2, cleanup: delete, retention: 1d, owner: test, consumers: [${group}] }\n`,
  );
  return dir;
}

/** Asserts a failure answered with exactly one line on stderr and exit `code`. */
export function expectOneLineError(
  result: { code: number | null; stderr: string },
  pattern: RegExp,
  code = 1,
): void {
  expect(result.code).toBe(code);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
}
