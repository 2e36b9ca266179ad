import type { TopicDescriptor } from '@tideline/contracts';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import type { RegistryCodec } from './codec';
import { isMessagingError, kafkaUnavailable } from './errors';
import { describeFailure } from './failure';
import { decodeInbound, keyText, readInbound } from './inbound';
import { silentLogger, type Logger } from './log';
import type { RecordSigner } from './signing';

export interface TableOptions<Value> {
  kafka: Kafka;
  codec: RegistryCodec;
  signer: RecordSigner;
  /** A compacted topic: the latest record per key is the entity, a tombstone deletes it. */
  topic: TopicDescriptor<Value>;
  /**
   * Names the private consumer group, `<service>.table.<topic>.<instance id>`: pass the consumer
   * group the table serves (its GROUP_ID), so everything the group owns shares its prefix.
   */
  service: string;
  logger?: Logger;
}

export interface TableStats {
  size: number;
  applied: number;
  deleted: number;
  /** Records that could not be used (no key, bad signature, undecodable); each is logged. */
  skipped: number;
  ready: boolean;
}

/**
 * An in-memory table of a compacted topic. Every instance reads the whole topic from the
 * earliest offset under a private consumer group that never commits, so a late-joining
 * instance builds the same state. It is ready once it has read up to the end offsets the
 * topic had when it started; after that it stays current.
 */
export class Table<Value> {
  private readonly rows = new Map<string, Value>();
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  /** One per running instance; `stop()` deletes it (it holds no offsets). */
  readonly groupId: string;
  private readonly logger: Logger;
  private readonly targets = new Map<number, bigint>();
  private readonly positions = new Map<number, bigint>();
  private readonly stats = { applied: 0, deleted: 0, skipped: 0 };
  private isReady = false;
  private readonly readyWaiters: (() => void)[] = [];

  constructor(private readonly options: TableOptions<Value>) {
    this.logger = options.logger ?? silentLogger;
    this.groupId = `${options.service}.table.${options.topic.name}.${uuidv7()}`;
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
    });
    this.admin = options.kafka.admin();
    // Batches of only control records never reach eachBatch; their end still counts.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      this.advance(payload.partition, BigInt(payload.lastOffset) + 1n);
    });
  }

  get(key: string): Value | undefined {
    return this.rows.get(key);
  }

  has(key: string): boolean {
    return this.rows.has(key);
  }

  get size(): number {
    return this.rows.size;
  }

  entries(): IterableIterator<[string, Value]> {
    return this.rows.entries();
  }

  ready(): boolean {
    return this.isReady;
  }

  status(): TableStats {
    return { size: this.rows.size, ready: this.isReady, ...this.stats };
  }

  /** Resolves once the table has caught up with the topic's end offsets at start. */
  whenReady(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  async start(): Promise<void> {
    const topic = this.options.topic.name;
    try {
      await this.admin.connect();
      const offsets = await this.admin.fetchTopicOffsets(topic);
      await this.admin.disconnect();
      for (const { partition, high, low } of offsets) {
        this.targets.set(partition, BigInt(high));
        this.positions.set(partition, BigInt(low));
      }
      this.checkReady();
      await this.consumer.connect();
      await this.consumer.subscribe({ topic, fromBeginning: true });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.topic.partitions,
        eachBatch: (payload) => this.apply(payload),
      });
    } catch (error) {
      await this.stop();
      throw kafkaUnavailable(error);
    }
  }

  /**
   * Leaves and deletes the table's group, so restarts do not pile up groups. A crashed instance's
   * group holds no offsets: the broker drops it at its next offsets clean-up by itself.
   */
  async stop(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
    try {
      await this.admin.connect();
      await this.admin.deleteGroups([this.groupId]);
    } catch (error) {
      const groups = (error as { groups?: { error?: { type?: string } }[] }).groups;
      const neverJoined = groups?.every((g) => g.error?.type === 'GROUP_ID_NOT_FOUND') ?? false;
      if (!neverJoined)
        this.logger.warn(
          { groupId: this.groupId, error: (error as Error).message },
          'table group not deleted; the broker drops it when it expires',
        );
    }
    await this.admin.disconnect().catch(() => undefined);
  }

  private async apply(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    for (const message of batch.messages) {
      if (!payload.isRunning()) return;
      try {
        const value = await decodeInbound(
          this.options.codec,
          this.options.signer,
          this.options.topic,
          readInbound(message),
        );
        // decodeInbound refuses a record without a UTF-8 key.
        const key = keyText(message.key) ?? '';
        if (value === null) {
          if (this.rows.delete(key)) this.stats.deleted += 1;
        } else {
          this.rows.set(key, value);
          this.stats.applied += 1;
        }
      } catch (error) {
        // Registry down: stop here; kafkajs retries the batch from this record.
        if (isMessagingError(error, 'TDL_MSG_REGISTRY_UNAVAILABLE')) throw error;
        this.skip(batch.partition, message.offset, error);
      }
      payload.resolveOffset(message.offset);
      this.advance(batch.partition, BigInt(message.offset) + 1n);
      await payload.heartbeat();
    }
  }

  /**
   * A record the table cannot use (bad headers or key, bad signature, undecodable, a value it
   * cannot read): skipped, counted and logged with its reason, never dead-lettered. Every
   * instance reads the whole topic on every start, so a dead letter per instance and start
   * would pile up; the record stays in the owner's topic, where the owner's consumers see it.
   */
  private skip(partition: number, offset: string, error: unknown): void {
    const topic = this.options.topic.name;
    const failure = describeFailure(error, topic);
    this.stats.skipped += 1;
    this.logger.warn(
      {
        topic,
        partition,
        offset,
        errorCode: failure.code,
        reason: failure.message,
        fingerprint: failure.fingerprint,
      },
      'table skipped a record',
    );
  }

  private advance(partition: number, position: bigint): void {
    if (position > (this.positions.get(partition) ?? -1n)) this.positions.set(partition, position);
    if (!this.isReady) this.checkReady();
  }

  private checkReady(): void {
    for (const [partition, target] of this.targets) {
      if ((this.positions.get(partition) ?? 0n) < target) return;
    }
    this.isReady = true;
    this.logger.info({ topic: this.options.topic.name, size: this.rows.size }, 'table caught up');
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }
}

export function createTable<Value>(options: TableOptions<Value>): Table<Value> {
  return new Table(options);
}
