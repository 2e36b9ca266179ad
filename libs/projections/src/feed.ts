import type { Notification, Pool, PoolClient } from 'pg';
import { FEED_CHANNEL, FEED_HEADS_TABLE, FEED_TABLE } from './store';

/** One committed change of a projection. `seq` increases in commit order, without gaps. */
export interface FeedEntry<Payload = unknown> {
  seq: number;
  keys: string[];
  payload: Payload;
  /** Epoch ms it was committed (approximately: the transaction's time). */
  at: number;
}

export interface ChangeFeedOptions {
  pool: Pool;
  projection: string;
  /** Reads the feed this often even without a notification (a lost NOTIFY costs at most this). Default 1 s. */
  pollIntervalMs?: number;
  /** Most entries read per query. Default 1000. */
  pageSize?: number;
  onError?: (error: unknown) => void;
}

type Listener = (entries: readonly FeedEntry[]) => void;

interface FeedRow {
  seq: string;
  keys: string[];
  payload: unknown;
  created_at: Date;
}

const toEntry = (row: FeedRow): FeedEntry => ({
  seq: Number(row.seq),
  keys: row.keys,
  payload: row.payload,
  at: row.created_at.getTime(),
});

/**
 * Follows a projection's change feed in PostgreSQL: every committed change reaches every
 * instance's listeners (not only the instance that applied it), in `seq` order, once.
 * Woken by LISTEN/NOTIFY, with a poll as the safety net; on a lost connection it reconnects
 * and continues from the last seq it delivered.
 */
export class ChangeFeed {
  private readonly listeners = new Set<Listener>();
  private readonly pageSize: number;
  private delivered = 0;
  private listenClient: PoolClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private again = false;
  private running = false;

  constructor(private readonly options: ChangeFeedOptions) {
    this.pageSize = options.pageSize ?? 1000;
  }

  /** The last seq delivered to listeners. */
  get head(): number {
    return this.delivered;
  }

  /** Starts following from the current end of the feed (earlier changes: `since`). */
  async start(): Promise<void> {
    this.running = true;
    this.delivered = await this.storedHead();
    await this.listen();
    this.timer = setInterval(() => this.poke(), this.options.pollIntervalMs ?? 1_000);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    await this.draining;
    const client = this.listenClient;
    this.listenClient = undefined;
    if (client) {
      await client.query(`UNLISTEN ${FEED_CHANNEL}`).catch(() => undefined);
      client.release();
    }
  }

  /** Calls `listener` with each page of new entries; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Committed entries after `afterSeq` (for a key, or all), oldest first, at most `limit`.
   * Entries newer than `head` may be included: callers dedupe by seq.
   */
  async since(afterSeq: number, key: string | undefined, limit = this.pageSize): Promise<FeedEntry[]> {
    const { rows } = await this.options.pool.query<FeedRow>(
      key === undefined
        ? `SELECT seq, keys, payload, created_at FROM ${FEED_TABLE}
           WHERE projection = $1 AND seq > $2 ORDER BY seq LIMIT $3`
        : `SELECT seq, keys, payload, created_at FROM ${FEED_TABLE}
           WHERE projection = $1 AND seq > $2 AND keys @> ARRAY[$4]::text[] ORDER BY seq LIMIT $3`,
      key === undefined
        ? [this.options.projection, afterSeq, limit]
        : [this.options.projection, afterSeq, limit, key],
    );
    return rows.map(toEntry);
  }

  /** The lowest seq still kept (older entries were pruned), or undefined when the feed is empty. */
  async oldest(): Promise<number | undefined> {
    const { rows } = await this.options.pool.query<{ seq: string | null }>(
      `SELECT min(seq) AS seq FROM ${FEED_TABLE} WHERE projection = $1`,
      [this.options.projection],
    );
    return rows[0]?.seq == null ? undefined : Number(rows[0].seq);
  }

  /** Deletes entries older than `olderThanMs`; returns how many. */
  async prune(olderThanMs: number): Promise<number> {
    const result = await this.options.pool.query(
      `DELETE FROM ${FEED_TABLE} WHERE projection = $1 AND created_at < now() - make_interval(secs => $2)`,
      [this.options.projection, olderThanMs / 1000],
    );
    return result.rowCount ?? 0;
  }

  private async storedHead(): Promise<number> {
    const { rows } = await this.options.pool.query<{ seq: string }>(
      `SELECT seq FROM ${FEED_HEADS_TABLE} WHERE projection = $1`,
      [this.options.projection],
    );
    return rows[0] === undefined ? 0 : Number(rows[0].seq);
  }

  private async listen(): Promise<void> {
    const client = await this.options.pool.connect();
    client.on('notification', (message: Notification) => {
      if (message.channel === FEED_CHANNEL && message.payload === this.options.projection) this.poke();
    });
    client.on('error', (error) => {
      this.options.onError?.(error);
      if (this.listenClient === client) this.listenClient = undefined;
      client.release(error);
      void this.relisten();
    });
    await client.query(`LISTEN ${FEED_CHANNEL}`);
    this.listenClient = client;
  }

  private async relisten(): Promise<void> {
    while (this.running && this.listenClient === undefined) {
      try {
        await this.listen();
        this.poke();
      } catch (error) {
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, this.options.pollIntervalMs ?? 1_000));
      }
    }
  }

  /** Reads new entries soon; calls that arrive while reading cause one more read. */
  private poke(): void {
    if (!this.running) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(() => {
        this.draining = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const entries = await this.since(this.delivered, undefined);
      if (entries.length === 0) return;
      this.delivered = entries[entries.length - 1]!.seq;
      for (const listener of this.listeners) {
        try {
          listener(entries);
        } catch (error) {
          this.options.onError?.(error);
        }
      }
      if (entries.length < this.pageSize) return;
    }
  }
}
