import { ConfigError } from '@tideline/config';
import { allTopics } from '@tideline/contracts';
import {
  createHttpApp,
  createServiceLogger,
  registerAsyncApiRoute,
  registerHealthRoutes,
} from '@tideline/http';
import { startTelemetry, tracingSettings } from '@tideline/observability';
import {
  asyncApiDocument,
  createKafka,
  exitOnSignal,
  kafkaConnection,
  Publisher,
  RegistryCodec,
  signerFromConfig,
} from '@tideline/messaging';
import { loadProcessorConfig } from './config';
import { OrderProcessor } from './processor';

async function main(): Promise<void> {
  let config;
  let signer;
  try {
    config = loadProcessorConfig(process.env);
    signer = signerFromConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`order-processor: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createServiceLogger('order-processor', config.LOG_LEVEL);
  const telemetry = startTelemetry({ service: 'order-processor', tracing: tracingSettings(config), logger });
  const kafka = createKafka(kafkaConnection(config, 'order-processor'));
  const codec = new RegistryCodec({ registryUrl: config.SCHEMA_REGISTRY_URL });
  const publisher = new Publisher({ kafka, codec, signer, service: 'order-processor' });
  const processor = new OrderProcessor(config, { kafka, codec, signer, publisher, logger });
  const health = createHttpApp({ logger });
  registerHealthRoutes(health, { checks: () => processor.readiness() });
  registerAsyncApiRoute(health, asyncApiDocument(allTopics, { service: 'order-processor' }));
  await health.listen({ port: config.PORT, host: config.HOST });
  logger.info({ port: config.PORT }, 'health and metrics endpoints listening');
  exitOnSignal(
    async () => {
      await processor.stop(config.SHUTDOWN_TIMEOUT_MS - 1_000);
      await health.close();
      await telemetry.shutdown(); // exports the last spans
    },
    { deadlineMs: config.SHUTDOWN_TIMEOUT_MS, logger },
  );
  processor.failure().catch((error: unknown) => {
    logger.fatal({ err: error }, 'consumer stopped for good: exiting so the process is restarted');
    process.exit(1);
  });
  await processor.start();
  logger.info({ groupId: config.GROUP_ID }, 'order-processor consuming');
}

main().catch((error: unknown) => {
  process.stderr.write(`order-processor: ${(error as Error).message}\n`);
  process.exit(1);
});
