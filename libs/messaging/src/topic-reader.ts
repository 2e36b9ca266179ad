import type { EachBatchPayload, Kafka } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import { MessagingError, kafkaUnavailable } from './errors';
import { readHeaders, type Headers } from './headers';

/** One record as read, bytes untouched. */
export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka timestamp, ms since the epoch. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

/** How far a read is, in offsets (control records and aborted records count as read). */
export interface ReadProgress {
  done: number;
  total: number;
}

export interface ReadTopicOptions {
  kafka: Kafka;
  topic: string;
  /** First offset per partition; a partition not listed starts at its log start. */
  from?: ReadonlyMap<number, bigint>;
  /**
   * Where each partition's read ends (exclusive). Default: the high watermark when the read starts,
   * so the read is bounded however fast the topic grows. A partition not listed is not read.
   */
  until?: ReadonlyMap<number, bigint>;
  /** Every record, in offset order per partition (one partition at a time unless `concurrently`). */
  onRecord(record: TopicRecord): void | Promise<void>;
  onProgress?(progress: ReadProgress): void;
  /** Handle several partitions at the same time (onRecord must then be safe to interleave). Default false. */
  concurrently?: boolean;
  /** Fail with TDL_MSG_READ_STALLED when no offset was read for this long. Default 30 s. */
  stallTimeoutMs?: number;
  /** Prefix of the private consumer group the read uses (and deletes afterwards). */
  groupPrefix?: string;
}

export interface ReadSummary {
  topic: string;
  /** Offsets read over all partitions. */
  read: number;
  /** The range read per partition: [from, until). */
  partitions: { partition: number; from: string; until: string }[];
}

/**
 * Reads a range of a topic once, as a tool does (a DLT scan, a redrive): each partition from `from` (default its
 * log start) up to `until` (default the high watermark at start), then resolves. Reads committed records only.
 * kafkajs reads only through a consumer group, so the read joins a private group that never commits
 * (`<groupPrefix>.<topic>.<uuid>`) and deletes it at the end.
 *
 * @throws MessagingError TDL_MSG_KAFKA_UNAVAILABLE, TDL_MSG_READ_STALLED, or what `onRecord` throws.
 */
export async function readTopic(options: ReadTopicOptions): Promise<ReadSummary> {
  const { kafka, topic } = options;
  const stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
  const admin = kafka.admin();
  const groupId = `${options.groupPrefix ?? 'tideline.reader'}.${topic}.${uuidv7()}`;
  let ranges: Map<number, { from: bigint; until: bigint }>;
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    ranges = new Map();
    for (const { partition, low, high } of offsets) {
      const until = options.until ? options.until.get(partition) : BigInt(high);
      if (until === undefined) continue;
      const lowest = BigInt(low);
      const wanted = options.from?.get(partition) ?? lowest;
      const from = wanted < lowest ? lowest : wanted;
      ranges.set(partition, { from, until });
    }
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    throw kafkaUnavailable(error);
  }
  const summary: ReadSummary = {
    topic,
    read: 0,
    partitions: [...ranges]
      .sort(([a], [b]) => a - b)
      .map(([partition, r]) => ({ partition, from: r.from.toString(), until: r.until.toString() })),
  };
  const positions = new Map([...ranges].map(([partition, r]) => [partition, r.from]));
  const total = [...ranges.values()].reduce(
    (sum, r) => sum + Number(r.until > r.from ? r.until - r.from : 0n),
    0,
  );
  const pending = new Set([...ranges].filter(([, r]) => r.from < r.until).map(([partition]) => partition));
  if (pending.size === 0) {
    await admin.disconnect().catch(() => undefined);
    options.onProgress?.({ done: 0, total: 0 });
    return summary;
  }

  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
    sessionTimeout: 30_000,
  });
  let lastMove = Date.now();
  let failed: ((error: unknown) => void) | undefined;
  let finished: (() => void) | undefined;
  const outcome = new Promise<void>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  const advance = (partition: number, next: bigint): void => {
    const range = ranges.get(partition);
    const position = positions.get(partition);
    if (!range || position === undefined) return;
    const capped = next > range.until ? range.until : next;
    if (capped <= position) return;
    summary.read += Number(capped - position);
    positions.set(partition, capped);
    lastMove = Date.now();
    if (capped >= range.until) pending.delete(partition);
    options.onProgress?.({ done: summary.read, total });
    if (pending.size === 0) finished?.();
  };
  // Batches of only control records (transaction markers) or aborted records never reach eachBatch.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic === topic) advance(payload.partition, BigInt(payload.lastOffset) + 1n);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) failed?.(kafkaUnavailable(payload.error));
  });
  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload;
    const range = ranges.get(batch.partition);
    if (!range) return;
    for (const message of batch.messages) {
      if (!payload.isRunning() || payload.isStale() || pending.size === 0) return;
      const offset = BigInt(message.offset);
      if (offset >= range.until) break;
      if (offset >= (positions.get(batch.partition) ?? range.from)) {
        await options.onRecord({
          topic,
          partition: batch.partition,
          offset: message.offset,
          timestamp: Number(message.timestamp),
          key: message.key,
          value: message.value,
          headers: readHeaders(message.headers),
        });
      }
      advance(batch.partition, offset + 1n);
      await payload.heartbeat();
    }
  };
  const watchdog = setInterval(
    () => {
      if (Date.now() - lastMove < stallTimeoutMs) return;
      const stuck = [...pending].map((p) => `${p}@${positions.get(p)}/${ranges.get(p)?.until}`).join(', ');
      failed?.(
        new MessagingError(
          'TDL_MSG_READ_STALLED',
          `reading ${topic} made no progress for ${Math.round(stallTimeoutMs / 1000)} s (partition@offset/end: ${stuck}); an open transaction or an unreachable broker holds it`,
          { details: { topic, groupId } },
        ),
      );
    },
    Math.min(1000, stallTimeoutMs),
  );
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: options.concurrently ? Math.max(1, ranges.size) : 1,
      eachBatch: async (payload) => {
        try {
          await eachBatch(payload);
        } catch (error) {
          failed?.(error);
          throw error;
        }
      },
    });
    for (const [partition, range] of ranges) {
      if (range.from < range.until) consumer.seek({ topic, partition, offset: range.from.toString() });
    }
    await outcome;
    return summary;
  } catch (error) {
    throw error instanceof Error && !(error instanceof MessagingError) && !isKafkaJsError(error)
      ? error
      : kafkaUnavailable(error);
  } finally {
    clearInterval(watchdog);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

const isKafkaJsError = (error: Error): boolean => error.name.startsWith('KafkaJS');
