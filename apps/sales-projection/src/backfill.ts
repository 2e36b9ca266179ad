/** Where one partition's backfill starts and what it must reach. */
export interface BackfillPartition {
  topic: string;
  partition: number;
  /** The position the projection had at start (the earliest offset when it had none). */
  start: bigint;
  /** The partition's end (high watermark) at start. */
  target: bigint;
}

export interface BackfillProgress {
  /** Records (offsets) between the start positions and the ends seen at start. */
  total: number;
  /** Of those, how many the projection is past. */
  done: number;
  /** Whether every partition reached the end it had at start (stays true once it was). */
  caughtUp: boolean;
  startedAt: string;
  /** When it caught up, or null. */
  caughtUpAt: string | null;
  /** Records per second from start to now (or to catching up). */
  eventsPerSecond: number;
}

const slotOf = (topic: string, partition: number) => `${topic}:${partition}`;

/**
 * The backfill a projection does when it starts: from its stored positions (or the earliest
 * offsets, when it never ran) to the ends of the topics at that moment. After that it is live.
 */
export class Backfill {
  private readonly partitions: BackfillPartition[];
  private caughtUpAt: number | null = null;
  private last: BackfillProgress;

  constructor(
    partitions: readonly BackfillPartition[],
    private readonly startedAt: number,
  ) {
    this.partitions = partitions.map((p) => ({ ...p, start: p.start > p.target ? p.target : p.start }));
    this.last = this.measure(new Map(), startedAt);
  }

  /**
   * Progress at the given positions (`topic:partition` → next offset to read; a partition
   * missing is where it started). Once caught up, the progress stays as it was then.
   */
  update(positions: ReadonlyMap<string, bigint>, now: number): BackfillProgress {
    if (this.caughtUpAt === null) this.last = this.measure(positions, now);
    return this.last;
  }

  /** The progress of the last {@link update}. */
  get progress(): BackfillProgress {
    return this.last;
  }

  private measure(positions: ReadonlyMap<string, bigint>, now: number): BackfillProgress {
    let total = 0n;
    let done = 0n;
    let open = 0;
    for (const p of this.partitions) {
      const at = positions.get(slotOf(p.topic, p.partition)) ?? p.start;
      const reached = at > p.target ? p.target : at < p.start ? p.start : at;
      total += p.target - p.start;
      done += reached - p.start;
      if (reached < p.target) open += 1;
    }
    if (open === 0 && this.caughtUpAt === null) this.caughtUpAt = now;
    const until = this.caughtUpAt ?? now;
    const seconds = Math.max(until - this.startedAt, 1) / 1000;
    return {
      total: Number(total),
      done: Number(done),
      caughtUp: this.caughtUpAt !== null,
      startedAt: new Date(this.startedAt).toISOString(),
      caughtUpAt: this.caughtUpAt === null ? null : new Date(this.caughtUpAt).toISOString(),
      eventsPerSecond: Math.round(Number(done) / seconds),
    };
  }
}
