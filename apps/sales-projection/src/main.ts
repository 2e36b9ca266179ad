import { ConfigError } from '@tideline/config';
import { createServiceLogger } from '@tideline/http';
import { startTelemetry, tracingSettings } from '@tideline/observability';
import {
  createKafka,
  exitOnSignal,
  kafkaConnection,
  RegistryCodec,
  signerFromConfig,
} from '@tideline/messaging';
import { createDatabasePool } from '@tideline/projections';
import { buildApp } from './app';
import { loadSalesProjectionConfig, type SalesProjectionConfig } from './config';
import { SalesProjection } from './projection';

async function main(config: SalesProjectionConfig): Promise<void> {
  const logger = createServiceLogger('sales-projection', config.LOG_LEVEL);
  const telemetry = startTelemetry({ service: 'sales-projection', tracing: tracingSettings(config), logger });
  const kafka = createKafka(kafkaConnection(config, 'sales-projection'));
  const codec = new RegistryCodec({ registryUrl: config.SCHEMA_REGISTRY_URL });
  const signer = signerFromConfig(config);
  const pool = createDatabasePool(config, {
    max: config.DATABASE_POOL_SIZE,
    onIdleError: (error) => logger.warn({ err: error }, 'idle PostgreSQL connection failed'),
  });
  const projection = new SalesProjection(config, { kafka, codec, signer, pool, logger });
  const app = await buildApp({ projection, logger });

  exitOnSignal(
    async () => {
      await app.close(); // requests in flight finish
      await projection.stop(config.SHUTDOWN_TIMEOUT_MS - 2_000);
      await pool.end();
      await telemetry.shutdown(); // exports the last spans
    },
    { logger, deadlineMs: config.SHUTDOWN_TIMEOUT_MS },
  );
  // Listening first: /healthz answers and /readyz says what the backfill has left.
  await app.listen({ port: config.PORT, host: config.HOST });
  projection.consumer.failure().catch((error: unknown) => {
    logger.fatal({ err: error }, 'consumer stopped for good: exiting so the process is restarted');
    process.exit(1);
  });
  await projection.start();
  logger.info(
    { groupId: config.GROUP_ID, topics: projection.definition.topics.map((t) => t.name) },
    'sales-projection applying order decisions',
  );
}

let config: SalesProjectionConfig;
try {
  config = loadSalesProjectionConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`sales-projection: ${error.message}\n`);
  process.exit(1);
}
main(config).catch((error: unknown) => {
  process.stderr.write(
    `sales-projection: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
