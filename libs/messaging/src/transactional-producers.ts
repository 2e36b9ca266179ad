import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from './log';

interface Slot {
  producer: Promise<Producer>;
  /** The group's committed offset was read after this producer's InitProducerId. */
  verified: boolean;
}

/**
 * kafkajs sends the transactional InitProducerId at a producer's first `transaction()`, not at
 * `connect()` (that one initialises a separate, non-transactional id). Begin and end an empty
 * transaction (no request to the coordinator) to have it now: it fences the id's previous
 * producer and makes the coordinator complete or abort what that one left open.
 */
async function initTransactions(producer: Producer): Promise<Producer> {
  const transaction = await producer.transaction();
  await transaction.abort();
  return producer;
}

/**
 * The transactional producers of one consumer, one per input partition
 * (`<prefix>-<topic>-<partition>`). kafkajs initialises a producer id once per producer and
 * never again: a producer that was fenced (the partition's next owner initialised the same id)
 * or whose transaction the coordinator aborted on timeout fails every later transaction. So a
 * producer lives only as long as it works and its partition stays assigned: `drop` after any
 * failed transaction and on revocation; the next `acquire` initialises a new one, which makes
 * the coordinator complete or abort whatever the old one left open.
 */
export class TransactionalProducers {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly options: {
      kafka: Kafka;
      transactionalIdPrefix: string;
      transactionTimeoutMs: number;
      groupId: string;
      logger: Logger;
    },
  ) {}

  /** The partition's producer, connected (InitProducerId done); `verified` false for a new one. */
  async acquire(topic: string, partition: number): Promise<{ producer: Producer; verified: boolean }> {
    const key = `${topic}:${partition}`;
    let slot = this.slots.get(key);
    if (!slot) {
      const created = this.options.kafka.producer({
        transactionalId: this.transactionalId(topic, partition),
        transactionTimeout: this.options.transactionTimeoutMs,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      const producer = created.connect().then(() => initTransactions(created));
      const fresh: Slot = { producer, verified: false };
      producer.catch(() => {
        if (this.slots.get(key) === fresh) this.slots.delete(key);
      });
      this.slots.set(key, fresh);
      slot = fresh;
    }
    return { producer: await slot.producer, verified: slot.verified };
  }

  /** The group's committed offset was read since this producer's InitProducerId: work may start. */
  markVerified(topic: string, partition: number): void {
    const slot = this.slots.get(`${topic}:${partition}`);
    if (slot) slot.verified = true;
  }

  transactionalId(topic: string, partition: number): string {
    return `${this.options.transactionalIdPrefix}-${topic}-${partition}`;
  }

  /** Disconnects the partition's producer; the next `acquire` initialises a new one. */
  drop(topic: string, partition: number, reason: string): void {
    const key = `${topic}:${partition}`;
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    this.options.logger.info(
      {
        groupId: this.options.groupId,
        topic,
        partition,
        transactionalId: this.transactionalId(topic, partition),
        reason,
      },
      'transactional producer dropped',
    );
    void slot.producer.then((producer) => producer.disconnect()).catch(() => undefined);
  }

  /** Drops the producers of partitions not in `assignments` (they were revoked). */
  retain(assignments: Record<string, number[]>): void {
    for (const key of [...this.slots.keys()]) {
      const at = key.lastIndexOf(':');
      const topic = key.slice(0, at);
      const partition = Number(key.slice(at + 1));
      if (!(assignments[topic] ?? []).includes(partition)) this.drop(topic, partition, 'partition revoked');
    }
  }

  async closeAll(): Promise<void> {
    const slots = [...this.slots.values()];
    this.slots.clear();
    for (const slot of slots) await slot.producer.then((p) => p.disconnect()).catch(() => undefined);
  }
}
