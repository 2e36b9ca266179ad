import { metricsEnabled } from '@tideline/observability';
import { describeFailure } from './failure';
import { blockedPartitions } from './instrumentation';
import type { Logger } from './log';

/** A partition that cannot move on: Kafka rejected the record it has to write (a dead letter, a retry, a transaction). */
export interface BlockedPartition {
  topic: string;
  partition: number;
  /** Where the rejected write went, and why Kafka refused it. */
  reason: string;
  /** Epoch ms of the first rejection in a row. */
  since: number;
  failures: number;
}

const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * The partitions of one consumer whose forward writes Kafka rejects (a record too large once
 * the failure headers are added, an ACL refusal, a deleted dead-letter topic). Such a
 * partition is not skipped past (its record would be lost) and does not crash the consumer:
 * it waits with backoff (1 s doubling to 30 s), tries again, and is reported (status, the
 * tideline_consumer_partition_blocked gauge, an error log line per rejection) until a write succeeds.
 */
export class PartitionBlocks {
  private readonly slots = new Map<string, BlockedPartition>();

  constructor(
    private readonly groupId: string,
    private readonly logger: Logger,
  ) {}

  /** Records a rejected write; returns how long to wait before trying again. */
  block(topic: string, partition: number, target: string, error: unknown): number {
    const slot = `${topic}:${partition}`;
    const failure = describeFailure(error, target);
    const reason = `writing to ${target} was rejected (${failure.code}): ${failure.message}`;
    const known = this.slots.get(slot);
    const failures = (known?.failures ?? 0) + 1;
    this.slots.set(slot, { topic, partition, reason, since: known?.since ?? Date.now(), failures });
    const backoffMs = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(failures - 1, 10));
    if (metricsEnabled())
      blockedPartitions.set({ group: this.groupId, topic, partition: String(partition) }, 1);
    this.logger.error(
      {
        groupId: this.groupId,
        topic,
        partition,
        target,
        errorCode: failure.code,
        error: failure.message,
        failures,
        retryInMs: backoffMs,
      },
      'partition blocked: Kafka rejected a write; retrying with backoff',
    );
    return backoffMs;
  }

  /** A record of the partition got its outcome: it is no longer blocked. */
  clear(topic: string, partition: number): void {
    if (this.slots.size === 0) return;
    const slot = `${topic}:${partition}`;
    const known = this.slots.get(slot);
    if (known === undefined) return;
    this.slots.delete(slot);
    if (metricsEnabled())
      blockedPartitions.set({ group: this.groupId, topic, partition: String(partition) }, 0);
    this.logger.info(
      {
        groupId: this.groupId,
        topic,
        partition,
        blockedMs: Date.now() - known.since,
        failures: known.failures,
      },
      'partition unblocked: the write went through',
    );
  }

  list(): BlockedPartition[] {
    return [...this.slots.values()].map((b) => ({ ...b }));
  }
}

/** A /readyz check: fails naming each blocked partition and why (`status().blocked` of a consumer). */
export function blockedPartitionsCheck(blocked: readonly BlockedPartition[]): () => Promise<void> {
  if (blocked.length === 0) return () => Promise.resolve();
  const named = blocked.map(
    (b) => `${b.topic}:${b.partition} since ${new Date(b.since).toISOString()}: ${b.reason}`,
  );
  return () => Promise.reject(new Error(`partitions blocked: ${named.join('; ')}`));
}
