import {
  blockedPartitionsCheck,
  createProjectionConsumer,
  type Kafka,
  type Logger,
  type ProjectionConsumer,
  type RecordSigner,
  type RegistryCodec,
} from '@tideline/messaging';
import { ensureProjectionLayout, PostgresProjectionStore, type LiveVersion } from '@tideline/projections';
import {
  renamedSalesTopics,
  SalesQueries,
  salesProjection,
  type SalesProjectionDefinition,
} from '@tideline/read-models';
import type { Pool } from 'pg';
import { Backfill, type BackfillProgress } from './backfill';
import type { SalesProjectionConfig } from './config';

const slotOf = (topic: string, partition: number) => `${topic}:${partition}`;
const PROGRESS_LOG_MS = 10_000;
const PROGRESS_POLL_MS = 1_000;

/**
 * The sales projection service without its HTTP face: the versioned tables, the consumer that
 * applies order decisions with their positions in one transaction, and the backfill it does
 * when it starts (from the earliest offsets the first time, from its positions after that) up
 * to the topic ends seen at start. After the backfill it simply goes on: live.
 */
export class SalesProjection {
  readonly definition: SalesProjectionDefinition;
  readonly store: PostgresProjectionStore;
  readonly consumer: ProjectionConsumer;
  readonly queries: SalesQueries;
  private backfill: Backfill | undefined;
  private version: LiveVersion | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly config: SalesProjectionConfig,
    private readonly deps: {
      kafka: Kafka;
      codec: RegistryCodec;
      signer: RecordSigner;
      pool: Pool;
      logger: Logger;
    },
  ) {
    const { pool, logger } = deps;
    const definition = salesProjection({
      name: config.GROUP_ID,
      topics: renamedSalesTopics(config.SOURCE_TOPICS),
    });
    this.definition = definition;
    this.store = new PostgresProjectionStore(pool, definition.name, (client, batch) =>
      definition.apply(client, batch, definition.schema),
    );
    this.consumer = createProjectionConsumer({
      kafka: deps.kafka,
      codec: deps.codec,
      signer: deps.signer,
      groupId: config.GROUP_ID,
      topics: definition.topics,
      store: this.store,
      service: 'sales-projection',
      maxBatchRecords: config.MAX_BATCH_RECORDS,
      partitionsConcurrently: config.PARTITIONS_CONCURRENTLY,
      sessionTimeoutMs: config.SESSION_TIMEOUT_MS,
      // Lag (metrics, /stats) counted from the stored positions, as order-projection's.
      ownPositions: () => this.store.positions(),
      logger,
    });
    this.queries = new SalesQueries(pool, definition.schema);
  }

  /** Creates the tables (first start), notes where the backfill starts and ends, joins the group. */
  async start(): Promise<void> {
    const { pool, logger } = this.deps;
    this.version = await ensureProjectionLayout(pool, this.definition);
    logger.info(
      { schema: this.definition.schema, version: this.version.version, tables: this.version.schema },
      'read model in place',
    );
    if (!this.version.ddlMatches)
      logger.warn(
        { projection: this.definition.name, version: this.version.version },
        'the live tables were made by other DDL than this code has: rebuild the projection (tideline projection rebuild)',
      );
    this.backfill = await this.planBackfill();
    const planned = this.backfill.progress;
    logger.info(
      { groupId: this.config.GROUP_ID, events: planned.total, fromEarliest: planned.done === 0 },
      planned.total === 0 ? 'nothing to backfill: live' : 'backfill started',
    );
    await this.consumer.start();
    this.followBackfill();
  }

  async stop(deadlineMs: number): Promise<boolean> {
    this.stopped = true;
    clearTimeout(this.progressTimer);
    return this.consumer.stop(deadlineMs);
  }

  /** Ready: the group joined, the database answers, and (unless configured off) the backfill caught up. */
  readiness() {
    const status = this.consumer.status();
    const checks: Record<string, () => Promise<unknown>> = {
      consumer: () =>
        status.state !== 'running'
          ? Promise.reject(new Error(`consumer is ${status.state}`))
          : status.joined
            ? Promise.resolve()
            : Promise.reject(new Error('consumer group not joined yet')),
      partitions: blockedPartitionsCheck(status.blocked),
      database: () => this.deps.pool.query('SELECT 1'),
    };
    if (this.config.READY_AFTER_BACKFILL) {
      // The progress as last followed (at most a second old): no I/O per probe.
      checks['backfill'] = () => {
        const progress = this.backfill?.progress;
        if (progress === undefined) return Promise.reject(new Error('backfill not planned yet'));
        return progress.caughtUp
          ? Promise.resolve()
          : Promise.reject(new Error(`backfill at ${progress.done} of ${progress.total} events`));
      };
    }
    return checks;
  }

  /** The backfill's progress now (undefined before start). */
  async backfillProgress(): Promise<BackfillProgress | undefined> {
    const backfill = this.backfill;
    if (backfill === undefined) return undefined;
    if (backfill.progress.caughtUp) return backfill.progress;
    return backfill.update(await this.positions(), Date.now());
  }

  /** The live version of the tables (undefined before start). */
  get liveVersion(): LiveVersion | undefined {
    return this.version;
  }

  /**
   * Where each partition is: the stored position, or Kafka's committed offset when that is
   * further (it also steps over transaction markers at the end of a partition).
   */
  private async positions(): Promise<Map<string, bigint>> {
    const [stored, progress] = await Promise.all([this.store.positions(), this.consumer.progress()]);
    const positions = new Map(stored.map((p) => [slotOf(p.topic, p.partition), BigInt(p.nextOffset)]));
    for (const { topic, partition, committed } of progress) {
      if (committed === null) continue;
      const slot = slotOf(topic, partition);
      const kafka = BigInt(committed);
      if (kafka > (positions.get(slot) ?? -1n)) positions.set(slot, kafka);
    }
    return positions;
  }

  /** From the stored positions (or the earliest offsets) to the ends the topics have now. */
  private async planBackfill(): Promise<Backfill> {
    const admin = this.deps.kafka.admin();
    await admin.connect();
    try {
      const stored = new Map(
        (await this.store.positions()).map((p) => [slotOf(p.topic, p.partition), BigInt(p.nextOffset)]),
      );
      const partitions = [];
      for (const topic of this.definition.topics) {
        for (const p of await admin.fetchTopicOffsets(topic.name)) {
          const low = BigInt(p.low);
          const position = stored.get(slotOf(topic.name, p.partition)) ?? low;
          partitions.push({
            topic: topic.name,
            partition: p.partition,
            start: position > low ? position : low,
            target: BigInt(p.high),
          });
        }
      }
      return new Backfill(partitions, Date.now());
    } finally {
      await admin.disconnect();
    }
  }

  /** Logs the backfill's progress every 10 s, and once when it caught up. */
  private followBackfill(): void {
    let lastLog = Date.now();
    const tick = async () => {
      if (this.stopped) return;
      const progress = await this.backfillProgress().catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, 'backfill progress could not be read');
        return undefined;
      });
      if (progress?.caughtUp) {
        this.deps.logger.info(
          { events: progress.total, eventsPerSecond: progress.eventsPerSecond, since: progress.startedAt },
          'backfill caught up: live',
        );
        return;
      }
      if (progress !== undefined && Date.now() - lastLog >= PROGRESS_LOG_MS) {
        lastLog = Date.now();
        this.deps.logger.info(
          { done: progress.done, total: progress.total, eventsPerSecond: progress.eventsPerSecond },
          'backfill progress',
        );
      }
      if (this.stopped) return;
      this.progressTimer = setTimeout(() => void tick(), PROGRESS_POLL_MS);
      this.progressTimer.unref();
    };
    void tick();
  }
}
