import type {
  Kafka,
  LagSnapshot,
  Logger,
  PartitionLagSample,
  RecordSigner,
  RegistryCodec,
} from '@tideline/messaging';
import {
  blockedPartitionsCheck,
  createProjectionConsumer,
  type ProjectionConsumer,
} from '@tideline/messaging';
import {
  ChangeFeed,
  ensureProjectionLayout,
  PostgresProjectionStore,
  type FeedEntry,
} from '@tideline/projections';
import { Hub, type StreamEvent } from '@tideline/realtime';
import type { Pool } from 'pg';
import type { ProjectionConfig } from './config';
import { OrderQueries } from './queries';
import { applyOrderEvents, orderProjection, projectedTopics, type OrderChange } from '@tideline/read-models';

export const ORDER_CHANGED = 'order-changed';

/** Per partition: position (stored in PostgreSQL, or Kafka's commit past a transaction marker), end, lag in records and seconds. */
export type PartitionLag = PartitionLagSample;

/** The consumer's lag as it last read it: the numbers of /stats, the dashboard and tideline_consumer_lag_*. */
export type Lag = LagSnapshot;

const toStreamEvent = (entry: FeedEntry): StreamEvent => ({
  id: entry.seq,
  keys: entry.keys,
  event: ORDER_CHANGED,
  data: entry.payload,
  traceparent: (entry.payload as Partial<OrderChange>).traceparent ?? undefined,
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
  private pruneTimer: NodeJS.Timeout | undefined;
  private feedStarted = false;
  private caughtUp = false;

  constructor(
    private readonly config: ProjectionConfig,
    private readonly deps: {
      kafka: Kafka;
      codec: RegistryCodec;
      signer: RecordSigner;
      /** The projection's own connections: applying batches, the feed's live follow. */
      pool: Pool;
      /** Client reads (queries, read-your-writes, stream history), so no read load can stall the writes. */
      readPool: Pool;
      logger: Logger;
    },
  ) {
    const { pool, readPool, logger } = deps;
    this.store = new PostgresProjectionStore(pool, config.GROUP_ID, (client, batch) =>
      applyOrderEvents(client, batch),
    );
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
      ownPositions: () => this.store.positions(),
      logger,
    });
    this.feed = new ChangeFeed({
      pool,
      projection: config.GROUP_ID,
      onError: (error) => logger.warn({ err: error }, 'change feed read failed; retrying'),
    });
    // Stream history is read on the read pool (a second reader of the same feed, never started).
    const history = new ChangeFeed({ pool: readPool, projection: config.GROUP_ID });
    this.hub = new Hub({
      source: {
        replay: async (key, afterId, limit) => (await history.since(afterId, key, limit)).map(toStreamEvent),
        head: () => this.feed.head,
        oldest: () => history.oldest(),
      },
      maxBufferedBytes: config.STREAM_MAX_BUFFERED_BYTES,
      maxReplayEvents: config.STREAM_MAX_REPLAY_EVENTS,
      onError: (error) => logger.warn({ err: error }, 'stream delivery failed'),
    });
    this.queries = new OrderQueries(readPool);
    this.feed.subscribe((entries) => {
      this.hub.publish(entries.map(toStreamEvent));
      for (const entry of entries) this.wake(entry.payload as OrderChange);
    });
  }

  /** Migrates, follows the feed, joins the group. */
  async start(): Promise<void> {
    // The instance's name (GROUP_ID) keys its positions, change feed and table versions.
    const live = await ensureProjectionLayout(this.deps.pool, {
      ...orderProjection,
      name: this.config.GROUP_ID,
    });
    this.deps.logger.info(
      { schema: orderProjection.schema, version: live.version, tables: live.schema },
      'read model ready',
    );
    if (!live.ddlMatches)
      this.deps.logger.warn(
        { schema: live.schema },
        'the live tables differ from what this code creates: run tideline projection rebuild order-projection',
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
      partitions: blockedPartitionsCheck(status.blocked),
      feed: () =>
        this.feedStarted ? Promise.resolve() : Promise.reject(new Error('change feed not started')),
      database: () => this.deps.pool.query('SELECT 1'),
      caughtUp: () => {
        // Ready once the read model caught up after start (then it stays ready: an instance that
        // falls behind under load still answers, and its lag shows in /stats and the metrics).
        if (this.caughtUp) return Promise.resolve();
        const lag = this.consumer.lag();
        if (lag !== undefined && lag.total <= this.config.READY_MAX_LAG) {
          this.caughtUp = true;
          return Promise.resolve();
        }
        return Promise.reject(
          new Error(lag === undefined ? 'lag not read yet' : `catching up: ${lag.total} records behind`),
        );
      },
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

  /**
   * Per-partition lag from the stored positions and Kafka's ends, in records and seconds, as the
   * consumer last read it (every 5 s; the same numbers as tideline_consumer_lag_*). Null before
   * the first reading.
   */
  lag(): Promise<Lag | null> {
    return Promise.resolve(this.consumer.lag() ?? null);
  }
}
