import { context, trace, type Span } from '@opentelemetry/api';
import type { TopicDescriptor } from '@tideline/contracts';
import { metricsEnabled, tracingEnabled, withLogFields } from '@tideline/observability';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { RegistryCodec } from './codec';
import { isMessagingError, kafkaUnavailable, type MessagingError } from './errors';
import { createGroupConsumer, forwardingPublisher, settlesWithin, watchGroup } from './group-lifecycle';
import { PartitionBlocks, type BlockedPartition } from './blocked-partitions';
import { describeFailure, failureHeaders, forwardedHeaders, type Failure } from './failure';
import { defaultRetryPolicy, deadLetterTopicName, retryTopicName, type RetryPolicy } from './group-topics';
import { HEADER, identityOf, type EventIdentity, type Headers } from './headers';
import { decodeInboundCached, keyText, readInbound, type ConsumedRecord } from './inbound';
import {
  SpanKind,
  consumedBy,
  contextOf,
  countDeadLetter,
  failSpan,
  handlerDurationBy,
  processAttributes,
  retries,
  tracer,
} from './instrumentation';
import { LagMonitor, type LagSnapshot } from './lag-monitor';
import { silentLogger, type Logger } from './log';
import { resetOffsets, type OffsetTarget } from './offsets-admin';
import { Publisher, type Cause, type OutgoingRecord, type PublishOptions } from './publisher';
import { BatchTransaction } from './transaction';
import { TransactionalProducers } from './transactional-producers';
import type { RecordSigner } from './signing';
import { ensureGroupTopics } from './topic-admin';

/**
 * Where a subscription starts. `committed` (default) continues from the group's committed
 * offsets, and from the earliest record for a group that has none. The others move the
 * group's offsets when the group starts with no other member running (a restart of a
 * running group keeps its offsets).
 */
export type StartPosition = 'committed' | 'earliest' | 'latest' | { timestamp: number | Date };

/** What a handler knows about the record it handles. */
export interface RecordContext extends EventIdentity {
  groupId: string;
  /** The topic the record was published to (also when it is being retried). */
  topic: string;
  partition: number;
  offset: string;
  /** Kafka timestamp of the original record, ms since the epoch. */
  timestamp: number;
  key: string | null;
  headers: Headers;
  /** 1 for the first delivery, then 2, 3, … through the retry tiers. */
  attempt: number;
  maxAttempts: number;
  /** The last attempt: a failure now goes to the dead-letter topic. */
  isLastAttempt: boolean;
  /** Pass as `publish(…, { causedBy: record.cause })` to carry the correlation on. */
  cause: Cause;
  /**
   * Publishes an event caused by this record (correlation carried on, causation = this
   * event). In a transactional consumer it is written in the same Kafka transaction as
   * this record's offset: visible to read-committed consumers only if both commit.
   */
  emit<Value>(
    topic: TopicDescriptor<Value>,
    key: string,
    value: Value,
    options?: PublishOptions,
  ): Promise<{ eventId: string; correlationId: string }>;
}

export interface Subscription<Value> {
  topic: TopicDescriptor<Value>;
  // Method syntax keeps handlers of different value types in one array (bivariant parameters).
  handler(value: Value, record: RecordContext): Promise<void> | void;
  from?: StartPosition;
}

/** Typed subscription: `subscribe(orderPlacedTopic, async (order, record) => …)`. */
export function subscribe<Value>(
  topic: TopicDescriptor<Value>,
  handler: (value: Value, record: RecordContext) => Promise<void> | void,
  options: { from?: StartPosition } = {},
): Subscription<Value> {
  return { topic, handler, ...options };
}

/** Backpressure: while `saturated()` is true the runtime pauses its partitions until `drained()` resolves. */
export interface Saturation {
  saturated(): boolean;
  drained(): Promise<void>;
}

export interface ConsumerOptions {
  kafka: Kafka;
  codec: RegistryCodec;
  signer: RecordSigner;
  groupId: string;
  subscriptions: readonly Subscription<unknown>[];
  /** Forwards to retry and dead-letter topics; one is created (and closed) if absent. */
  publisher?: Publisher;
  service?: string;
  retry?: RetryPolicy;
  /** Partitions handled at the same time (records of one partition always one by one). Default 3. */
  partitionsConcurrently?: number;
  /** Create the group's retry and dead-letter topics when missing. Default true. */
  provisionTopics?: boolean;
  saturation?: Saturation;
  /**
   * Consume→produce exactly once: what handlers `emit`, retry and dead-letter records, and
   * the consumed offsets are written in one Kafka transaction per partition batch. One
   * transactional producer per input partition (`<prefix>-<topic>-<partition>`), so a new
   * owner of a partition fences a zombie. Readers of the output must read committed (the
   * kafkajs default). A producer that fails a transaction (fenced, timed out, Kafka gone) or
   * whose partition is revoked is dropped; its successor re-reads the group's committed offset
   * before any work (docs/explanation/messaging-runtime.md, "Transactions that fail").
   */
  transactional?: boolean | { transactionalIdPrefix: string };
  /**
   * transaction.timeout.ms of the transactional producers: the coordinator aborts a
   * transaction open longer (a paused process, a broker outage) and fences its producer.
   * Default 10 s; at most the brokers' transaction.max.timeout.ms (15 min by default).
   */
  transactionTimeoutMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** How often the group's lag is read (metrics, `lag()`). Default 5 s; 0: only at start. */
  lagIntervalMs?: number;
  logger?: Logger;
}

export type ConsumerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';

export interface ConsumerStatus {
  state: ConsumerState;
  groupId: string;
  /** Partitions assigned at the last rebalance, by topic. */
  assignments: Record<string, number[]>;
  /** `topic:partition` of partitions paused for backpressure, a retry not yet due, or a registry outage. */
  paused: string[];
  processed: number;
  retried: number;
  deadLettered: number;
  /** Partitions that cannot move on because Kafka rejects a write they need (not ready while any). */
  blocked: BlockedPartition[];
}

type Outcome = { kind: 'done' } | { kind: 'wait'; until: number; reason: string };
/** What became of a record: the `outcome` label of tideline_consumer_records_total. */
type Handled = 'processed' | 'retried' | 'dead_lettered';
const DONE: Outcome = { kind: 'done' };

const REGISTRY_BACKOFF_MS = 1_000;
const COMMIT_CHECK_MS = 1_000;
const TRANSACTION_MAX_RECORDS = 500;
const DEFAULT_TRANSACTION_TIMEOUT_MS = 10_000;

/**
 * A consumer group over typed topics: at-least-once, order per partition, failures to
 * retry topics and the dead-letter topic instead of stalling. See docs/explanation/messaging-runtime.md.
 */
export class TidelineConsumer {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly publisher: Publisher;
  private readonly ownsPublisher: boolean;
  private readonly policy: RetryPolicy;
  private readonly logger: Logger;
  private readonly bySource = new Map<string, Subscription<unknown>>();
  private readonly retryTopics: string[];
  private readonly deadLetterTopic: string;
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  private readonly paused = new Set<string>();
  private readonly producers: TransactionalProducers | undefined;
  /** Failed transactions in a row, by partition (backoff and blocking after the first). */
  private readonly transactionFailures = new Map<string, number>();
  /**
   * Per partition, a committed offset found past the fetched records by a new transactional
   * producer: records below it were committed by another producer and are skipped as they come
   * (not with kafkajs' seek: called from inside eachBatch it made the consumer fetch the partition
   * from its first offset again, transactional-fence.int.spec).
   */
  private readonly committedFloor = new Map<string, bigint>();
  private readonly lagMonitor: LagMonitor;
  private readonly blocks: PartitionBlocks;
  private state: ConsumerState = 'idle';
  private assignments: Record<string, number[]> = {};
  private counts = { processed: 0, retried: 0, deadLettered: 0 };
  private crashed: ((error: Error) => void) | undefined;

  constructor(private readonly options: ConsumerOptions) {
    this.policy = options.retry ?? defaultRetryPolicy;
    this.logger = options.logger ?? silentLogger;
    this.blocks = new PartitionBlocks(options.groupId, this.logger);
    for (const subscription of options.subscriptions)
      this.bySource.set(subscription.topic.name, subscription);
    this.retryTopics = this.policy.delaysMs.map((_, index) => retryTopicName(options.groupId, index + 1));
    this.deadLetterTopic = deadLetterTopicName(options.groupId);
    this.consumer = createGroupConsumer(options.kafka, options);
    this.admin = options.kafka.admin();
    this.lagMonitor = new LagMonitor({
      admin: this.admin,
      groupId: options.groupId,
      topics: [...this.bySource.keys()],
      intervalMs: options.lagIntervalMs,
      logger: this.logger,
    });
    if (options.transactional) {
      const setting = options.transactional;
      this.producers = new TransactionalProducers({
        kafka: options.kafka,
        transactionalIdPrefix: typeof setting === 'object' ? setting.transactionalIdPrefix : options.groupId,
        transactionTimeoutMs: this.transactionTimeoutMs(),
        groupId: options.groupId,
        logger: this.logger,
      });
    }
    const forwarding = forwardingPublisher(options);
    this.publisher = forwarding.publisher;
    this.ownsPublisher = forwarding.owned;
    watchGroup(this.consumer, {
      groupId: options.groupId,
      logger: this.logger,
      onJoin: (assignments) => {
        this.assignments = assignments;
        // Another instance may own a revoked partition's transactional id before it comes back.
        this.producers?.retain(assignments);
      },
      onFatal: (error) => {
        this.state = 'crashed';
        this.crashed?.(error);
      },
    });
  }

  status(): ConsumerStatus {
    return {
      state: this.state,
      groupId: this.options.groupId,
      assignments: this.assignments,
      paused: [...this.paused],
      ...this.counts,
      blocked: this.blocks.list(),
    };
  }

  /** The group's lag as last read (every `lagIntervalMs`): per partition in records and seconds. */
  lag(): LagSnapshot | undefined {
    return this.lagMonitor.latest();
  }

  /** Joins the group and starts handling records. Resolves once consuming has started. */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`consumer ${this.options.groupId} was already started`);
    this.state = 'starting';
    try {
      await this.admin.connect();
      if (this.options.provisionTopics ?? true) await this.provisionGroupTopics();
      await this.applyStartPositions();
      await this.lagMonitor.start();
      await this.publisher.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({
        topics: [...this.bySource.keys(), ...this.retryTopics],
        fromBeginning: true,
      });
      await this.consumer.run({
        // A transactional consumer commits offsets inside its transactions instead.
        autoCommit: !this.options.transactional,
        autoCommitInterval: 1_000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConcurrently ?? 3,
        eachBatch: (payload) => this.handleBatch(payload),
      });
    } catch (error) {
      this.state = 'crashed';
      await this.disconnectQuietly();
      throw kafkaUnavailable(error);
    }
    this.state = 'running';
  }

  /** Rejects when the consumer stops for good on an error kafkajs does not restart from. */
  failure(): Promise<never> {
    return new Promise<never>((_, reject) => {
      this.crashed = reject;
    });
  }

  /**
   * Stops fetching, lets in-flight handlers finish, commits what finished and leaves the
   * group. Resolves false when that took longer than `deadlineMs` (the process should exit anyway).
   */
  async stop(deadlineMs = 10_000): Promise<boolean> {
    if (this.state === 'stopped' || this.state === 'stopping') return true;
    this.state = 'stopping';
    this.lagMonitor.stop();
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
    await this.producers?.closeAll();
    if (this.ownsPublisher) await this.publisher.close().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  private async provisionGroupTopics(): Promise<void> {
    await ensureGroupTopics(
      this.admin,
      this.options.groupId,
      this.options.subscriptions.map((s) => s.topic),
      this.policy,
    );
  }

  private async applyStartPositions(): Promise<void> {
    for (const subscription of this.options.subscriptions) {
      const from = subscription.from ?? 'committed';
      if (from === 'committed') continue;
      const to: OffsetTarget =
        typeof from === 'object'
          ? { kind: 'timestamp', timestamp: new Date(from.timestamp).getTime() }
          : { kind: from };
      try {
        await resetOffsets(this.options.kafka, this.admin, {
          groupId: this.options.groupId,
          topic: subscription.topic.name,
          to,
        });
      } catch (error) {
        // A running group keeps its offsets: this instance joins where the others are.
        if (!isMessagingError(error, 'TDL_MSG_GROUP_ACTIVE')) throw error;
      }
    }
  }

  private transactionTimeoutMs(): number {
    return this.options.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
  }

  /**
   * A new transactional producer's first batch. Its InitProducerId made the coordinator finish
   * whatever the previous producer of that transactional id left open: committed if its EndTxn
   * got through (even when kafkajs saw that call fail), aborted otherwise. Only now is the
   * group's committed offset final, so it is read again: when it is past the fetched records
   * (a previous owner's or our own "failed" commit went through) the records below it are
   * skipped instead of doing that work twice.
   */
  private async skipPastCommitted(payload: EachBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    const first = messages[0];
    if (first === undefined) return;
    const [offsets] = await this.admin
      .fetchOffsets({ groupId: this.options.groupId, topics: [topic] })
      .catch((error: unknown) => {
        throw kafkaUnavailable(error);
      });
    const committed = offsets?.partitions.find((p) => p.partition === partition)?.offset;
    this.producers?.markVerified(topic, partition);
    if (committed === undefined || BigInt(committed) <= BigInt(first.offset)) return;
    this.logger.info(
      { groupId: this.options.groupId, topic, partition, fetched: first.offset, committed },
      'committed offset is past the fetched records: skipping to it',
    );
    this.committedFloor.set(`${topic}:${partition}`, BigInt(committed));
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const heartbeat = () => payload.heartbeat();
    const pause = () => payload.pause();
    let transaction: BatchTransaction | undefined;
    if (this.producers) {
      const { producer, verified } = await this.producers.acquire(topic, partition);
      if (!verified) await this.skipPastCommitted(payload);
      transaction = new BatchTransaction(
        producer,
        this.options.groupId,
        topic,
        partition,
        this.transactionTimeoutMs(),
      );
    }
    // Transactional: a record's output joins the transaction only once the record is done, so a
    // record that waits (registry down, blocked) and runs again adds nothing twice.
    const staged: OutgoingRecord[] = [];
    const output = (record: OutgoingRecord): Promise<unknown> =>
      transaction ? Promise.resolve(staged.push(record)) : this.publisher.send(record);
    let heartbeatError: unknown;
    let nextCommitCheck = Date.now() + COMMIT_CHECK_MS;
    let done: string | undefined;
    // Heartbeats continue while a slow handler runs. Asked for twice per interval, because
    // kafkajs drops one asked for before the interval has passed.
    const ticker = setInterval(
      () => {
        heartbeat().catch((error: unknown) => {
          heartbeatError ??= error;
        });
      },
      (this.options.heartbeatIntervalMs ?? 3_000) / 2,
    );
    try {
      for (const message of batch.messages) {
        if (!payload.isRunning() || payload.isStale() || heartbeatError !== undefined) break;
        const floor = this.committedFloor.get(`${topic}:${partition}`);
        if (floor !== undefined) {
          // Committed already (outside this transaction, whose offsets must not go back).
          if (BigInt(message.offset) < floor) {
            payload.resolveOffset(message.offset);
            continue;
          }
          this.committedFloor.delete(`${topic}:${partition}`);
        }
        const saturation = this.options.saturation;
        if (saturation?.saturated()) {
          this.pauseUntil(pause, saturation.drained(), topic, partition, 'downstream saturated');
          break;
        }
        const outcome = await this.handleRecord(topic, partition, message, output, transaction !== undefined);
        const outputs = staged.splice(0);
        if (outcome.kind === 'done') for (const record of outputs) transaction?.add(record);
        if (outcome.kind === 'wait') {
          const delay = Math.max(0, outcome.until - Date.now());
          this.pauseUntil(
            pause,
            new Promise((resolve) => this.trackTimer(resolve, delay)),
            topic,
            partition,
            outcome.reason,
          );
          break;
        }
        done = message.offset;
        // A long batch commits as it goes, not only at its end. The ticker above heartbeats.
        const due = Date.now() >= nextCommitCheck;
        if (transaction && (due || transaction.size >= TRANSACTION_MAX_RECORDS)) {
          await transaction.commit(done);
          payload.resolveOffset(done);
          nextCommitCheck = Date.now() + COMMIT_CHECK_MS;
        } else if (!transaction && due) {
          nextCommitCheck = Date.now() + COMMIT_CHECK_MS;
          payload.resolveOffset(done);
          await payload.commitOffsetsIfNecessary();
        }
      }
      if (transaction && done !== undefined) await transaction.commit(done);
      if (transaction && done !== undefined) {
        this.blocks.clear(topic, partition);
        this.transactionFailures.delete(`${topic}:${partition}`);
      }
    } catch (error) {
      // Transactional: nothing since the last commit is visible; those records run again.
      if (transaction) {
        done = transaction.committed;
        transaction.abort();
        if (this.recoverFailedTransaction(error, topic, partition, pause)) {
          if (heartbeatError !== undefined) throw heartbeatError as Error;
          return;
        }
      }
      throw error;
    } finally {
      clearInterval(ticker);
      // Records of a partition finish in order, so resolving the last finished one covers
      // all before it (one resolve per batch instead of one per record).
      if (done !== undefined) payload.resolveOffset(done);
    }
    if (heartbeatError !== undefined) throw heartbeatError as Error;
  }

  /**
   * After any failed transaction the partition's producer is dropped: kafkajs cannot use it
   * again (fenced, timed out, or stuck half-way through a commit). The records since the last
   * commit run again with a new producer, which first re-reads the committed offset
   * (`skipPastCommitted`). A fence or a timeout is routine after a hand-back or a pause: the
   * partition goes on at once. A write Kafka refused (too large, ACL, deleted topic) and a
   * fence or timeout again right after block the partition with backoff (reported by
   * `status().blocked` and /readyz) instead of crashing the consumer over and over. Kafka being
   * unreachable is left to kafkajs (false: rethrow).
   */
  private recoverFailedTransaction(
    error: unknown,
    topic: string,
    partition: number,
    pause: () => () => void,
  ): boolean {
    const slot = `${topic}:${partition}`;
    const code = isMessagingError(error) ? error.code : 'TDL_MSG_KAFKA_UNAVAILABLE';
    this.producers?.drop(topic, partition, `its transaction failed (${code})`);
    const rejected = code === 'TDL_MSG_PUBLISH_REJECTED';
    const fenced = code === 'TDL_MSG_PRODUCER_FENCED' || code === 'TDL_MSG_TRANSACTION_TIMEOUT';
    if (!rejected && !fenced) return false;
    const failures = (this.transactionFailures.get(slot) ?? 0) + 1;
    this.transactionFailures.set(slot, failures);
    if (fenced && failures === 1) {
      this.logger.warn(
        { groupId: this.options.groupId, topic, partition, errorCode: code, error: (error as Error).message },
        'transaction failed: redoing its records with a new transactional producer',
      );
      return true;
    }
    const backoffMs = this.blocks.block(topic, partition, 'its transaction', error);
    this.pauseUntil(
      pause,
      new Promise((resolve) => this.trackTimer(resolve, backoffMs)),
      topic,
      partition,
      rejected
        ? 'blocked: Kafka rejected a write of its transaction'
        : `blocked: its transactions fail (${code})`,
    );
    return true;
  }

  private trackTimer(resolve: (value: unknown) => void, delay: number): void {
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resolve(undefined);
    }, delay);
    this.resumeTimers.add(timer);
  }

  private pauseUntil(
    pause: () => () => void,
    until: Promise<unknown>,
    topic: string,
    partition: number,
    reason: string,
  ): void {
    const resume = pause();
    const slot = `${topic}:${partition}`;
    this.paused.add(slot);
    // A retry tier waiting for its due time is routine; backpressure and a registry outage are news.
    const level = reason.startsWith('retry tier')
      ? 'debug'
      : reason === 'downstream saturated'
        ? 'info'
        : 'warn';
    this.logger[level]({ groupId: this.options.groupId, topic, partition, reason }, 'partition paused');
    void until.then(() => {
      this.paused.delete(slot);
      if (this.state !== 'running') return;
      resume();
      this.logger.debug({ groupId: this.options.groupId, topic, partition }, 'partition resumed');
    });
  }

  private async handleRecord(
    topic: string,
    partition: number,
    message: KafkaMessage,
    output: (record: OutgoingRecord) => Promise<unknown>,
    transactional: boolean,
  ): Promise<Outcome> {
    const tier = this.retryTopics.indexOf(topic) + 1; // 0 on a source topic
    // Never throws, whatever headers a client wrote: bad ones are the record's failure below.
    const inbound = readInbound(message, tier > 0);
    const headers = inbound.all;
    if (tier > 0) {
      const due = Number(headers[HEADER.retryDueAt] ?? 0);
      if (due > Date.now()) return { kind: 'wait', until: due, reason: `retry tier ${tier} not due` };
    }
    const sourceTopic = tier > 0 ? (headers[HEADER.originalTopic] ?? '') : topic;
    const source = {
      topic: sourceTopic,
      partition: tier > 0 ? Number(headers[HEADER.originalPartition]) : partition,
      offset: tier > 0 ? (headers[HEADER.originalOffset] ?? message.offset) : message.offset,
    };
    // The trace the record carries continues here, on a retry tier too (one attempt more).
    // Tracing off: no span, but its context still reaches the logs and what the handler emits.
    const parent = contextOf(headers);
    const span = tracingEnabled()
      ? tracer.startSpan(`process ${topic}`, { kind: SpanKind.CONSUMER }, parent)
      : undefined;
    // Attributes only for a span that is recorded: an unsampled one costs no object.
    if (span?.isRecording()) {
      span.setAttributes(
        processAttributes(topic, partition, message.offset, this.options.groupId, headers[HEADER.eventId]),
      );
      // On a retry tier: which attempt of which topic's record.
      if (tier > 0) span.setAttributes({ 'tideline.source_topic': sourceTopic, 'tideline.retry_tier': tier });
    }
    const fields = {
      groupId: this.options.groupId,
      ...source,
      eventId: headers[HEADER.eventId],
      correlationId: headers[HEADER.correlationId],
    };
    const started = performance.now();
    let handled: Handled | Outcome;
    try {
      handled = await context.with(span ? trace.setSpan(parent, span) : parent, () =>
        withLogFields(fields, () =>
          this.processRecord(topic, partition, message, inbound, tier, source, span, output, transactional),
        ),
      );
    } catch (error) {
      failSpan(span, error, 'TDL_MSG_KAFKA_UNAVAILABLE');
      throw error;
    } finally {
      span?.end();
    }
    if (typeof handled !== 'string') return handled;
    // Transactional: a write is through only once its transaction commits (handleBatch clears).
    if (!transactional) this.blocks.clear(topic, partition);
    if (metricsEnabled()) {
      consumedBy.get(this.options.groupId, topic, handled).inc();
      handlerDurationBy.get(this.options.groupId, sourceTopic).observe((performance.now() - started) / 1000);
    }
    return DONE;
  }

  /** Verifies, decodes and handles one record (in its span and log context); failures move on. */
  private async processRecord(
    topic: string,
    partition: number,
    message: KafkaMessage,
    inbound: ConsumedRecord,
    tier: number,
    source: { topic: string; partition: number; offset: string },
    span: Span | undefined,
    output: (record: OutgoingRecord) => Promise<unknown>,
    transactional: boolean,
  ): Promise<Handled | Outcome> {
    const headers = inbound.all;
    const original = inbound.headers;
    const attempt = tier > 0 ? Number(headers[HEADER.attempts] ?? tier) + 1 : 1;
    const maxAttempts = this.policy.delaysMs.length + 1;
    const subscription = this.bySource.get(source.topic);
    const failed = (error: unknown) =>
      this.forwardFailure(topic, partition, message, inbound, attempt, error, output, span);
    if (!subscription) {
      return failed(
        new Error(`no subscription of group ${this.options.groupId} handles topic "${source.topic}"`),
      );
    }
    let value: unknown;
    try {
      // Synchronous unless this is the first record of a new writer schema.
      const cached = decodeInboundCached(
        this.options.codec,
        this.options.signer,
        subscription.topic,
        inbound,
      );
      value = cached
        ? cached.value
        : await this.options.codec.decode(subscription.topic, message.value ?? Buffer.alloc(0));
    } catch (error) {
      // The registry being down is not the record's fault: wait and try the same record again.
      if (isMessagingError(error, 'TDL_MSG_REGISTRY_UNAVAILABLE')) {
        return { kind: 'wait', until: Date.now() + REGISTRY_BACKOFF_MS, reason: error.message };
      }
      return failed(error);
    }
    const identity = identityOf(original);
    // Set when an emit could not reach the schema registry: whatever the handler then throws,
    // the record is not at fault.
    let registryDown: MessagingError | undefined;
    const record: RecordContext = {
      ...identity,
      groupId: this.options.groupId,
      topic: source.topic,
      partition: source.partition,
      offset: source.offset,
      timestamp: Number(tier > 0 ? headers[HEADER.originalTimestamp] : message.timestamp),
      key: keyText(message.key) ?? null,
      headers: original,
      attempt,
      maxAttempts,
      isLastAttempt: attempt >= maxAttempts,
      cause: { eventId: identity.eventId, correlationId: identity.correlationId },
      emit: async (target, key, emitted, options = {}) => {
        const withCause = { causedBy: record.cause, ...options };
        try {
          if (!transactional) return await this.publisher.publish(target, key, emitted, withCause);
          const prepared = await this.publisher.prepare(target, key, emitted, withCause);
          await output(prepared.record);
          return { eventId: prepared.eventId, correlationId: prepared.correlationId };
        } catch (error) {
          if (isMessagingError(error, 'TDL_MSG_REGISTRY_UNAVAILABLE')) registryDown ??= error;
          throw error;
        }
      },
    };
    try {
      const result = subscription.handler(value, record);
      if (result instanceof Promise) await result;
      this.counts.processed += 1;
      return 'processed';
    } catch (error) {
      // Like a decode above: wait, then the same record again (its staged output is dropped).
      if (registryDown)
        return { kind: 'wait', until: Date.now() + REGISTRY_BACKOFF_MS, reason: registryDown.message };
      return failed(error);
    }
  }

  /**
   * Moves a failed record to the next retry tier, or to the dead-letter topic, with its own
   * header bytes. When Kafka rejects that write the partition blocks: it waits with backoff and
   * tries the record again (reported by `status().blocked`), instead of crashing the consumer.
   */
  private async forwardFailure(
    topic: string,
    partition: number,
    message: KafkaMessage,
    inbound: ConsumedRecord,
    attempt: number,
    error: unknown,
    output: (record: OutgoingRecord) => Promise<unknown>,
    span: Span | undefined,
  ): Promise<Handled | Outcome> {
    const headers: Headers = inbound.all;
    const retried = this.retryTopics.includes(topic);
    const sourceTopic = retried ? (headers[HEADER.originalTopic] ?? topic) : topic;
    const failure: Failure = describeFailure(error, sourceTopic);
    const now = Date.now();
    const tier = attempt; // after attempt n fails, the record goes to retry tier n
    const toRetry = failure.retryable && tier <= this.retryTopics.length;
    const target = (toRetry ? this.retryTopics[tier - 1] : undefined) ?? this.deadLetterTopic;
    failSpan(span, error, failure.code);
    if (span?.isRecording()) {
      span.setAttributes({
        'tideline.error_fingerprint': failure.fingerprint,
        'tideline.forwarded_to': target,
      });
    }
    const forwarded = failureHeaders({
      groupId: this.options.groupId,
      topic,
      partition,
      message,
      headers,
      retried,
      attempt,
      failure,
      now,
      retryDueAt: toRetry ? now + (this.policy.delaysMs[tier - 1] ?? 0) : undefined,
    });
    try {
      await output({
        topic: target,
        key: message.key,
        value: message.value,
        headers: forwardedHeaders(inbound.parsed, forwarded),
      });
    } catch (rejected) {
      const backoffMs = this.blocks.block(topic, partition, target, rejected);
      return { kind: 'wait', until: Date.now() + backoffMs, reason: `blocked: writing to ${target} failed` };
    }
    const fields = {
      groupId: this.options.groupId,
      topic: sourceTopic,
      partition: forwarded[HEADER.originalPartition],
      offset: forwarded[HEADER.originalOffset],
      eventId: headers[HEADER.eventId],
      correlationId: headers[HEADER.correlationId],
      attempt,
      errorCode: failure.code,
      error: failure.message,
      fingerprint: failure.fingerprint,
    };
    if (toRetry) {
      this.counts.retried += 1;
      if (metricsEnabled())
        retries.inc({ group: this.options.groupId, topic: sourceTopic, tier: String(tier) });
      this.logger.warn(
        { ...fields, retryTopic: target, dueAt: forwarded[HEADER.retryDueAt] },
        'record scheduled for retry',
      );
      return 'retried';
    }
    this.counts.deadLettered += 1;
    countDeadLetter(this.options.groupId, sourceTopic, failure.code, failure.fingerprint);
    this.logger.error({ ...fields, deadLetterTopic: target }, 'record dead-lettered');
    return 'dead_lettered';
  }
}

/** A consumer group over typed topics; `start()` it. */
export function createConsumer(options: ConsumerOptions): TidelineConsumer {
  return new TidelineConsumer(options);
}
