import {
  orderCancelledTopic,
  orderPlacedTopic,
  productUpdatedTopic,
  type ProductUpdated,
} from '@tideline/contracts';
import {
  blockedPartitionsCheck,
  createConsumer,
  createTable,
  subscribe,
  type Kafka,
  type Logger,
  type Publisher,
  type RecordSigner,
  type RegistryCodec,
  type Table,
  type TidelineConsumer,
} from '@tideline/messaging';
import type { ProcessorConfig } from './config';
import { createHandlers } from './decide';

export interface ProcessorDeps {
  kafka: Kafka;
  codec: RegistryCodec;
  signer: RecordSigner;
  publisher: Publisher;
  logger: Logger;
}

/** The catalog table, then the consumer group once the table has caught up. */
export class OrderProcessor {
  readonly catalog: Table<ProductUpdated>;
  readonly consumer: TidelineConsumer;
  private stopped = false;

  constructor(
    config: ProcessorConfig,
    private readonly deps: ProcessorDeps,
  ) {
    const { kafka, codec, signer, publisher, logger } = deps;
    this.catalog = createTable({
      kafka,
      codec,
      signer,
      topic: productUpdatedTopic,
      // Its group is `<GROUP_ID>.table.…`: what a processor group owns shares its prefix.
      service: config.GROUP_ID,
      logger,
    });
    const handlers = createHandlers(this.catalog, { maxTotalCents: config.MAX_ORDER_TOTAL_CENTS }, logger);
    this.consumer = createConsumer({
      kafka,
      codec,
      signer,
      publisher,
      logger,
      service: 'order-processor',
      groupId: config.GROUP_ID,
      transactional: true,
      transactionTimeoutMs: config.TRANSACTION_TIMEOUT_MS,
      sessionTimeoutMs: config.SESSION_TIMEOUT_MS,
      retry: { delaysMs: config.RETRY_DELAYS_MS },
      partitionsConcurrently: config.PARTITIONS_CONCURRENTLY,
      subscriptions: [
        subscribe(orderPlacedTopic, (order, record) => handlers.placed(order, record)),
        subscribe(orderCancelledTopic, (cancellation, record) => handlers.cancelled(cancellation, record)),
      ],
    });
  }

  /** Resolves once the group is consuming; orders wait until the catalog has caught up. */
  async start(): Promise<void> {
    await this.catalog.start();
    await this.catalog.whenReady();
    if (this.stopped) return;
    await this.consumer.start();
  }

  /** Rejects when the consumer stopped for good (an error kafkajs does not restart from). */
  failure(): Promise<never> {
    return this.consumer.failure();
  }

  /** /readyz checks: the catalog caught up, the group consuming. */
  readiness() {
    const caughtUp = this.catalog.ready();
    const state = this.consumer.status().state;
    return {
      catalog: () =>
        caughtUp ? Promise.resolve() : Promise.reject(new Error('catalog table still catching up')),
      consumer: () =>
        state === 'running' ? Promise.resolve() : Promise.reject(new Error(`consumer is ${state}`)),
      partitions: blockedPartitionsCheck(this.consumer.status().blocked),
    };
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    await this.consumer.stop(deadlineMs);
    await this.catalog.stop();
    await this.deps.publisher.close();
  }
}
