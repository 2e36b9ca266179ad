import { ROOT_CONTEXT, context, trace, type Span } from '@opentelemetry/api';
import type { TopicDescriptor } from '@tideline/contracts';
import { metricsEnabled, tracingEnabled, withLogFields } from '@tideline/observability';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Kafka } from './kafka';
import type { RegistryCodec } from './codec';
import { isMessagingError, kafkaUnavailable } from './errors';
import { createGroupConsumer, forwardingPublisher, settlesWithin, watchGroup } from './group-lifecycle';
import { PartitionBlocks, type BlockedPartition } from './blocked-partitions';
import { describeFailure, failureHeaders, forwardedHeaders } from './failure';
import { deadLetterTopicName } from './group-topics';
import { HEADER, identityOf, readHeaders, type EventIdentity, type Headers } from './headers';
import { decodeInboundCached, keyText, readInbound, type ConsumedRecord } from './inbound';
import {
  ATTR,
  SpanKind,
  consumedBy,
  contextOf,
  countDeadLetter,
  failSpan,
  processAttributes,
  projectionApplyDuration,
  projectionBatchRecords,
  tracer,
} from './instrumentation';
import { LagMonitor, type LagSnapshot, type OwnPositions } from './lag-monitor';
import { commitIdleGroupOffsets } from './offsets-admin';
import { silentLogger, type Logger } from './log';
import { Publisher } from './publisher';
import type { RecordSigner } from './signing';
import { ensureGroupTopics } from './topic-admin';

/** One decoded, verified record as a projection applies it. */
export interface ProjectionRecord<Value = unknown> extends EventIdentity {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka timestamp, ms since the epoch. */
  timestamp: number;
  key: string | null;
  /** null for a tombstone. */
  value: Value | null;
  headers: Headers;
}

/**
 * Records of one partition to apply together, with the stored position they move:
 * the store must apply them and move the position from `from` to `to` atomically.
 * `records` may be empty (every record in the range was dead-lettered): then only the
 * position moves.
 */
export interface ProjectionBatch {
  topic: string;
  partition: number;
  records: ProjectionRecord[];
  /** The next offset to read as the store had it before this batch. */
  from: string;
  /** The next offset to read after this batch. */
  to: string;
}

/** Where a projection keeps its read model and the positions it has read up to. */
export interface ProjectionStore {
  /** The next offset to read of a partition; undefined when nothing was ever applied. */
  position(topic: string, partition: number): Promise<string | undefined>;
  /**
   * Applies the batch and stores `to` as the partition's position in one transaction.
   * Resolves false, changing nothing, when the stored position was not `from` (another
   * instance moved it: this one no longer owns the partition).
   */
  apply(batch: ProjectionBatch): Promise<boolean>;
  /** Whether an error from `apply` says the store is unavailable (retry later) rather than a record is bad. */
  isTransient(error: unknown): boolean;
}

export interface ProjectionConsumerOptions {
  kafka: Kafka;
  codec: RegistryCodec;
  signer: RecordSigner;
  groupId: string;
  topics: readonly TopicDescriptor<unknown>[];
  store: ProjectionStore;
  /** Writes poison records to `<group>.dlt`; one is created (and closed) if absent. */
  publisher?: Publisher;
  service?: string;
  /** Most records applied in one store transaction. Default 500. */
  maxBatchRecords?: number;
  /** Partitions applied at the same time. Default 1 (store transactions do not contend). */
  partitionsConcurrently?: number;
  /** Create the group's dead-letter topic when missing. Default true. */
  provisionTopics?: boolean;
  /**
   * Whether poison records go to `<group>.dlt` (default). A rebuild sets false: the live
   * projection dead-lettered them already, so they are skipped and counted (`poisonSkipped`).
   */
  deadLetters?: boolean;
  /**
   * Bounded mode (rebuilds): records at or past a partition's limit (`setLimits`) are not
   * applied and the partition pauses there until its limit is raised. Partitions without a
   * limit apply nothing.
   */
  bounded?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** How often the group's lag is read (metrics, `lag()`). Default 5 s; 0: only at start. */
  lagIntervalMs?: number;
  /**
   * Every position the store holds (e.g. PostgresProjectionStore's `positions()`): lag is then
   * counted from them, which lead Kafka's commits by up to a second. Without: Kafka's commits.
   */
  ownPositions?: OwnPositions;
  logger?: Logger;
}

export type ProjectionConsumerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';

export interface ProjectionConsumerStatus {
  state: ProjectionConsumerState;
  groupId: string;
  /** Partitions assigned at the last rebalance, by topic. */
  assignments: Record<string, number[]>;
  /** Whether the group was joined at least once since start. */
  joined: boolean;
  applied: number;
  skipped: number;
  deadLettered: number;
  /** Poison records skipped without a dead letter (`deadLetters: false`). */
  poisonSkipped: number;
  batches: number;
  /** Epoch ms of the last applied batch, or null. */
  lastAppliedAt: number | null;
  /** Partitions that cannot move on because Kafka rejects their dead letters (not ready while any). */
  blocked: BlockedPartition[];
}

const TRANSIENT_BACKOFF_MS = 1_000;

/**
 * A consumer group whose positions live in the projection's own store, not in Kafka: each
 * batch's effects and its position are written in one store transaction, so a redelivered
 * record is skipped, never applied twice. On every assignment it reads the stored position
 * and seeks there (also backwards, after the read model was reset). A record that cannot be
 * decoded or applied goes to `<group>.dlt` with its reason and the partition moves on.
 * Offsets are also committed to Kafka (after the store has them) so lag tools see progress.
 */
export class ProjectionConsumer {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly lagMonitor: LagMonitor;
  private readonly publisher: Publisher;
  private readonly ownsPublisher: boolean;
  private readonly logger: Logger;
  private readonly byName = new Map<string, TopicDescriptor<unknown>>();
  private readonly deadLetterTopic: string;
  /** The store's position per `topic:partition`, as this instance last read or wrote it. */
  private readonly positions = new Map<string, bigint>();
  /** Partitions whose first batch since assignment was checked against the store's position. */
  private readonly synced = new Set<string>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  /**
   * Per `topic:partition`, the offsets whose dead letter Kafka acknowledged while the position
   * has not passed them yet: a batch run again after a transient failure does not send them twice.
   */
  private readonly deadLettered = new Map<string, Set<string>>();
  private state: ProjectionConsumerState = 'idle';
  private assignments: Record<string, number[]> = {};
  private joined = false;
  private counts = { applied: 0, skipped: 0, deadLettered: 0, poisonSkipped: 0, batches: 0 };
  /** Bounded mode: the offset each `topic:partition` stops before, and the partitions paused at it. */
  private readonly limits = new Map<string, bigint>();
  private readonly pausedAtLimit = new Set<string>();
  private lastAppliedAt: number | null = null;
  private readonly blocks: PartitionBlocks;
  private crashed: ((error: Error) => void) | undefined;

  constructor(private readonly options: ProjectionConsumerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.blocks = new PartitionBlocks(options.groupId, this.logger);
    for (const topic of options.topics) this.byName.set(topic.name, topic);
    this.deadLetterTopic = deadLetterTopicName(options.groupId);
    this.consumer = createGroupConsumer(options.kafka, options);
    this.admin = options.kafka.admin();
    this.lagMonitor = new LagMonitor({
      admin: this.admin,
      groupId: options.groupId,
      topics: [...this.byName.keys()],
      ownPositions: options.ownPositions,
      intervalMs: options.lagIntervalMs,
      logger: this.logger,
    });
    const forwarding = forwardingPublisher(options);
    this.publisher = forwarding.publisher;
    this.ownsPublisher = forwarding.owned;
    watchGroup(this.consumer, {
      groupId: options.groupId,
      logger: this.logger,
      onJoin: (assignments) => {
        // Another instance may have moved the stored positions while this one did not own them.
        this.positions.clear();
        this.synced.clear();
        for (const slot of this.deadLettered.keys()) {
          const at = slot.lastIndexOf(':');
          if (!assignments[slot.slice(0, at)]?.includes(Number(slot.slice(at + 1))))
            this.deadLettered.delete(slot);
        }
        this.assignments = assignments;
        this.joined = true;
      },
      onFatal: (error) => {
        this.state = 'crashed';
        this.crashed?.(error);
      },
    });
  }

  status(): ProjectionConsumerStatus {
    return {
      state: this.state,
      groupId: this.options.groupId,
      assignments: this.assignments,
      joined: this.joined,
      ...this.counts,
      lastAppliedAt: this.lastAppliedAt,
      blocked: this.blocks.list(),
    };
  }

  /**
   * Bounded mode: sets where each partition (`topic:partition`) stops (exclusive); resumes
   * partitions paused below their new limit. A limit never moves a partition backwards.
   */
  setLimits(limits: ReadonlyMap<string, bigint>): void {
    for (const [slot, limit] of limits) this.limits.set(slot, limit);
    for (const slot of [...this.pausedAtLimit]) {
      const position = this.positions.get(slot);
      if (position !== undefined && (this.limits.get(slot) ?? 0n) <= position) continue;
      this.pausedAtLimit.delete(slot);
      const at = slot.lastIndexOf(':');
      this.consumer.resume([{ topic: slot.slice(0, at), partitions: [Number(slot.slice(at + 1))] }]);
    }
  }

  /** The position this instance last applied up to, per `topic:partition` (bounded mode reads it). */
  appliedPositions(): ReadonlyMap<string, bigint> {
    return new Map(this.positions);
  }

  /** Rejects when the consumer stops for good on an error kafkajs does not restart from. */
  failure(): Promise<never> {
    return new Promise<never>((_, reject) => {
      this.crashed = reject;
    });
  }

  /**
   * Per partition of the subscribed topics: Kafka's end (high watermark) and the group's
   * committed offset there (best effort, behind the store's position by at most a second,
   * but past transaction markers, which the store's position does not cover when no record follows them).
   */
  async progress(): Promise<{ topic: string; partition: number; end: string; committed: string | null }[]> {
    const topics = [...this.byName.keys()];
    const [ends, committed] = await Promise.all([
      Promise.all(
        topics.map(async (topic) => ({ topic, offsets: await this.admin.fetchTopicOffsets(topic) })),
      ),
      this.admin.fetchOffsets({ groupId: this.options.groupId, topics }),
    ]);
    const commits = new Map<string, string>();
    for (const { topic, partitions } of committed)
      for (const p of partitions) if (p.offset !== '-1') commits.set(`${topic}:${p.partition}`, p.offset);
    return ends.flatMap(({ topic, offsets }) =>
      offsets.map((p) => ({
        topic,
        partition: p.partition,
        end: p.high,
        committed: commits.get(`${topic}:${p.partition}`) ?? null,
      })),
    );
  }

  /** The group's lag as last read (every `lagIntervalMs`), from the store's positions: records and seconds. */
  lag(): LagSnapshot | undefined {
    return this.lagMonitor.latest();
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`consumer ${this.options.groupId} was already started`);
    this.state = 'starting';
    try {
      await this.admin.connect();
      if (this.options.provisionTopics ?? true) {
        await ensureGroupTopics(this.admin, this.options.groupId, this.options.topics, { delaysMs: [] });
      }
      await this.lagMonitor.start();
      // Best effort: without it the first batch of each partition still seeks to the store.
      await this.commitStoredPositions().catch((error: unknown) =>
        this.logger.warn(
          { groupId: this.options.groupId, error: (error as Error).message },
          'stored positions not committed before start; the first fetch seeks to them',
        ),
      );
      await this.publisher.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [...this.byName.keys()], fromBeginning: true });
      await this.consumer.run({
        autoCommit: true,
        autoCommitInterval: 1_000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConcurrently ?? 1,
        eachBatch: (payload) => this.handleBatch(payload),
      });
    } catch (error) {
      this.state = 'crashed';
      await this.disconnectQuietly();
      throw kafkaUnavailable(error);
    }
    this.state = 'running';
  }

  /** Stops after the batch in flight, leaves the group. Resolves false when that took longer than `deadlineMs`. */
  async stop(deadlineMs = 10_000): Promise<boolean> {
    if (this.state === 'stopped' || this.state === 'stopping') return true;
    this.state = 'stopping';
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
    const inTime = await settlesWithin(
      this.consumer.stop().then(() => this.disconnectQuietly()),
      deadlineMs,
    );
    this.state = 'stopped';
    this.logger.info({ groupId: this.options.groupId, inTime }, 'consumer stopped');
    return inTime;
  }

  private async disconnectQuietly(): Promise<void> {
    this.lagMonitor.stop();
    await this.consumer.disconnect().catch(() => undefined);
    if (this.ownsPublisher) await this.publisher.close().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  /**
   * The first fetch of a partition starts at the group's committed offset (the earliest record
   * when there is none) and only then seeks to the store's position: a new group would fetch a
   * topic's whole history first. While no instance is in the group, commit the store's positions
   * as its offsets, so the first fetch starts there. (With instances running, their commits stand.)
   */
  private async commitStoredPositions(): Promise<void> {
    const { groupId } = this.options;
    const [group] = (await this.admin.describeGroups([groupId])).groups;
    if (group !== undefined && group.state !== 'Empty' && group.state !== 'Dead') return;
    const offsets: { topic: string; partition: number; offset: string }[] = [];
    for (const topic of this.byName.keys()) {
      for (const { partition } of await this.admin.fetchTopicOffsets(topic)) {
        const stored = await this.options.store.position(topic, partition);
        if (stored !== undefined) offsets.push({ topic, partition, offset: stored });
      }
    }
    // An instance that joined meanwhile makes this fail: then its offsets stand.
    await commitIdleGroupOffsets(this.options.kafka, this.admin, groupId, offsets).catch(() => undefined);
  }

  /** The stored position, or the partition's first offset when nothing was applied yet. */
  private async storedPosition(topic: string, partition: number): Promise<bigint> {
    const slot = `${topic}:${partition}`;
    const known = this.positions.get(slot);
    if (known !== undefined) return known;
    const stored = await this.options.store.position(topic, partition);
    const position = stored === undefined ? await this.lowWatermark(topic, partition) : BigInt(stored);
    this.positions.set(slot, position);
    return position;
  }

  private async lowWatermark(topic: string, partition: number): Promise<bigint> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return BigInt(offsets.find((p) => p.partition === partition)?.low ?? '0');
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const first = batch.messages[0];
    if (first === undefined || !payload.isRunning() || payload.isStale()) return;
    const slot = `${topic}:${partition}`;
    let position = await this.storedPosition(topic, partition);
    if (!this.synced.has(slot)) {
      // The first batch of a partition since it was assigned starts at Kafka's committed offset,
      // which may be behind the store (commits are best effort) or ahead of it (a reset read
      // model). Continue from the store's position, unless retention already deleted those
      // records (then they are gone: say so, go on).
      this.synced.add(slot);
      const fetchedFrom = BigInt(batch.firstOffset() ?? first.offset);
      if (fetchedFrom !== position) {
        const low = await this.lowWatermark(topic, partition);
        if (position < low) {
          this.logger.warn(
            {
              groupId: this.options.groupId,
              topic,
              partition,
              stored: String(position),
              earliest: String(low),
            },
            'records deleted by retention were never projected',
          );
          position = low;
          this.positions.set(slot, low);
        }
      }
      if (fetchedFrom !== position) {
        this.logger.info(
          {
            groupId: this.options.groupId,
            topic,
            partition,
            from: String(fetchedFrom),
            to: String(position),
          },
          'seeking to the stored position',
        );
        this.consumer.seek({ topic, partition, offset: String(position) });
        return;
      }
    }
    let pending = batch.messages.filter((message) => BigInt(message.offset) >= position);
    this.counts.skipped += batch.messages.length - pending.length;
    // Bounded mode: nothing at or past the limit. A record past it proves the offsets between
    // the last one below and the limit hold no record (markers, aborted records): cover them.
    let cap: bigint | undefined;
    if (this.options.bounded) {
      const limit = this.limits.get(slot) ?? 0n;
      const below = pending.filter((message) => BigInt(message.offset) < limit);
      const beyond = below.length < pending.length;
      cap = beyond ? limit : undefined;
      if (below.length === 0) {
        if (beyond && position < limit) {
          const moved = await this.applyBatch({
            topic,
            partition,
            records: [],
            from: String(position),
            to: String(limit),
          });
          if (moved === 'stale') return;
        }
        this.pausedAtLimit.add(slot);
        this.consumer.pause([{ topic, partitions: [partition] }]);
        return;
      }
      pending = below;
      if (!beyond) {
        const covered = BigInt(batch.lastOffset()) + 1n;
        cap = covered < limit ? covered : limit;
      }
    }
    if (pending.length === 0) {
      // All applied before (a redelivery): let Kafka's position move on.
      payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
      return;
    }
    const size = this.options.maxBatchRecords ?? 500;
    for (let start = 0; start < pending.length; start += size) {
      if (!payload.isRunning() || payload.isStale()) return;
      const slice = pending.slice(start, start + size);
      // The last slice also covers what follows its last record in this fetch (transaction markers).
      const lastSlice = start + size >= pending.length;
      const last = !lastSlice ? undefined : cap !== undefined ? cap - 1n : BigInt(batch.lastOffset());
      const outcome = await this.applyTraced(topic, partition, slice, position, last).catch(
        (error: unknown) => {
          if (!(error instanceof DeadLetterRejected)) throw error;
          this.pauseFor(payload, error.backoffMs);
          return 'blocked' as const;
        },
      );
      if (outcome === 'blocked') return;
      if (outcome === 'retry-later') {
        const resume = payload.pause();
        const timer = setTimeout(() => {
          this.resumeTimers.delete(timer);
          if (this.state === 'running') resume();
        }, TRANSIENT_BACKOFF_MS);
        this.resumeTimers.add(timer);
        return;
      }
      if (outcome === 'stale') {
        this.positions.delete(`${topic}:${partition}`);
        const stored = await this.storedPosition(topic, partition);
        this.logger.warn(
          { groupId: this.options.groupId, topic, partition, offset: String(stored) },
          'stored position moved by another instance: seeking to it',
        );
        this.consumer.seek({ topic, partition, offset: String(stored) });
        return;
      }
      position = outcome;
      this.blocks.clear(topic, partition);
      payload.resolveOffset(slice[slice.length - 1]!.offset);
      await payload.heartbeat();
    }
  }

  /** Pauses the batch's partition for `ms`; it then fetches from its last resolved offset again. */
  private pauseFor(payload: EachBatchPayload, ms: number): void {
    const resume = payload.pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      if (this.state === 'running') resume();
    }, ms);
    this.resumeTimers.add(timer);
  }

  /** Decodes and applies one slice; the new position, or why not. */
  private async applySlice(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    position: bigint,
    coveredUpTo?: bigint,
  ): Promise<bigint | 'stale' | 'retry-later'> {
    const records: ProjectionRecord[] = [];
    // Dead letters go out together (the publisher batches them); all are in Kafka before the position moves past them.
    const deadLetters: Promise<void>[] = [];
    for (const message of messages) {
      const decoded = await this.decode(topic, partition, message);
      if (decoded === 'retry-later') {
        await Promise.all(deadLetters);
        return decoded;
      }
      if ('deadLetter' in decoded) {
        // Handled here so a failure is not an unhandled rejection before Promise.all sees it.
        decoded.deadLetter.catch(() => undefined);
        deadLetters.push(decoded.deadLetter);
      } else records.push(decoded);
    }
    await Promise.all(deadLetters);
    const lastRecord = BigInt(messages[messages.length - 1]!.offset);
    const to = (coveredUpTo !== undefined && coveredUpTo > lastRecord ? coveredUpTo : lastRecord) + 1n;
    try {
      return await this.applyBatch({ topic, partition, records, from: String(position), to: String(to) });
    } catch (error) {
      if (this.options.store.isTransient(error)) return this.transient(topic, partition, error);
      // One of the records (or the store's code) fails: apply them one by one to find which.
      this.logger.warn(
        { groupId: this.options.groupId, topic, partition, err: error },
        'batch failed: applying its records one by one',
      );
    }
    let at = position;
    for (const message of messages) {
      const next = BigInt(message.offset) + 1n;
      const record = records.find((r) => r.offset === message.offset);
      const batch = { topic, partition, from: String(at), to: String(next) };
      try {
        const moved = await this.applyBatch({ ...batch, records: record ? [record] : [] });
        if (moved === 'stale') return moved;
      } catch (error) {
        if (this.options.store.isTransient(error)) return this.transient(topic, partition, error);
        if (record === undefined) throw error;
        await this.deadLetterOnce(topic, partition, message, readInbound(message), error);
        const moved = await this.applyBatch({ ...batch, records: [] });
        if (moved === 'stale') return moved;
      }
      at = next;
    }
    return at;
  }

  /**
   * `applySlice` in an apply span (linked from a span per record that continues the record's
   * own trace, when tracing is on) and in the slice's log context; a debug line per record
   * applied carries its trace id.
   */
  private async applyTraced(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    position: bigint,
    coveredUpTo?: bigint,
  ): Promise<bigint | 'stale' | 'retry-later'> {
    const { groupId } = this.options;
    const span = tracer.startSpan(`apply ${groupId}`, { kind: SpanKind.INTERNAL }, ROOT_CONTEXT);
    if (span.isRecording()) {
      span.setAttributes({
        [ATTR.system]: 'kafka',
        [ATTR.destination]: topic,
        [ATTR.partition]: String(partition),
        [ATTR.group]: groupId,
        [ATTR.batchCount]: messages.length,
        'tideline.first_offset': messages[0]!.offset,
        'tideline.last_offset': messages[messages.length - 1]!.offset,
      });
    }
    const perRecord = tracingEnabled() || this.logger.isLevelEnabled?.('debug') === true;
    const records = perRecord
      ? messages.map((message) => this.recordTrace(topic, partition, message, span))
      : [];
    const fields = { groupId, topic, partition, offset: messages[0]!.offset };
    let outcome: bigint | 'stale' | 'retry-later' | undefined;
    try {
      outcome = await context.with(trace.setSpan(ROOT_CONTEXT, span), () =>
        withLogFields(fields, () => this.applySlice(topic, partition, messages, position, coveredUpTo)),
      );
      return outcome;
    } catch (error) {
      failSpan(span, error, 'TDL_PROJ_APPLY_FAILED');
      throw error;
    } finally {
      span.end();
      for (const record of records) {
        if (typeof outcome === 'bigint' && this.logger.isLevelEnabled?.('debug')) {
          context.with(record.context, () =>
            withLogFields({ ...fields, offset: record.offset, eventId: record.eventId }, () =>
              this.logger.debug({ correlationId: record.correlationId }, 'record applied'),
            ),
          );
        }
        record.span?.end();
      }
    }
  }

  /** A record's trace as the projection continues it: a process span (tracing on), else its own context. */
  private recordTrace(topic: string, partition: number, message: KafkaMessage, apply: Span) {
    const headers = readHeaders(message.headers);
    const parent = contextOf(headers);
    const identity = {
      offset: message.offset,
      eventId: headers[HEADER.eventId],
      correlationId: headers[HEADER.correlationId],
    };
    if (!tracingEnabled()) return { ...identity, context: parent, span: undefined };
    const span = tracer.startSpan(
      `process ${topic}`,
      {
        kind: SpanKind.CONSUMER,
        links: [{ context: apply.spanContext() }],
        attributes: processAttributes(
          topic,
          partition,
          message.offset,
          this.options.groupId,
          identity.eventId,
        ),
      },
      parent,
    );
    return { ...identity, context: trace.setSpan(parent, span), span };
  }

  private async applyBatch(batch: ProjectionBatch): Promise<bigint | 'stale'> {
    const started = performance.now();
    const ok = await this.options.store.apply(batch);
    if (metricsEnabled() && batch.records.length > 0) {
      projectionApplyDuration.observe(
        { projection: this.options.groupId },
        (performance.now() - started) / 1000,
      );
      projectionBatchRecords.observe({ projection: this.options.groupId }, batch.records.length);
    }
    if (!ok) return 'stale';
    if (metricsEnabled() && batch.records.length > 0)
      consumedBy.get(this.options.groupId, batch.topic, 'applied').inc(batch.records.length);
    const slot = `${batch.topic}:${batch.partition}`;
    this.positions.set(slot, BigInt(batch.to));
    const sent = this.deadLettered.get(slot);
    for (const offset of sent ?? []) if (BigInt(offset) < BigInt(batch.to)) sent!.delete(offset);
    if (sent?.size === 0) this.deadLettered.delete(slot);
    this.counts.applied += batch.records.length;
    this.counts.batches += 1;
    this.lastAppliedAt = Date.now();
    return BigInt(batch.to);
  }

  private transient(topic: string, partition: number, error: unknown): 'retry-later' {
    this.logger.warn(
      { groupId: this.options.groupId, topic, partition, err: error },
      'store unavailable: retrying the batch later',
    );
    return 'retry-later';
  }

  private async decode(
    topic: string,
    partition: number,
    message: KafkaMessage,
  ): Promise<ProjectionRecord | { deadLetter: Promise<void> } | 'retry-later'> {
    // Never throws, whatever headers a client wrote: bad ones are the record's failure below.
    const inbound = readInbound(message);
    const headers = inbound.headers;
    const descriptor = this.byName.get(topic);
    try {
      if (descriptor === undefined)
        throw new Error(`group ${this.options.groupId} does not project ${topic}`);
      const cached = decodeInboundCached(this.options.codec, this.options.signer, descriptor, inbound, true);
      const value = cached
        ? cached.value
        : await this.options.codec.decode(descriptor, message.value ?? Buffer.alloc(0));
      return {
        ...identityOf(headers),
        topic,
        partition,
        offset: message.offset,
        timestamp: Number(message.timestamp),
        key: keyText(message.key) ?? null,
        value,
        headers,
      };
    } catch (error) {
      if (isMessagingError(error, 'TDL_MSG_REGISTRY_UNAVAILABLE')) return 'retry-later';
      return { deadLetter: this.deadLetterOnce(topic, partition, message, inbound, error) };
    }
  }

  /** `deadLetter` once per record, however often transient store failures make its batch run again. */
  private async deadLetterOnce(...args: Parameters<ProjectionConsumer['deadLetter']>): Promise<void> {
    const [topic, partition, message] = args;
    const slot = `${topic}:${partition}`;
    if (this.deadLettered.get(slot)?.has(message.offset)) return;
    await this.deadLetter(...args);
    this.deadLettered.set(slot, (this.deadLettered.get(slot) ?? new Set()).add(message.offset));
  }

  private async deadLetter(
    topic: string,
    partition: number,
    message: KafkaMessage,
    inbound: ConsumedRecord,
    error: unknown,
  ): Promise<void> {
    const headers: Headers = inbound.headers;
    const failure = describeFailure(error, topic);
    if (this.options.deadLetters === false) {
      this.counts.poisonSkipped += 1;
      this.logger.warn(
        {
          groupId: this.options.groupId,
          topic,
          partition,
          offset: message.offset,
          errorCode: failure.code,
          fingerprint: failure.fingerprint,
        },
        'poison record skipped (no dead letters in this mode)',
      );
      return;
    }
    const forwarded = failureHeaders({
      groupId: this.options.groupId,
      topic,
      partition,
      message,
      headers,
      retried: false,
      attempt: 1,
      failure,
      now: Date.now(),
    });
    // In the record's own trace (not the apply span's): the dead letter carries it on.
    try {
      await context.with(contextOf(headers), () =>
        this.publisher.send({
          topic: this.deadLetterTopic,
          key: message.key,
          value: message.value,
          headers: forwardedHeaders(inbound.parsed, forwarded),
        }),
      );
    } catch (rejected) {
      throw new DeadLetterRejected(
        this.blocks.block(topic, partition, this.deadLetterTopic, rejected),
        rejected,
      );
    }
    this.counts.deadLettered += 1;
    if (metricsEnabled()) consumedBy.get(this.options.groupId, topic, 'dead_lettered').inc();
    countDeadLetter(this.options.groupId, topic, failure.code, failure.fingerprint);
    this.logger.error(
      {
        groupId: this.options.groupId,
        topic,
        partition,
        offset: message.offset,
        eventId: headers[HEADER.eventId],
        correlationId: headers[HEADER.correlationId],
        errorCode: failure.code,
        error: failure.message,
        fingerprint: failure.fingerprint,
        deadLetterTopic: this.deadLetterTopic,
      },
      'record dead-lettered',
    );
  }
}

/** Kafka rejected a dead letter: the partition waits `backoffMs`, then applies the slice again. */
class DeadLetterRejected extends Error {
  constructor(
    readonly backoffMs: number,
    cause: unknown,
  ) {
    super('Kafka rejected a dead letter', { cause });
  }
}

export function createProjectionConsumer(options: ProjectionConsumerOptions): ProjectionConsumer {
  return new ProjectionConsumer(options);
}
