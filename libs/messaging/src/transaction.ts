import { metricsEnabled } from '@tideline/observability';
import type { Message, Producer } from 'kafkajs';
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
  ) {}

  get size(): number {
    return this.records.length;
  }

  add(record: OutgoingRecord): void {
    this.records.push(record);
  }

  /** Writes the collected records and `done + 1` as the group's offset in one transaction. */
  async commit(done: string): Promise<void> {
    if (this.committed === done && this.records.length === 0) return;
    const transaction = await this.producer.transaction().catch((error: unknown) => {
      throw kafkaError(error);
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
      await transaction.abort().catch(() => undefined);
      if (metricsEnabled()) for (const record of this.records) producedBy.get(record.topic, 'failed').inc();
      this.records = [];
      throw kafkaError(error);
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
