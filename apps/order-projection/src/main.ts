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
import { loadProjectionConfig, type ProjectionConfig } from './config';
import { OrderProjection } from './projection';

async function main(config: ProjectionConfig): Promise<void> {
  const logger = createServiceLogger('order-projection', config.LOG_LEVEL);
  const telemetry = startTelemetry({ service: 'order-projection', tracing: tracingSettings(config), logger });
  const kafka = createKafka(kafkaConnection(config, 'order-projection'));
  const codec = new RegistryCodec({ registryUrl: config.SCHEMA_REGISTRY_URL });
  const signer = signerFromConfig(config);
  const pool = createDatabasePool(config, {
    max: config.DATABASE_POOL_SIZE,
    onIdleError: (error) => logger.warn({ err: error }, 'idle PostgreSQL connection failed'),
  });
  // Named apart in pg_stat_activity (`<name>-reads`), so an operator sees which pool holds what.
  const readPool = createDatabasePool(
    { ...config, DATABASE_APPLICATION_NAME: `${config.DATABASE_APPLICATION_NAME.slice(0, 57)}-reads` },
    {
      max: config.DATABASE_READ_POOL_SIZE,
      onIdleError: (error) => logger.warn({ err: error }, 'idle PostgreSQL read connection failed'),
    },
  );
  const projection = new OrderProjection(config, { kafka, codec, signer, pool, readPool, logger });
  const app = await buildApp({
    projection,
    logger,
    maxWaitMs: config.MAX_WAIT_MS,
    streamOrigins: { allowed: config.STREAM_ALLOWED_ORIGINS },
    apiKeys: config.API_KEYS,
    streamLimits: {
      perInstance: config.STREAM_MAX_CONNECTIONS,
      perClient: config.STREAM_MAX_CONNECTIONS_PER_CLIENT,
    },
  });

  exitOnSignal(
    async () => {
      await app.close(); // ends streams and WebSockets; requests in flight finish
      await projection.stop(config.SHUTDOWN_TIMEOUT_MS - 2_000);
      await Promise.all([pool.end(), readPool.end()]);
      await telemetry.shutdown(); // exports the last spans
    },
    { logger, deadlineMs: config.SHUTDOWN_TIMEOUT_MS },
  );
  await app.listen({ port: config.PORT, host: config.HOST });
  if (config.API_KEYS.length === 0)
    logger.warn(
      { host: config.HOST, port: config.PORT },
      'API_KEYS is empty: orders, customers, streams and /stats are open to anyone who reaches this port; set API_KEYS before exposing it',
    );
  projection.consumer.failure().catch((error: unknown) => {
    logger.fatal({ err: error }, 'consumer stopped for good: exiting so the process is restarted');
    process.exit(1);
  });
  await projection.start();
  logger.info({ groupId: config.GROUP_ID }, 'order-projection applying order events');
}

let config: ProjectionConfig;
try {
  config = loadProjectionConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`order-projection: ${error.message}\n`);
  process.exit(1);
}
main(config).catch((error: unknown) => {
  process.stderr.write(
    `order-projection: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
