import type { Kafka, Logger, RecordSigner, RegistryCodec } from '@tideline/messaging';
import { createProjectionConsumer, type ProjectionConsumer } from '@tideline/messaging';
import {
  ChangeFeed,
  migrate,
  migrateRuntime,
  PostgresProjectionStore,
  type FeedEntry,
} from '@tideline/projections';
import { Hub, type StreamEvent } from '@tideline/realtime';
import type { Pool } from 'pg';
import type { ProjectionConfig } from './config';
import { readModelMigrations, SCHEMA } from './migrations';
import { OrderQueries } from './queries';
import { applyOrderEvents, projectedTopics, type OrderChange } from './read-model';

export const ORDER_CHANGED = 'order-changed';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** The next offset the projection will read (stored in PostgreSQL, or past a transaction marker). */
  position: string;
  /** The partition's end (high watermark). */
  end: string;
  lag: number;
}

export interface Lag {
  total: number;
  partitions: PartitionLag[];
  /** When the numbers were read, epoch ms. */
  at: number;
}

const toStreamEvent = (entry: FeedEntry): StreamEvent => ({
  id: entry.seq,
  keys: entry.keys,
  event: ORDER_CHANGED,
  data: entry.payload,
});

type Waiter = { eventId: string; resolve: () => void };

/**
 * The projection service without its HTTP face: migrations, the consumer that applies order
 * events with their positions in one transaction, the change feed that follows what was
 * committed (by any instance), the stream hub, and read-your-writes waiters.
 */
export class OrderProjection {
  readonly store: PostgresProjectionStore;
  readonly consumer: ProjectionConsumer;
  readonly feed: ChangeFeed;
  readonly hub: Hub;
  readonly queries: OrderQueries;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private lagCache: Promise<Lag> | undefined;
  private lagReadAt = 0;
  private pruneTimer: NodeJS.Timeout | undefined;
  private feedStarted = false;

  constructor(
    private readonly config: ProjectionConfig,
    private readonly deps: {
      kafka: Kafka;
      codec: RegistryCodec;
      signer: RecordSigner;
      pool: Pool;
      logger: Logger;
    },
  ) {
    const { pool, logger } = deps;
    this.store = new PostgresProjectionStore(pool, config.GROUP_ID, applyOrderEvents);
    this.consumer = createProjectionConsumer({
      kafka: deps.kafka,
      codec: deps.codec,
      signer: deps.signer,
      groupId: config.GROUP_ID,
      topics: projectedTopics,
      store: this.store,
      service: 'order-projection',
      maxBatchRecords: config.MAX_BATCH_RECORDS,
      partitionsConcurrently: config.PARTITIONS_CONCURRENTLY,
      sessionTimeoutMs: config.SESSION_TIMEOUT_MS,
      logger,
    });
    this.feed = new ChangeFeed({
      pool,
      projection: config.GROUP_ID,
      onError: (error) => logger.warn({ err: error }, 'change feed read failed; retrying'),
    });
    this.hub = new Hub({
      source: {
        replay: async (key, afterId, limit) =>
          (await this.feed.since(afterId, key, limit)).map(toStreamEvent),
        head: () => this.feed.head,
        oldest: () => this.feed.oldest(),
      },
      maxBufferedBytes: config.STREAM_MAX_BUFFERED_BYTES,
      onError: (error) => logger.warn({ err: error }, 'stream delivery failed'),
    });
    this.queries = new OrderQueries(pool);
    this.feed.subscribe((entries) => {
      this.hub.publish(entries.map(toStreamEvent));
      for (const entry of entries) this.wake(entry.payload as OrderChange);
    });
  }

  /** Migrates, follows the feed, joins the group. */
  async start(): Promise<void> {
    await migrateRuntime(this.deps.pool);
    const { applied, current } = await migrate(this.deps.pool, SCHEMA, readModelMigrations);
    this.deps.logger.info(
      { schema: SCHEMA, version: current, applied: applied.length },
      'read model migrated',
    );
    await this.feed.start();
    this.feedStarted = true;
    await this.consumer.start();
    const retentionMs = this.config.FEED_RETENTION_HOURS * 3_600_000;
    this.pruneTimer = setInterval(
      () => {
        this.feed
          .prune(retentionMs)
          .then((n) => n > 0 && this.deps.logger.info({ pruned: n }, 'change feed pruned'))
          .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'change feed prune failed'));
      },
      Math.min(retentionMs, 3_600_000),
    );
    this.pruneTimer.unref();
  }

  async stop(deadlineMs: number): Promise<boolean> {
    clearInterval(this.pruneTimer);
    const inTime = await this.consumer.stop(deadlineMs);
    await this.feed.stop();
    return inTime;
  }

  /** Ready: the group joined and the change feed listening. */
  readiness() {
    const status = this.consumer.status();
    return {
      consumer: () =>
        status.state !== 'running'
          ? Promise.reject(new Error(`consumer is ${status.state}`))
          : status.joined
            ? Promise.resolve()
            : Promise.reject(new Error('consumer group not joined yet')),
      feed: () =>
        this.feedStarted ? Promise.resolve() : Promise.reject(new Error('change feed not started')),
      database: () => this.deps.pool.query('SELECT 1'),
    };
  }

  /**
   * Resolves true once the order has applied `eventId` (at once if it already has), false
   * after `timeoutMs`.
   */
  async waitFor(orderId: string, eventId: string, timeoutMs: number): Promise<boolean> {
    let waiter: Waiter | undefined;
    const seen = new Promise<void>((resolve) => {
      waiter = { eventId, resolve };
    });
    const set = this.waiters.get(orderId) ?? new Set<Waiter>();
    this.waiters.set(orderId, set);
    set.add(waiter!);
    let timer: NodeJS.Timeout | undefined;
    try {
      // Registered first, then checked: an event applied in between is not missed.
      const current = await this.queries.order(orderId);
      if (current?.seenEventIds.includes(eventId)) return true;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      return await Promise.race([seen.then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
      set.delete(waiter!);
      if (set.size === 0) this.waiters.delete(orderId);
    }
  }

  private wake(change: OrderChange): void {
    const set = this.waiters.get(change.orderId);
    if (set === undefined) return;
    for (const waiter of set) if (waiter.eventId === change.eventId) waiter.resolve();
  }

  /** Per-partition lag from the stored positions and Kafka's ends; read at most once a second. */
  lag(): Promise<Lag> {
    if (this.lagCache === undefined || Date.now() - this.lagReadAt > 1_000) {
      this.lagReadAt = Date.now();
      this.lagCache = this.readLag();
      this.lagCache.catch(() => {
        this.lagCache = undefined;
      });
    }
    return this.lagCache;
  }

  private async readLag(): Promise<Lag> {
    const [progress, positions] = await Promise.all([this.consumer.progress(), this.store.positions()]);
    const stored = new Map(positions.map((p) => [`${p.topic}:${p.partition}`, BigInt(p.nextOffset)]));
    const partitions = progress.map(({ topic, partition, end, committed }) => {
      // The stored position is the truth; Kafka's commit also steps over trailing transaction markers.
      const own = stored.get(`${topic}:${partition}`) ?? 0n;
      const kafka = committed === null ? 0n : BigInt(committed);
      const position = own > kafka ? own : kafka;
      const lag = BigInt(end) > position ? Number(BigInt(end) - position) : 0;
      return { topic, partition, position: String(position), end, lag };
    });
    return { total: partitions.reduce((sum, p) => sum + p.lag, 0), partitions, at: Date.now() };
  }
}
