// jest globalSetup of every integration test run (see jest.preset.cjs): finds the real
// Kafka, registry and PostgreSQL, or starts them with testcontainers when Docker is
// there, or fails with what to do. Then gives the run its id (TIDELINE_TEST_RUN, inherited by
// the workers and every process they start) and notes what the stack holds before it.
import { listStack, type StackNames } from './cleanup';
import { dockerAvailable, startMissing } from './containers';
import { probeInfra, testInfra } from './infra';
import { TEST_RUN_VARIABLE, newRunId } from './names';

declare global {
  var __tidelineStopContainers: (() => Promise<void>) | undefined;
  var __tidelineStackBefore: StackNames | undefined;
}

async function findOrStartInfra(): Promise<void> {
  const infra = testInfra();
  const probe = await probeInfra(infra);
  if (probe.kafka && probe.registry && probe.postgres) return;

  const missing = [
    probe.kafka ? undefined : `Kafka (KAFKA_BROKERS=${infra.kafkaBrokers.join(',')})`,
    probe.registry ? undefined : `the schema registry (SCHEMA_REGISTRY_URL=${infra.registryUrl})`,
    probe.postgres ? undefined : `PostgreSQL (DATABASE_URL=${infra.databaseUrl})`,
  ].filter(Boolean);
  if (!(await dockerAvailable())) {
    throw new Error(
      `integration tests need real infrastructure, and nothing answers for ${missing.join(', ')}. ` +
        'Run `npm run stack:up` (or `docker compose up -d --wait`), or point those variables at a running stack.',
    );
  }
  process.stderr.write(`\nstarting ${missing.join(', ')} with testcontainers\n`);
  const started = await startMissing(probe);
  if (started.infra.kafkaBrokers) process.env['KAFKA_BROKERS'] = started.infra.kafkaBrokers.join(',');
  if (started.infra.registryUrl) process.env['SCHEMA_REGISTRY_URL'] = started.infra.registryUrl;
  if (started.infra.databaseUrl) process.env['DATABASE_URL'] = started.infra.databaseUrl;
  globalThis.__tidelineStopContainers = started.stop;
}

export default async function globalSetup(): Promise<void> {
  await findOrStartInfra();
  process.env[TEST_RUN_VARIABLE] = newRunId();
  globalThis.__tidelineStackBefore = await listStack();
}
