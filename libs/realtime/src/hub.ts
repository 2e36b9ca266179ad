import { clientDropped, eventDelivered, pushSpan, type Transport } from './instrumentation';

/** One change as clients receive it; `id` increases in commit order without gaps (a resume token). */
export interface StreamEvent {
  id: number;
  /** Who follows it: a subscription to any of these keys receives it. */
  keys: readonly string[];
  event: string;
  data: unknown;
  /** The W3C trace context of what caused it: its live push is traced there. Not sent to clients. */
  traceparent?: string;
}

/** Where a stream's history comes from: the stored change log. */
export interface StreamSource {
  /** Events after `afterId` for `key` (undefined: all keys), oldest first, at most `limit`. */
  replay(key: string | undefined, afterId: number, limit: number): Promise<StreamEvent[]>;
  /** The id of the newest event delivered live so far (where a "from now" subscription starts). */
  head(): number;
  /** The oldest id the log still has; resuming from before it cannot be served without a gap. */
  oldest(): Promise<number | undefined>;
}

/** What a subscriber is told besides changes. */
export type ControlMessage =
  | { type: 'reset'; reason: 'history-pruned'; oldestId: number }
  /**
   * The resume point was more than `maxReplayEvents` events back: the stream goes on after
   * `lastEventId` (now), and what came between is read from the query API instead.
   */
  | { type: 'reset'; reason: 'too-far-behind'; lastEventId: number; maxReplayEvents: number }
  | { type: 'dropped'; reason: 'slow-consumer'; lastEventId: number; maxBufferedBytes: number };

/** A client connection as the hub drives it: SSE and WebSocket implement it. */
export interface Sink {
  /** How it reaches the client (the label of the stream metrics). */
  readonly transport?: Transport;
  /** Bytes written but not yet sent: the hub drops a sink above its limit. */
  buffered(): number;
  send(event: StreamEvent): void;
  control(message: ControlMessage): void;
  /** Ends the connection (after what was sent). */
  close(): void;
}

export interface SubscriptionRequest {
  /** undefined: every change. */
  key: string | undefined;
  /** Resume after this id (Last-Event-ID). */
  afterId?: number | undefined;
  /** Without `afterId`: `start` replays the key's whole history first, `now` only sends what comes next. */
  from: 'start' | 'now';
}

export interface HubOptions {
  source: StreamSource;
  /** A subscriber with more unsent bytes than this is dropped (told so: resume with its last id). Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Events read from the log per query while catching up. Default 500. */
  replayPageSize?: number;
  /** Live events held per subscriber while it catches up; beyond, it catches up from the log again. Default 10,000. */
  maxPendingEvents?: number;
  /**
   * Most history events one subscription replays before it is told `reset` (`too-far-behind`)
   * and continues from now: a resume from days back costs the log this much, not a full scan.
   * Default 10,000.
   */
  maxReplayEvents?: number;
  onError?: (error: unknown) => void;
}

export interface HubStats {
  subscribers: number;
  delivered: number;
  dropped: number;
}

const ALL = '\u0000all';

class Subscriber {
  lastId: number;
  catchingUp = true;
  pending: StreamEvent[] = [];
  overflowed = false;
  closed = false;

  constructor(
    readonly sink: Sink,
    readonly key: string | undefined,
    lastId: number,
  ) {
    this.lastId = lastId;
  }
}

/**
 * Fans committed changes out to live subscribers by key, and serves each subscription's
 * history from the log first: a subscriber receives every event after its starting id
 * exactly once, in order, whether from the log or live. A subscriber that does not keep up
 * is dropped with a `dropped` message carrying the last id it was sent, so memory stays
 * bounded and the client resumes without a gap.
 */
export class Hub {
  private readonly byKey = new Map<string, Set<Subscriber>>();
  /** Bytes a client's transport may hold unsent before it is dropped (every transport's bound). */
  readonly maxBufferedBytes: number;
  private readonly pageSize: number;
  private readonly maxPending: number;
  private readonly maxReplay: number;
  private counts = { delivered: 0, dropped: 0 };

  constructor(private readonly options: HubOptions) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.pageSize = options.replayPageSize ?? 500;
    this.maxPending = options.maxPendingEvents ?? 10_000;
    this.maxReplay = options.maxReplayEvents ?? 10_000;
  }

  stats(): HubStats {
    let subscribers = 0;
    for (const set of this.byKey.values()) subscribers += set.size;
    return { subscribers, ...this.counts };
  }

  /** Ends every subscription (at shutdown): their clients reconnect elsewhere and resume. */
  closeAll(): void {
    for (const set of this.byKey.values()) {
      for (const subscriber of set) {
        subscriber.closed = true;
        subscriber.sink.close();
      }
    }
    this.byKey.clear();
  }

  /** Delivers new committed events (in id order) to their live subscribers. */
  publish(events: readonly StreamEvent[]): void {
    for (const event of events) {
      const span = pushSpan(event.event, event.traceparent);
      const before = this.counts.delivered;
      this.deliverTo(this.byKey.get(ALL), event);
      for (const key of event.keys) this.deliverTo(this.byKey.get(key), event);
      if (span) {
        span.setAttributes({
          'tideline.stream.event_id': event.id,
          'tideline.stream.sent': this.counts.delivered - before,
        });
        span.end();
      }
    }
  }

  /**
   * Subscribes `sink`; resolves when it has caught up with the log. Returns the unsubscribe
   * function (also called when the hub drops the sink).
   */
  async subscribe(sink: Sink, request: SubscriptionRequest): Promise<() => void> {
    const { source } = this.options;
    const start = request.afterId ?? (request.from === 'now' ? source.head() : 0);
    const subscriber = new Subscriber(sink, request.key, start);
    const set = this.byKey.get(request.key ?? ALL) ?? new Set<Subscriber>();
    this.byKey.set(request.key ?? ALL, set);
    set.add(subscriber);
    const unsubscribe = () => this.remove(subscriber);
    try {
      if (request.afterId !== undefined) {
        const oldest = await source.oldest();
        if (oldest !== undefined && request.afterId < oldest - 1) {
          sink.control({ type: 'reset', reason: 'history-pruned', oldestId: oldest });
        }
      }
      await this.catchUp(subscriber);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  private async catchUp(subscriber: Subscriber): Promise<void> {
    const { source } = this.options;
    let budget = this.maxReplay;
    for (;;) {
      subscriber.overflowed = false;
      for (;;) {
        const limit = Math.min(this.pageSize, budget);
        const page = await source.replay(subscriber.key, subscriber.lastId, limit);
        for (const event of page) this.sendTo(subscriber, event);
        if (subscriber.closed) break;
        if (page.length < limit) break; // the log has no more
        budget -= page.length;
        if (budget === 0) {
          this.skipToNow(subscriber);
          budget = this.maxReplay;
        }
      }
      if (subscriber.closed) return;
      if (!subscriber.overflowed) break;
      // Live events were dropped while catching up: the log has them; read on.
    }
    const pending = subscriber.pending;
    subscriber.pending = [];
    subscriber.catchingUp = false;
    for (const event of pending) this.sendTo(subscriber, event);
  }

  private deliverTo(subscribers: Set<Subscriber> | undefined, event: StreamEvent): void {
    if (subscribers === undefined) return;
    for (const subscriber of subscribers) {
      if (!subscriber.catchingUp) {
        this.sendTo(subscriber, event);
      } else if (subscriber.pending.length < this.maxPending) {
        subscriber.pending.push(event);
      } else {
        subscriber.pending = [];
        subscriber.overflowed = true;
      }
    }
  }

  private sendTo(subscriber: Subscriber, event: StreamEvent): void {
    if (subscriber.closed || event.id <= subscriber.lastId) return;
    try {
      subscriber.sink.send(event);
    } catch (error) {
      this.options.onError?.(error);
      this.remove(subscriber);
      subscriber.sink.close();
      return;
    }
    subscriber.lastId = event.id;
    this.counts.delivered += 1;
    eventDelivered(subscriber.sink.transport);
    if (subscriber.sink.buffered() > this.maxBufferedBytes) this.drop(subscriber);
  }

  /** Ends a replay that went on too long: the subscriber continues from the newest event delivered live. */
  private skipToNow(subscriber: Subscriber): void {
    subscriber.lastId = Math.max(subscriber.lastId, this.options.source.head());
    subscriber.sink.control({
      type: 'reset',
      reason: 'too-far-behind',
      lastEventId: subscriber.lastId,
      maxReplayEvents: this.maxReplay,
    });
  }

  /** Stops delivering to `subscriber` and forgets it (and its key, once no one follows it). */
  private remove(subscriber: Subscriber): void {
    subscriber.closed = true;
    subscriber.pending = [];
    const key = subscriber.key ?? ALL;
    const set = this.byKey.get(key);
    if (set === undefined) return;
    set.delete(subscriber);
    if (set.size === 0) this.byKey.delete(key);
  }

  private drop(subscriber: Subscriber): void {
    this.remove(subscriber);
    this.counts.dropped += 1;
    clientDropped(subscriber.sink.transport);
    subscriber.sink.control({
      type: 'dropped',
      reason: 'slow-consumer',
      lastEventId: subscriber.lastId,
      maxBufferedBytes: this.maxBufferedBytes,
    });
    subscriber.sink.close();
  }
}
