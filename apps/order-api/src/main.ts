import { ConfigError } from '@tideline/config';
import { createServiceLogger } from '@tideline/http';
import { startTelemetry, tracingSettings } from '@tideline/observability';
import {
  createKafka,
  exitOnSignal,
  kafkaConnection,
  Publisher,
  RegistryCodec,
  signerFromConfig,
} from '@tideline/messaging';
import { buildApp } from './app';
import { idempotencyLeaseMs, loadOrderApiConfig, producedTopics, type OrderApiConfig } from './config';
import { createIdempotencyPool, PgIdempotencyStore } from './idempotency-store';

const HOUR_MS = 3_600_000;
const SHUTDOWN_DEADLINE_MS = 10_000;

async function main(config: OrderApiConfig): Promise<void> {
  const logger = createServiceLogger('order-api', config.LOG_LEVEL);
  const telemetry = startTelemetry({ service: 'order-api', tracing: tracingSettings(config), logger });
  if (config.AUTH_DISABLED)
    logger.warn({}, 'AUTH_DISABLED=true: the write endpoints accept requests without an API key');

  const kafka = createKafka(kafkaConnection(config, 'order-api'));
  const codec = new RegistryCodec({ registryUrl: config.SCHEMA_REGISTRY_URL });
  const signer = signerFromConfig(config);
  const publisher = new Publisher({
    kafka,
    codec,
    signer,
    service: 'order-api',
    timeoutMs: config.PUBLISH_TIMEOUT_MS,
  });
  const pool = createIdempotencyPool(config.DATABASE_URL, logger);
  const idempotency = new PgIdempotencyStore({
    pool,
    ttlMs: config.IDEMPOTENCY_TTL_HOURS * HOUR_MS,
    leaseMs: idempotencyLeaseMs(config),
    logger,
  });

  const app = await buildApp(config, {
    publisher,
    idempotency,
    logger,
    readiness: {
      kafka: () => publisher.connect(),
      registry: () => Promise.all(producedTopics.map((topic) => codec.schemaId(topic))),
      database: () => idempotency.ping(),
    },
  });

  // Start without waiting for Kafka or PostgreSQL: /readyz answers 503 until they are there.
  publisher.connect().catch((error: unknown) => logger.warn({ err: error }, 'Kafka is not reachable yet'));
  idempotency
    .init()
    .catch((error: unknown) => logger.warn({ err: error }, 'PostgreSQL is not reachable yet'));

  exitOnSignal(
    async () => {
      await app.close(); // stops accepting, lets requests in flight finish
      await publisher.close();
      await pool.end();
      await telemetry.shutdown(); // exports the last spans
    },
    { logger, deadlineMs: SHUTDOWN_DEADLINE_MS },
  );
  await app.listen({ port: config.PORT, host: config.HOST });
}

let config: OrderApiConfig;
try {
  config = loadOrderApiConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`order-api: ${error.message}\n`);
  process.exit(1);
}
main(config).catch((error: unknown) => {
  process.stderr.write(
    `order-api: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
