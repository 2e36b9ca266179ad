import { context, propagation, trace, type Span } from '@opentelemetry/api';
import { metricsEnabled, tracingEnabled } from '@tideline/observability';
import type { TopicDescriptor } from '@tideline/contracts';
import { Partitioners, type Kafka, type Message, type Producer, type RecordMetadata } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import type { RegistryCodec } from './codec';
import { MessagingError, isMessagingError } from './errors';
import { AVRO_CONTENT_TYPE, HEADER, type Headers, type WireHeaders } from './headers';
import { ATTR, SpanKind, contextOf, failSpan, producedBy, tracer } from './instrumentation';
import { reactionEventId } from './reaction-id';
import type { RecordSigner } from './signing';

export interface PublisherOptions {
  kafka: Kafka;
  codec: RegistryCodec;
  signer: RecordSigner;
  /** The producing service, sent as the producer header. */
  service: string;
  /** How long a record waits for others to share its request. Default 2 ms. */
  lingerMs?: number;
  /** Most records in one request. Default 1000. */
  maxBatchSize?: number;
  /** Default time a `publish` may take until acknowledged. Default 30 s. */
  timeoutMs?: number;
}

/** The consumed record an event is a reaction to: it passes on its correlation id and becomes the causation. */
export interface Cause {
  eventId: string;
  correlationId: string;
}

export interface PublishOptions {
  /** Defaults to the cause's correlation id, else a new id (the event's own id). */
  correlationId?: string;
  causationId?: string;
  causedBy?: Cause;
  /**
   * Defaults to a function of `causedBy` (the same cause gives the same reaction id), else a new
   * UUIDv7. Set it to make a retried command produce the same event id.
   */
  eventId?: string;
  timestamp?: Date;
  timeoutMs?: number;
  /**
   * Called once if this publish was rejected with TDL_MSG_PUBLISH_TIMEOUT after its record was
   * sent, when the producer's request finally ends: the outcome the caller could not wait for.
   */
  onLateOutcome?: (outcome: LateOutcome) => void;
  /** Extra headers (not signed). */
  headers?: Headers;
}

/** Where an acknowledged record is. */
export interface PublishReceipt {
  topic: string;
  partition: number;
  offset: string;
  eventId: string;
  correlationId: string;
}

/**
 * What became of a record whose publish timed out after it was sent: acknowledged (it is in the
 * log at `position`), or the request failed too (still unknown: it may have been written).
 */
export type LateOutcome =
  { acknowledged: true; position: RecordPosition } | { acknowledged: false; error: MessagingError };

/** A record as bytes, for forwarding (retry, dead-letter and redrive). */
export interface OutgoingRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Strings, or a forwarded record's original header bytes (repeated names as arrays). */
  headers: WireHeaders;
  timestamp?: string;
  partition?: number;
}

/** A record ready to send: encoded, with identity headers, signed. */
export interface PreparedRecord {
  record: OutgoingRecord;
  eventId: string;
  correlationId: string;
}

export interface RecordPosition {
  topic: string;
  partition: number;
  offset: string;
}

interface Pending {
  message: Message;
  topic: string;
  deadline: number;
  state: 'queued' | 'sent' | 'settled';
  onLateOutcome?: (outcome: LateOutcome) => void;
  resolve: (position: RecordPosition) => void;
  reject: (error: MessagingError) => void;
}

const SWEEP_INTERVAL_MS = 50;

/**
 * Publishes typed events with an idempotent, acks=all producer. Concurrent calls within the
 * linger window share one produce request (kafkajs has no linger of its own); each call
 * resolves only when its own record was acknowledged, and rejects with a typed
 * MessagingError when it was not. One request is in flight at a time, which keeps
 * per-partition order; records arriving meanwhile form the next request.
 */
export class Publisher {
  private producer: Producer;
  private readonly assigned = new WeakMap<Message, number>();
  private readonly lingerMs: number;
  private readonly maxBatchSize: number;
  private readonly timeoutMs: number;
  private queue: Pending[] = [];
  private inFlight: Pending[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private idle: (() => void) | undefined;
  private readonly counters = { requests: 0, records: 0, failedRequests: 0 };

  constructor(private readonly options: PublisherOptions) {
    this.lingerMs = options.lingerMs ?? 2;
    this.maxBatchSize = options.maxBatchSize ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.producer = this.newProducer();
  }

  private newProducer(): Producer {
    const assigned = this.assigned;
    return this.options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Remember the partition the default (Java-compatible murmur2) partitioner picks, to
      // turn the broker's base offset per partition into each record's offset.
      createPartitioner: () => {
        const partition = Partitioners.DefaultPartitioner();
        return (args) => {
          const chosen = partition(args);
          assigned.set(args.message, chosen);
          return chosen;
        };
      },
    });
  }

  /**
   * The broker refused the producer's sequence numbers (a request it never wrote, after a
   * leader failover or a timed-out request): kafkajs keeps the numbers and never asks for a new
   * producer id, so every later request to that partition would be refused the same way. A new
   * producer (new id, sequences from 0) takes the next request; the old one is let go.
   */
  private replaceProducer(): void {
    const old = this.producer;
    this.producer = this.newProducer();
    this.connecting = undefined;
    void old.disconnect().catch(() => undefined);
  }

  /** Produce requests sent and records acknowledged so far. */
  stats(): { requests: number; records: number; failedRequests: number } {
    return { ...this.counters };
  }

  /** Connects now (otherwise the first publish does). Rejects with TDL_MSG_KAFKA_UNAVAILABLE. */
  connect(): Promise<void> {
    if (!this.connecting) {
      this.connecting = this.producer.connect().catch((error: unknown) => {
        this.connecting = undefined;
        throw kafkaError(error);
      });
    }
    return this.connecting;
  }

  /** Encodes, signs and publishes one event; resolves with its position once Kafka acknowledged it. */
  async publish<Value>(
    topic: TopicDescriptor<Value>,
    key: string,
    value: Value,
    options: PublishOptions = {},
  ): Promise<PublishReceipt> {
    const bytes = await this.options.codec.encode(topic, value);
    return this.publishBytes(topic, key, bytes, options);
  }

  /** Publishes a signed tombstone (null value): on a compacted topic it deletes the key. */
  tombstone(
    topic: TopicDescriptor<unknown>,
    key: string,
    options: PublishOptions = {},
  ): Promise<PublishReceipt> {
    return this.publishBytes(topic, key, null, options);
  }

  private async publishBytes(
    topic: TopicDescriptor<unknown>,
    key: string,
    bytes: Buffer | null,
    options: PublishOptions,
  ): Promise<PublishReceipt> {
    const { span, ...prepared } = this.prepareBytes(topic, key, bytes, options);
    const position = await traced(
      span,
      this.enqueue(prepared.record, options.timeoutMs, options.onLateOutcome),
    );
    return { ...position, eventId: prepared.eventId, correlationId: prepared.correlationId };
  }

  /**
   * Encodes, adds the identity headers and signs, without sending: for a caller that sends
   * inside a Kafka transaction (the consumer's transactional mode).
   */
  async prepare<Value>(
    topic: TopicDescriptor<Value>,
    key: string,
    value: Value,
    options: PublishOptions = {},
  ): Promise<PreparedRecord> {
    const { span, ...prepared } = this.prepareBytes(
      topic,
      key,
      await this.options.codec.encode(topic, value),
      options,
    );
    span?.end(); // its record is written by the caller's transaction
    return prepared;
  }

  private prepareBytes(
    topic: TopicDescriptor<unknown>,
    key: string,
    bytes: Buffer | null,
    options: PublishOptions,
  ): PreparedRecord & { span: Span | undefined } {
    const eventId =
      options.eventId ??
      (options.causedBy ? reactionEventId(options.causedBy.eventId, topic.name, key) : uuidv7());
    const correlationId = options.correlationId ?? options.causedBy?.correlationId ?? eventId;
    const causationId = options.causationId ?? options.causedBy?.eventId;
    const headers: Headers = {
      ...options.headers,
      [HEADER.specVersion]: '1.0',
      [HEADER.eventId]: eventId,
      [HEADER.eventType]: topic.eventType,
      [HEADER.producer]: this.options.service,
      [HEADER.producedAt]: new Date().toISOString(),
      [HEADER.correlationId]: correlationId,
    };
    if (bytes !== null) headers[HEADER.contentType] = AVRO_CONTENT_TYPE;
    if (causationId !== undefined) headers[HEADER.causationId] = causationId;
    // A producer span per record (tracing on); its context travels in the record's traceparent.
    const parent = context.active();
    const span = tracingEnabled()
      ? tracer.startSpan(`send ${topic.name}`, { kind: SpanKind.PRODUCER }, parent)
      : undefined;
    if (span?.isRecording()) {
      span.setAttributes({
        [ATTR.system]: 'kafka',
        [ATTR.operationName]: 'send',
        [ATTR.operationType]: 'send',
        [ATTR.destination]: topic.name,
        [ATTR.messageId]: eventId,
        [ATTR.key]: key,
        'tideline.correlation_id': correlationId,
      });
    }
    propagation.inject(span ? trace.setSpan(parent, span) : parent, headers);
    const keyBytes = Buffer.from(key);
    this.options.signer.sign(topic.name, keyBytes, bytes, headers);
    const record: OutgoingRecord = { topic: topic.name, key: keyBytes, value: bytes, headers };
    if (options.timestamp) record.timestamp = String(options.timestamp.getTime());
    return { record, eventId, correlationId, span };
  }

  /**
   * Publishes a record as it is (bytes, headers but the trace context): for retry,
   * dead-letter and redrive. Its producer span continues the active trace (the handling of
   * the record that failed), else the trace the record carries (a redrive); the forwarded
   * record's `traceparent` names that span, so the trace id stays the original one.
   */
  send(record: OutgoingRecord, timeoutMs = this.timeoutMs): Promise<RecordPosition> {
    const active = context.active();
    const parent = trace.getSpan(active) === undefined ? contextOf(textHeaders(record.headers)) : active;
    const span = tracer.startSpan(`send ${record.topic}`, { kind: SpanKind.PRODUCER }, parent);
    if (span.isRecording()) {
      span.setAttributes({
        [ATTR.system]: 'kafka',
        [ATTR.operationName]: 'send',
        [ATTR.operationType]: 'send',
        [ATTR.destination]: record.topic,
        [ATTR.messageId]: textHeaders(record.headers)[HEADER.eventId] ?? '',
      });
    }
    const headers: WireHeaders = { ...record.headers };
    propagation.inject(trace.setSpan(parent, span), headers);
    return traced(span, this.enqueue({ ...record, headers }, timeoutMs));
  }

  private enqueue(
    record: OutgoingRecord,
    timeoutMs = this.timeoutMs,
    onLateOutcome?: (outcome: LateOutcome) => void,
  ): Promise<RecordPosition> {
    if (this.closed) {
      return Promise.reject(
        new MessagingError(
          'TDL_MSG_PUBLISHER_CLOSED',
          `cannot publish to ${record.topic}: the publisher is closed`,
        ),
      );
    }
    return new Promise<RecordPosition>((resolve, reject) => {
      const message: Message = { key: record.key, value: record.value, headers: record.headers };
      if (record.timestamp !== undefined) message.timestamp = record.timestamp;
      if (record.partition !== undefined) message.partition = record.partition;
      this.queue.push({
        message,
        topic: record.topic,
        deadline: Date.now() + timeoutMs,
        state: 'queued',
        onLateOutcome,
        resolve,
        reject,
      });
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      if (this.queue.length >= this.maxBatchSize) this.flush();
      else this.lingerTimer ??= setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  /**
   * Sends what is queued and waits until every record was acknowledged or failed (each
   * within its own timeout), then disconnects.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.unsettled() > 0) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        this.flush();
      });
    }
    this.stopTimers();
    await this.producer.disconnect();
  }

  private unsettled(): number {
    return [...this.queue, ...this.inFlight].filter((p) => p.state !== 'settled').length;
  }

  private flush(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.inFlight.length > 0) return; // the in-flight request's completion flushes again
    const batch = this.queue.splice(0, this.maxBatchSize).filter((p) => p.state === 'queued');
    if (batch.length === 0) {
      this.settleIdle();
      return;
    }
    this.inFlight = batch;
    void this.sendBatch(batch).finally(() => {
      this.inFlight = [];
      if (this.queue.length > 0) this.flush();
      else this.settleIdle();
    });
  }

  private async sendBatch(queued: Pending[]): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      const typed = kafkaError(error);
      for (const pending of queued) settle(pending, () => pending.reject(typed));
      return;
    }
    // Records that timed out while the producer connected are not sent: their callers were
    // told they were not written, and that must stay true.
    const batch = queued.filter((p) => p.state === 'queued');
    if (batch.length === 0) return;
    for (const pending of batch) pending.state = 'sent';
    const byTopic = new Map<string, Message[]>();
    for (const pending of batch) {
      const messages = byTopic.get(pending.topic) ?? [];
      messages.push(pending.message);
      byTopic.set(pending.topic, messages);
    }
    let metadata: RecordMetadata[];
    this.counters.requests += 1;
    try {
      const remaining = Math.max(...batch.map((p) => p.deadline)) - Date.now();
      metadata = await this.producer.sendBatch({
        acks: -1,
        timeout: Math.max(1000, Math.min(30_000, remaining)),
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (error) {
      this.counters.failedRequests += 1;
      // The request reached the broker's socket: it may have been written all the same.
      let typed = kafkaError(error, { sent: true });
      const lost = producerStateLost(error);
      if (lost !== undefined && !this.closed) {
        this.replaceProducer();
        // Retryable: the next request goes out on the new producer. Still `sent`: an earlier
        // request with these records may have been written before its answer was lost.
        typed = new MessagingError(
          'TDL_MSG_KAFKA_UNAVAILABLE',
          `Kafka refused the producer's state (${lost}); a new producer takes the next request: ${typed.message}`,
          { cause: error, details: { sent: true, type: lost, producerReplaced: true } },
        );
      }
      for (const pending of batch) {
        if (pending.state === 'settled') pending.onLateOutcome?.({ acknowledged: false, error: typed });
        settle(pending, () => pending.reject(typed));
      }
      return;
    }
    const baseOffsets = new Map(
      metadata.map((m) => [`${m.topicName}:${m.partition}`, BigInt(m.baseOffset ?? '-1')]),
    );
    this.counters.records += batch.length;
    const next = new Map<string, bigint>();
    for (const pending of batch) {
      const partition = pending.message.partition ?? this.assigned.get(pending.message) ?? -1;
      const slot = `${pending.topic}:${partition}`;
      const offset = next.get(slot) ?? baseOffsets.get(slot) ?? -1n;
      next.set(slot, offset + 1n);
      const position = { topic: pending.topic, partition, offset: String(offset) };
      if (pending.state === 'settled') pending.onLateOutcome?.({ acknowledged: true, position });
      settle(pending, () => pending.resolve(position), 'acked');
    }
  }

  /** Rejects records whose deadline passed; a queued one is dropped, so it is never sent after being reported failed. */
  private sweep(): void {
    const now = Date.now();
    for (const pending of [...this.queue, ...this.inFlight]) {
      if (pending.state === 'settled' || pending.deadline > now) continue;
      const sent = pending.state === 'sent';
      settle(pending, () =>
        pending.reject(
          new MessagingError(
            'TDL_MSG_PUBLISH_TIMEOUT',
            sent
              ? `no acknowledgement for a record to ${pending.topic} in time; it may or may not have been written`
              : `a record to ${pending.topic} was not sent in time (Kafka busy or unreachable); it was not written`,
            { details: { sent, topic: pending.topic } },
          ),
        ),
      );
    }
    this.queue = this.queue.filter((p) => p.state !== 'settled');
    this.settleIdle();
    if (this.queue.length === 0 && this.inFlight.length === 0) this.stopTimers();
  }

  private stopTimers(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private settleIdle(): void {
    if (this.idle && this.unsettled() === 0) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }
}

/** The single-valued string headers of an outgoing record (what tracing reads). */
function textHeaders(headers: WireHeaders): Headers {
  const text: Headers = {};
  for (const [name, value] of Object.entries(headers)) if (typeof value === 'string') text[name] = value;
  return text;
}

function settle(pending: Pending, action: () => void, outcome: 'acked' | 'failed' = 'failed'): void {
  if (pending.state === 'settled') return;
  pending.state = 'settled';
  if (metricsEnabled()) producedBy.get(pending.topic, outcome).inc();
  action();
}

/** Ends `span` when the record is acknowledged (with where it went) or failed. */
async function traced(span: Span | undefined, sent: Promise<RecordPosition>): Promise<RecordPosition> {
  if (span === undefined) return sent;
  try {
    const position = await sent;
    if (span.isRecording())
      span.setAttributes({
        [ATTR.partition]: String(position.partition),
        [ATTR.offset]: Number(position.offset),
      });
    return position;
  } catch (error) {
    failSpan(span, error, isMessagingError(error) ? error.code : 'TDL_MSG_KAFKA_UNAVAILABLE');
    throw error;
  } finally {
    span.end();
  }
}

interface KafkaJsError {
  name?: string;
  type?: string;
  retriable?: boolean;
  message?: string;
  cause?: KafkaJsError;
}

/** Broker errors that mean the idempotent producer's id or sequence numbers are out of step with the broker. */
const PRODUCER_STATE_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
]);

/** The producer-state error type in a kafkajs error (or its causes), if there is one. */
export function producerStateLost(error: unknown): string | undefined {
  let cause = (typeof error === 'object' && error !== null ? error : undefined) as KafkaJsError | undefined;
  for (let depth = 0; cause && depth < 5; depth++) {
    if (cause.type !== undefined && PRODUCER_STATE_ERRORS.has(cause.type)) return cause.type;
    cause = cause.cause;
  }
  return undefined;
}

/** Maps a kafkajs error to TDL_MSG_KAFKA_UNAVAILABLE (retryable) or TDL_MSG_PUBLISH_REJECTED. */
export function kafkaError(error: unknown, details: Record<string, unknown> = {}): MessagingError {
  if (isMessagingError(error)) return error;
  let cause = (typeof error === 'object' && error !== null ? error : {}) as KafkaJsError;
  // The retrier wraps the last attempt's error (retries exhausted) or a non-retriable one.
  while (
    (cause.name === 'KafkaJSNumberOfRetriesExceeded' || cause.name === 'KafkaJSNonRetriableError') &&
    cause.cause
  )
    cause = cause.cause;
  const connection = /Connection|Timeout|BrokerNotFound|NotImplemented|Metadata|LockTimeout/.test(
    cause.name ?? '',
  );
  const rejected =
    !connection &&
    cause.name === 'KafkaJSProtocolError' &&
    (cause.retriable === false || cause.type === 'UNKNOWN_TOPIC_OR_PARTITION');
  const outer = (typeof error === 'object' && error !== null ? error : {}) as KafkaJsError;
  const message = typeof outer.message === 'string' ? outer.message : String(error);
  return rejected
    ? new MessagingError('TDL_MSG_PUBLISH_REJECTED', `Kafka refused the records: ${message}`, {
        cause: error,
        details: { ...details, type: cause.type },
      })
    : new MessagingError('TDL_MSG_KAFKA_UNAVAILABLE', `Kafka did not acknowledge the records: ${message}`, {
        cause: error,
        details,
      });
}
