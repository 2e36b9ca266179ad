import { metricsEnabled } from '@tideline/observability';
import type { Message, Producer } from 'kafkajs';
import { MessagingError } from './errors';
import { producedBy } from './instrumentation';
import { kafkaError, type OutgoingRecord } from './publisher';

/**
 * The output of one partition's batch in a transactional consumer: records to write and
 * the consumed offset, committed together or not at all.
 */
export class BatchTransaction {
  private records: OutgoingRecord[] = [];
  /** The last offset whose transaction committed. */
  committed: string | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly groupId: string,
    private readonly topic: string,
    private readonly partition: number,
    private readonly timeoutMs: number,
  ) {}

  get size(): number {
    return this.records.length;
  }

  add(record: OutgoingRecord): void {
    this.records.push(record);
  }

  /**
   * Writes the collected records and `done + 1` as the group's offset in one transaction.
   * @throws MessagingError TDL_MSG_PRODUCER_FENCED, TDL_MSG_TRANSACTION_TIMEOUT (the producer is
   * unusable: take a new one), TDL_MSG_PUBLISH_REJECTED, TDL_MSG_KAFKA_UNAVAILABLE.
   */
  async commit(done: string): Promise<void> {
    if (this.committed === done && this.records.length === 0) return;
    const started = Date.now();
    const transaction = await this.producer.transaction().catch((error: unknown) => {
      throw transactionError(error, Date.now() - started, this.timeoutMs);
    });
    try {
      if (this.records.length > 0) {
        const byTopic = new Map<string, Message[]>();
        for (const record of this.records) {
          const message: Message = { key: record.key, value: record.value, headers: record.headers };
          if (record.timestamp !== undefined) message.timestamp = record.timestamp;
          byTopic.set(record.topic, [...(byTopic.get(record.topic) ?? []), message]);
        }
        await transaction.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      }
      await transaction.sendOffsets({
        consumerGroupId: this.groupId,
        topics: [
          {
            topic: this.topic,
            partitions: [{ partition: this.partition, offset: String(BigInt(done) + 1n) }],
          },
        ],
      });
      await transaction.commit();
    } catch (error) {
      // Best effort only: after a failed EndTxn kafkajs stays in COMMITTING and refuses to abort;
      // the next producer's InitProducerId makes the coordinator finish or abort it.
      await transaction.abort().catch(() => undefined);
      if (metricsEnabled()) for (const record of this.records) producedBy.get(record.topic, 'failed').inc();
      this.records = [];
      throw transactionError(error, Date.now() - started, this.timeoutMs);
    }
    if (metricsEnabled()) for (const record of this.records) producedBy.get(record.topic, 'acked').inc();
    this.records = [];
    this.committed = done;
  }

  /** Drops what was collected since the last commit (the records will run again). */
  abort(): void {
    this.records = [];
  }
}

interface KafkaJsCause {
  name?: string;
  type?: string;
  message?: string;
  cause?: KafkaJsCause;
}

// What the coordinator answers a producer whose epoch is no longer current: another producer
// took its transactional id (InitProducerId), or the coordinator aborted its transaction after
// transaction.timeout.ms and bumped the epoch (KIP-588). kafkajs 2.2 knows no PRODUCER_FENCED
// (code 90, sent to newer request versions) and reports it as an unknown code.
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'INVALID_TXN_STATE']);

function fencedCause(error: unknown): KafkaJsCause | undefined {
  let cause = (typeof error === 'object' && error !== null ? error : {}) as KafkaJsCause;
  for (let depth = 0; depth < 5 && cause; depth += 1) {
    if (cause.type !== undefined && FENCED_TYPES.has(cause.type)) return cause;
    if (cause.type === 'KAFKAJS_UNKNOWN_ERROR_CODE' && /\b90\b/.test(cause.message ?? '')) return cause;
    // kafkajs' state machine once a commit failed half-way (COMMITTING) or an abort did.
    if (/Transaction state exception/.test(cause.message ?? '')) return cause;
    cause = cause.cause as KafkaJsCause;
  }
  return undefined;
}

/**
 * What a failed transaction means for its producer. Fenced or timed out (its transaction ran
 * longer than `timeoutMs`, e.g. the process was paused): that producer can never commit again,
 * a new one must be initialised. Otherwise as any publish error (rejected, Kafka unavailable).
 */
export function transactionError(error: unknown, elapsedMs: number, timeoutMs: number): MessagingError {
  const fenced = fencedCause(error);
  if (fenced === undefined) return kafkaError(error);
  const message = (error as { message?: string }).message ?? String(error);
  return elapsedMs >= timeoutMs
    ? new MessagingError(
        'TDL_MSG_TRANSACTION_TIMEOUT',
        `the transaction ran ${elapsedMs} ms, past its timeout of ${timeoutMs} ms, and was aborted: ${message}`,
        { cause: error, details: { elapsedMs, timeoutMs, type: fenced.type } },
      )
    : new MessagingError(
        'TDL_MSG_PRODUCER_FENCED',
        `the transactional producer was fenced (another producer took its transactional id, or the coordinator aborted its transaction): ${message}`,
        { cause: error, details: { type: fenced.type } },
      );
}
