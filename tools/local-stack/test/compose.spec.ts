// Offline validation of the root docker-compose.yml: CI has no Docker engine, so the file is
// checked statically with dclint (Compose schema + lint rules) and with checkCompose() (our
// own contract), and its Kafka settings are compared with the no-Docker local stack.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import {
  checkCompose,
  kafkaEnvName,
  kafkaSettingMismatches,
  parseImage,
  parseProperties,
} from './compose-check';

const repoRoot = path.resolve(__dirname, '../../..');
const composeFile = path.join(repoRoot, 'docker-compose.yml');
const brokenFixture = path.join(__dirname, 'fixtures', 'broken-compose.yml');
const dclintConfig = path.join(repoRoot, 'tools', 'local-stack', 'dclint.config.json');
const serverProperties = path.join(repoRoot, 'tools', 'local-stack', 'kafka', 'server.properties');

// dclint rules we consciously switch off, each with the reason. None so far: the compose file
// follows every rule dclint 3.1 ships, including the style (ordering, quoting) rules.
const DISABLED_DCLINT_RULES: Readonly<Record<string, string>> = {};

// Broker settings the local stack and the compose file must agree on (named by the issue).
const REQUIRED_KAFKA_KEYS = [
  'auto.create.topics.enable',
  'offsets.topic.replication.factor',
  'transaction.state.log.replication.factor',
  'transaction.state.log.min.isr',
  'group.initial.rebalance.delay.ms',
];

// server.properties keys that differ in the container on purpose; every other key must match.
const KAFKA_KEYS_DIFFERENT_BY_DESIGN: Readonly<Record<string, string>> = {
  listeners: 'the container binds 0.0.0.0 and adds the INTERNAL listener for other containers',
  'advertised.listeners': 'the container also advertises kafka:29092 to other containers',
  'listener.security.protocol.map': 'the container maps the extra INTERNAL listener',
  'inter.broker.listener.name': 'the container uses its INTERNAL listener between brokers',
  'controller.quorum.bootstrap.servers':
    'the image formats storage without --standalone, so the container uses the static KAFKA_CONTROLLER_QUORUM_VOTERS',
};

interface DclintMessage {
  rule: string;
  type: string;
  message: string;
  line: number;
}
interface DclintFileResult {
  filePath: string;
  messages: DclintMessage[];
  errorCount: number;
  warningCount: number;
}

const dclintBin = (() => {
  const packageJson = require.resolve('dclint/package.json');
  const { bin } = JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { bin: { dclint: string } };
  return path.join(path.dirname(packageJson), bin.dclint);
})();

function runDclint(file: string) {
  const result = spawnSync(
    process.execPath,
    [dclintBin, file, '-c', dclintConfig, '--max-warnings', '0', '--formatter', 'json'],
    { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
  );
  if (result.error) throw result.error;
  let report: DclintFileResult[];
  try {
    report = JSON.parse(result.stdout) as DclintFileResult[];
  } catch {
    throw new Error(
      `dclint printed no JSON report (exit ${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  const messages = report.flatMap((file) => file.messages);
  const describe = messages.map((m) => `  ${m.type} ${m.rule} (line ${m.line}): ${m.message}`).join('\n');
  return { status: result.status, stderr: result.stderr, report, messages, describe };
}

function loadYaml(file: string): unknown {
  // merge: Compose resolves `<<: *anchor` merge keys, so the checks see what Compose sees.
  return parse(fs.readFileSync(file, 'utf8'), { merge: true });
}

describe('docker-compose.yml (offline validation)', () => {
  describe('dclint', () => {
    it('reports no errors and no warnings with the project config', () => {
      const run = runDclint(composeFile);
      expect(run.describe).toBe('');
      expect(run.report).toHaveLength(1);
      expect(run.report[0]).toMatchObject({ errorCount: 0, warningCount: 0 });
      expect(run.status).toBe(0);
    }, 60_000);

    it('fails on the broken fixture, through its lint rules', () => {
      const run = runDclint(brokenFixture);
      expect(run.status).not.toBe(0);
      const rules = new Set(run.messages.map((m) => m.rule));
      expect(rules).toContain('service-image-require-explicit-tag');
      expect(rules).toContain('no-unbound-port-interfaces');
      expect(rules).toContain('require-project-name-field');
    }, 60_000);

    it('fails on a service key the Compose schema does not know', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-compose-'));
      try {
        const file = path.join(dir, 'docker-compose.yml');
        const valid = fs.readFileSync(composeFile, 'utf8');
        // "helthcheck" instead of "healthcheck" on the postgres service.
        const typo = valid.replace(/(\n {2}postgres:\n(?: {4}.*\n|\n)*? {4})healthcheck:/, '$1helthcheck:');
        expect(typo).not.toBe(valid);
        fs.writeFileSync(file, typo);
        const run = runDclint(file);
        expect(run.status).not.toBe(0);
        expect(run.messages.map((m) => m.rule)).toContain('invalid-schema');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);

    it('config enables every rule it lists, except the documented ones', () => {
      const config = JSON.parse(fs.readFileSync(dclintConfig, 'utf8')) as {
        rules: Record<string, number | [number, unknown]>;
      };
      const disabled = Object.entries(config.rules)
        .filter(([, level]) => (Array.isArray(level) ? level[0] : level) === 0)
        .map(([rule]) => rule)
        .sort();
      expect(disabled).toEqual(Object.keys(DISABLED_DCLINT_RULES).sort());
      expect(Object.keys(config.rules).length).toBeGreaterThanOrEqual(15);
    });
  });

  describe('checkCompose', () => {
    it('finds no problems in docker-compose.yml', () => {
      expect(checkCompose(loadYaml(composeFile))).toEqual([]);
    });

    it('reports the problems of the broken fixture', () => {
      const problems = checkCompose(loadYaml(brokenFixture));
      expect(problems).toEqual(
        expect.arrayContaining([
          'top-level "name" must be "tideline"',
          'service "postgres" is missing',
          'service "kafka" has no healthcheck',
          'service "kafka" image "apache/kafka:latest" uses "latest"',
          'service "registry" image "apicurio/apicurio-registry" has no explicit tag',
          'kafka: KAFKA_AUTO_CREATE_TOPICS_ENABLE must be "false"',
          'registry: depends_on kafka must use condition "service_healthy"',
        ]),
      );
      expect(problems.some((p) => p.startsWith('service "kafka" publishes [:9092:9092]'))).toBe(true);
    });

    it('reports a port published beyond 127.0.0.1 and an extra published port', () => {
      const doc = loadYaml(composeFile) as { services: Record<string, Record<string, unknown>> };
      doc.services['postgres'] = { ...doc.services['postgres'], ports: ['5432:5432'] };
      doc.services['kafka'] = {
        ...doc.services['kafka'],
        ports: ['127.0.0.1:9092:9092', '127.0.0.1:9093:9093'],
      };
      const problems = checkCompose(doc);
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/^service "kafka" publishes .*9093/);
      expect(problems[1]).toMatch(
        /^service "postgres" publishes \[:5432:5432\].*bind host ports to 127\.0\.0\.1/,
      );
    });

    it('wants a healthcheck on every long-running service, not on the one-shot init', () => {
      const doc = loadYaml(composeFile) as { services: Record<string, Record<string, unknown>> };
      expect(doc.services['init']?.['healthcheck']).toBeUndefined();
      delete doc.services['order-api']!['healthcheck'];
      expect(checkCompose(doc)).toEqual(['service "order-api" has no healthcheck']);
    });

    it('reads an image tag from a variable with a default, as Compose does without .env', () => {
      expect(parseImage('tideline/order-api:${TIDELINE_VERSION:-0.1.0}')).toEqual({
        repository: 'tideline/order-api',
        tag: '0.1.0',
      });
    });
  });

  describe('consistency with tools/local-stack/kafka/server.properties', () => {
    const properties = parseProperties(fs.readFileSync(serverProperties, 'utf8'));

    it('maps property names to the apache/kafka image environment names', () => {
      expect(kafkaEnvName('transaction.state.log.min.isr')).toBe('KAFKA_TRANSACTION_STATE_LOG_MIN_ISR');
      expect(kafkaEnvName('some_key.with-dash')).toBe('KAFKA_SOME__KEY_WITH___DASH');
    });

    it('has the same values for the settings named by the contract', () => {
      for (const key of REQUIRED_KAFKA_KEYS) expect(properties.has(key)).toBe(true);
      expect(kafkaSettingMismatches(loadYaml(composeFile), properties, REQUIRED_KAFKA_KEYS)).toEqual([]);
    });

    it('has the same values for every other broker setting too', () => {
      const keys = [...properties.keys()].filter((key) => !(key in KAFKA_KEYS_DIFFERENT_BY_DESIGN));
      expect(keys).toEqual(expect.arrayContaining(['num.partitions', 'default.replication.factor']));
      expect(kafkaSettingMismatches(loadYaml(composeFile), properties, keys)).toEqual([]);
    });

    it('lists only keys that server.properties really has as different by design', () => {
      for (const key of Object.keys(KAFKA_KEYS_DIFFERENT_BY_DESIGN)) expect(properties.has(key)).toBe(true);
    });

    it('reports a drifted setting', () => {
      expect(kafkaSettingMismatches(loadYaml(brokenFixture), properties, REQUIRED_KAFKA_KEYS)).toEqual([
        'auto.create.topics.enable=false in server.properties, but KAFKA_AUTO_CREATE_TOPICS_ENABLE=true in compose',
        'offsets.topic.replication.factor=1 in server.properties, but KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=undefined in compose',
        'transaction.state.log.replication.factor=1 in server.properties, but KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=undefined in compose',
        'transaction.state.log.min.isr=1 in server.properties, but KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=undefined in compose',
        'group.initial.rebalance.delay.ms=0 in server.properties, but KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=undefined in compose',
      ]);
    });
  });
});
