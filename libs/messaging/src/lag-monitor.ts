import { metricsEnabled } from '@tideline/observability';
import type { Admin } from 'kafkajs';
import { lagRecords, lagSampleFailures, lagSeconds } from './instrumentation';
import type { Logger } from './log';
import { committedOffsets, recordTimestamps, watermarks } from './offsets-admin';

/** How far a group is behind on one partition. */
export interface PartitionLagSample {
  topic: string;
  partition: number;
  /** The next offset the group reads: its committed offset, or its own stored position when further. */
  position: string;
  /** The partition's end (high watermark). */
  end: string;
  /** Records not consumed yet: `end - position`. */
  lag: number;
  /** Age of the record at `position` (the oldest not consumed), to within 1 s; 0 when `lag` is 0. */
  seconds: number;
}

/** One reading of a group's lag, the numbers `/metrics` and the dashboards show. */
export interface LagSnapshot {
  groupId: string;
  /** When it was read, epoch ms. */
  at: number;
  /** Records behind, all partitions. */
  total: number;
  /** The largest per-partition `seconds`. */
  seconds: number;
  partitions: PartitionLagSample[];
}

/** A group's own positions where it keeps them itself (a projection's store). */
export type OwnPositions = () => Promise<readonly { topic: string; partition: number; nextOffset: string }[]>;

export interface LagMonitorOptions {
  admin: Admin;
  groupId: string;
  topics: readonly string[];
  ownPositions?: OwnPositions | undefined;
  /** How often lag is read. Default 5 s; 0 reads only on `sample()`. */
  intervalMs?: number | undefined;
  logger: Logger;
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/**
 * Reads a group's lag per partition every few seconds (never per scrape): the offsets from
 * Kafka's ends and the group's committed offsets (what KEDA's Kafka scaler computes), and the
 * age of the oldest unconsumed record by a timestamp search (exact to 1 s) that starts from
 * the previous answer, so a partition that moved costs a few lookups and one that did not
 * costs none. Publishes them as tideline_consumer_lag_records and tideline_consumer_lag_seconds.
 */
export class LagMonitor {
  private timer: NodeJS.Timeout | undefined;
  private last: LagSnapshot | undefined;
  private running: Promise<LagSnapshot | undefined> | undefined;
  /** Per `topic:partition`: the timestamp of the record at `position`, as last found. */
  private readonly oldest = new Map<string, { position: bigint; timestamp: number }>();
  private failing = false;

  constructor(private readonly options: LagMonitorOptions) {}

  /** Reads the lag once now (before the group consumes anything), then every interval. */
  async start(): Promise<void> {
    await this.sample();
    const interval = this.options.intervalMs ?? 5_000;
    if (interval > 0 && this.timer === undefined) {
      this.timer = setInterval(() => void this.sample(), interval);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last reading, or undefined before the first one succeeded. */
  latest(): LagSnapshot | undefined {
    return this.last;
  }

  /** Reads the lag now (joins a reading in progress); undefined when Kafka did not answer. */
  sample(): Promise<LagSnapshot | undefined> {
    this.running ??= this.read()
      .then(
        (snapshot) => {
          this.last = snapshot;
          if (this.failing) {
            this.failing = false;
            this.options.logger.info({ groupId: this.options.groupId }, 'lag sampling recovered');
          }
          return snapshot;
        },
        (error: unknown) => {
          if (metricsEnabled()) lagSampleFailures.inc({ group: this.options.groupId });
          if (!this.failing) {
            this.failing = true;
            this.options.logger.warn(
              { groupId: this.options.groupId, err: error },
              'lag sampling failed; the lag metrics keep their last values',
            );
          }
          return undefined;
        },
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async read(): Promise<LagSnapshot> {
    const { admin, groupId, topics } = this.options;
    const [committed, own] = await Promise.all([
      committedOffsets(admin, groupId, [...topics]),
      this.options.ownPositions?.() ?? Promise.resolve([]),
    ]);
    const stored = new Map(own.map((p) => [`${p.topic}:${p.partition}`, BigInt(p.nextOffset)]));
    const now = Date.now();
    const partitions: PartitionLagSample[] = [];
    for (const topic of topics) {
      const marks = await watermarks(admin, topic);
      const rows = marks.map(({ partition, low, high }) => {
        const slot = `${topic}:${partition}`;
        const reached = max(committed.get(topic)?.get(partition) ?? low, stored.get(slot) ?? low);
        const position = reached < low ? low : reached > high ? high : reached;
        return { slot, partition, position, high, lag: high - position };
      });
      const search = new Map<number, bigint>();
      const floors = new Map<number, number>();
      for (const row of rows) {
        const known = this.oldest.get(row.slot);
        if (row.lag === 0n || known?.position === row.position) continue;
        search.set(row.partition, row.position);
        if (known !== undefined && known.position < row.position) floors.set(row.partition, known.timestamp);
      }
      const found =
        search.size > 0
          ? await recordTimestamps(admin, topic, search, now, floors)
          : new Map<number, number>();
      for (const row of rows) {
        const timestamp = found.get(row.partition);
        if (timestamp !== undefined) this.oldest.set(row.slot, { position: row.position, timestamp });
        const oldest = row.lag > 0n ? this.oldest.get(row.slot)?.timestamp : undefined;
        partitions.push({
          topic,
          partition: row.partition,
          position: String(row.position),
          end: String(row.high),
          lag: Number(row.lag),
          seconds: oldest === undefined ? 0 : Math.max(0, Math.round((now - oldest) / 1000)),
        });
      }
    }
    if (metricsEnabled()) {
      for (const p of partitions) {
        const labels = { group: groupId, topic: p.topic, partition: String(p.partition) };
        lagRecords.set(labels, p.lag);
        lagSeconds.set(labels, p.seconds);
      }
    }
    return {
      groupId,
      at: now,
      total: partitions.reduce((sum, p) => sum + p.lag, 0),
      seconds: partitions.reduce((most, p) => Math.max(most, p.seconds), 0),
      partitions,
    };
  }
}
