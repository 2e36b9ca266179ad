import { Hub, type ControlMessage, type Sink, type StreamEvent, type StreamSource } from './hub';

const event = (id: number, ...keys: string[]): StreamEvent => ({
  id,
  keys,
  event: 'order-changed',
  data: { n: id },
});

/**
 * An in-memory change log. `hold()` makes the next `replay` wait until released; the page is
 * read when the call is made (`snapshot: 'call'`) or when it is released (`'release'`).
 */
class FakeSource implements StreamSource {
  readonly log: StreamEvent[] = [];
  headId = 0;
  oldestId: number | undefined = undefined;
  readonly calls: { key: string | undefined; afterId: number; limit: number }[] = [];
  private readonly holds: { gate: Promise<void>; started: () => void }[] = [];
  failNext: Error | undefined;

  constructor(private readonly snapshot: 'call' | 'release' = 'release') {}

  append(...events: StreamEvent[]): StreamEvent[] {
    this.log.push(...events);
    return events;
  }

  /** The next replay call waits until `release()`; `started` resolves when that call is made. */
  hold(): { release: () => void; started: Promise<void> } {
    let release!: () => void;
    let started!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const startedPromise = new Promise<void>((resolve) => (started = resolve));
    this.holds.push({ gate, started });
    return { release, started: startedPromise };
  }

  async replay(key: string | undefined, afterId: number, limit: number): Promise<StreamEvent[]> {
    this.calls.push({ key, afterId, limit });
    const read = () =>
      this.log.filter((e) => e.id > afterId && (key === undefined || e.keys.includes(key))).slice(0, limit);
    const early = read();
    const hold = this.holds.shift();
    if (hold !== undefined) {
      hold.started();
      await hold.gate;
    }
    if (this.failNext !== undefined) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    return this.snapshot === 'call' ? early : read();
  }

  head(): number {
    return this.headId;
  }

  oldest(): Promise<number | undefined> {
    return Promise.resolve(this.oldestId);
  }
}

/** A sink that records what it was given, in order. */
class FakeSink implements Sink {
  readonly received: (StreamEvent | ControlMessage)[] = [];
  bufferedBytes = 0;
  closes = 0;
  throwOnSend: Error | undefined;

  buffered(): number {
    return this.bufferedBytes;
  }
  send(e: StreamEvent): void {
    if (this.throwOnSend !== undefined) throw this.throwOnSend;
    this.received.push(e);
  }
  control(message: ControlMessage): void {
    this.received.push(message);
  }
  close(): void {
    this.closes += 1;
  }
  get ids(): number[] {
    return this.received.filter((m): m is StreamEvent => 'id' in m).map((m) => m.id);
  }
  get controls(): ControlMessage[] {
    return this.received.filter((m): m is ControlMessage => 'type' in m);
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Hub: catching up and going live', () => {
  it('sends exactly the events after afterId, in order, then live ones, without duplicating events published during the replay', async () => {
    const source = new FakeSource('release');
    source.append(...range(1, 5).map((id) => event(id, 'order:a')));
    const hub = new Hub({ source });
    const sink = new FakeSink();
    const { release, started } = source.hold();

    const subscribed = hub.subscribe(sink, { key: undefined, afterId: 2, from: 'start' });
    await started;
    // Committed while the replay is in flight: in the log AND published live.
    hub.publish(source.append(event(6, 'order:a'), event(7, 'order:b')));
    expect(sink.ids).toEqual([]); // held back until the replay is sent
    release();
    await subscribed;
    hub.publish([event(8, 'order:a')]);

    expect(sink.ids).toEqual([3, 4, 5, 6, 7, 8]);
    expect(source.calls[0]).toMatchObject({ key: undefined, afterId: 2 });
  });

  it('sends live events that the replay did not include after the replayed ones', async () => {
    // The page is read before the live events are published: they only arrive live.
    const source = new FakeSource('call');
    source.append(...range(1, 4).map((id) => event(id, 'k')));
    const hub = new Hub({ source });
    const sink = new FakeSink();
    const { release, started } = source.hold();

    const subscribed = hub.subscribe(sink, { key: 'k', afterId: 1, from: 'start' });
    await started;
    hub.publish(source.append(event(5, 'k'), event(6, 'k')));
    release();
    await subscribed;

    expect(sink.ids).toEqual([2, 3, 4, 5, 6]);
  });

  it('reads the log a page at a time', async () => {
    const source = new FakeSource();
    source.append(...range(1, 7).map((id) => event(id, 'k')));
    const hub = new Hub({ source, replayPageSize: 3 });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'k', from: 'start' });

    expect(sink.ids).toEqual(range(1, 7));
    expect(source.calls.map((c) => [c.afterId, c.limit])).toEqual([
      [0, 3],
      [3, 3],
      [6, 3],
    ]);
  });

  it("with from 'start' replays the whole history of the key", async () => {
    const source = new FakeSource();
    source.append(event(1, 'k'), event(2, 'other'), event(3, 'k'));
    source.headId = 3;
    const hub = new Hub({ source });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'k', from: 'start' });

    expect(sink.ids).toEqual([1, 3]);
    expect(source.calls[0]).toMatchObject({ key: 'k', afterId: 0 });
  });

  it("with from 'now' starts at the source's head", async () => {
    const source = new FakeSource();
    source.append(event(1, 'k'), event(2, 'k'), event(3, 'k'));
    source.headId = 3;
    const hub = new Hub({ source });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'k', from: 'now' });
    expect(sink.ids).toEqual([]);
    expect(source.calls[0]).toMatchObject({ key: 'k', afterId: 3 });

    hub.publish(source.append(event(4, 'k')));
    expect(sink.ids).toEqual([4]);
  });

  it("with from 'now' still sends what was committed after the head but not yet published", async () => {
    const source = new FakeSource();
    source.append(event(1, 'k'), event(2, 'k'));
    source.headId = 1;
    const hub = new Hub({ source });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'k', from: 'now' });
    hub.publish([event(2, 'k'), event(3, 'k')]); // 2 arrives live after the replay had it

    expect(sink.ids).toEqual([2, 3]);
  });

  it('an afterId wins over from', async () => {
    const source = new FakeSource();
    source.append(event(1, 'k'), event(2, 'k'), event(3, 'k'));
    source.headId = 3;
    const hub = new Hub({ source });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'k', afterId: 1, from: 'now' });

    expect(sink.ids).toEqual([2, 3]);
  });
});

describe('Hub: keys', () => {
  it('sends a keyed subscriber only the events of its key, and a key-less one all of them', async () => {
    const source = new FakeSource();
    const hub = new Hub({ source });
    const x = new FakeSink();
    const y = new FakeSink();
    const all = new FakeSink();
    await hub.subscribe(x, { key: 'customer:x', from: 'now' });
    await hub.subscribe(y, { key: 'customer:y', from: 'now' });
    await hub.subscribe(all, { key: undefined, from: 'now' });

    hub.publish([
      event(1, 'order:1', 'customer:x'),
      event(2, 'order:2', 'customer:y'),
      event(3, 'order:3'),
      event(4, 'order:4', 'customer:x'),
    ]);

    expect(x.ids).toEqual([1, 4]);
    expect(y.ids).toEqual([2]);
    expect(all.ids).toEqual([1, 2, 3, 4]);
  });

  it('sends an event listing the same key twice once', async () => {
    const hub = new Hub({ source: new FakeSource() });
    const sink = new FakeSink();
    await hub.subscribe(sink, { key: 'k', from: 'now' });

    hub.publish([event(1, 'k', 'k')]);

    expect(sink.ids).toEqual([1]);
  });

  it('asks the source for the subscription key when replaying', async () => {
    const source = new FakeSource();
    source.append(event(1, 'customer:x'), event(2, 'customer:y'));
    const hub = new Hub({ source });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'customer:x', from: 'start' });

    expect(source.calls[0]?.key).toBe('customer:x');
    expect(sink.ids).toEqual([1]);
  });
});

describe('Hub: too many live events while catching up', () => {
  it('re-reads the log and still delivers every event exactly once, in order', async () => {
    // Pages are read when the replay is called: the events published during it are only
    // in the log, and the pending buffer overflows (maxPendingEvents 2).
    const source = new FakeSource('call');
    source.append(...range(1, 5).map((id) => event(id, 'k')));
    const hub = new Hub({ source, maxPendingEvents: 2 });
    const sink = new FakeSink();
    const first = source.hold();

    const subscribed = hub.subscribe(sink, { key: 'k', from: 'start' });
    await first.started;
    for (const id of range(6, 12)) hub.publish(source.append(event(id, 'k')));
    // The second read overflows again while it runs.
    const second = source.hold();
    first.release();
    await second.started;
    for (const id of range(13, 20)) hub.publish(source.append(event(id, 'k')));
    second.release();
    await subscribed;
    hub.publish(source.append(event(21, 'k')));

    expect(sink.ids).toEqual(range(1, 21));
    expect(source.calls.map((c) => c.afterId)).toEqual([0, 5, 12]);
    expect(hub.stats()).toMatchObject({ subscribers: 1, delivered: 21, dropped: 0 });
  });
});

describe('Hub: slow consumers', () => {
  it('sends a sink above maxBufferedBytes `dropped` with the last id it was sent, closes it and sends it nothing more', async () => {
    const source = new FakeSource();
    const hub = new Hub({ source, maxBufferedBytes: 100 });
    const slow = new FakeSink();
    const fast = new FakeSink();
    await hub.subscribe(slow, { key: 'k', from: 'now' });
    await hub.subscribe(fast, { key: 'k', from: 'now' });
    expect(hub.stats().subscribers).toBe(2);

    hub.publish([event(1, 'k')]);
    slow.bufferedBytes = 100; // at the limit: kept
    hub.publish([event(2, 'k')]);
    slow.bufferedBytes = 101;
    hub.publish([event(3, 'k')]);
    hub.publish([event(4, 'k')]);

    expect(slow.received).toEqual([
      event(1, 'k'),
      event(2, 'k'),
      event(3, 'k'),
      { type: 'dropped', reason: 'slow-consumer', lastEventId: 3, maxBufferedBytes: 100 },
    ]);
    expect(slow.closes).toBe(1);
    expect(fast.ids).toEqual([1, 2, 3, 4]);
    expect(hub.stats()).toEqual({ subscribers: 1, delivered: 7, dropped: 1 });
  });

  it('drops a sink that falls behind while catching up, and stops reading the log for it', async () => {
    const source = new FakeSource();
    source.append(...range(1, 10).map((id) => event(id, 'k')));
    const hub = new Hub({ source, maxBufferedBytes: 10, replayPageSize: 2 });
    const sink = new FakeSink();
    sink.bufferedBytes = 11;

    await hub.subscribe(sink, { key: 'k', afterId: 4, from: 'start' });
    hub.publish([event(11, 'k')]);

    expect(sink.ids).toEqual([5]);
    expect(sink.controls).toEqual([
      { type: 'dropped', reason: 'slow-consumer', lastEventId: 5, maxBufferedBytes: 10 },
    ]);
    expect(sink.closes).toBe(1);
    expect(source.calls).toHaveLength(1);
    expect(hub.stats()).toEqual({ subscribers: 0, delivered: 1, dropped: 1 });
  });

  it('uses 1 MiB as the default limit', async () => {
    const hub = new Hub({ source: new FakeSource() });
    const sink = new FakeSink();
    await hub.subscribe(sink, { key: undefined, from: 'now' });

    sink.bufferedBytes = 1024 * 1024;
    hub.publish([event(1)]);
    expect(sink.controls).toEqual([]);
    sink.bufferedBytes = 1024 * 1024 + 1;
    hub.publish([event(2)]);
    expect(sink.controls).toEqual([
      { type: 'dropped', reason: 'slow-consumer', lastEventId: 2, maxBufferedBytes: 1024 * 1024 },
    ]);
  });
});

describe('Hub: history that was pruned', () => {
  it('tells a subscriber resuming from before the oldest event to reset, then sends what the log has', async () => {
    const source = new FakeSource();
    source.append(event(10, 'k'), event(11, 'k'));
    source.oldestId = 10;
    const hub = new Hub({ source });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'k', afterId: 5, from: 'start' });

    expect(sink.received).toEqual([
      { type: 'reset', reason: 'history-pruned', oldestId: 10 },
      event(10, 'k'),
      event(11, 'k'),
    ]);
  });

  it('does not reset a subscriber whose next event is the oldest one, or a new subscriber', async () => {
    const source = new FakeSource();
    source.append(event(10, 'k'), event(11, 'k'));
    source.oldestId = 10;
    const hub = new Hub({ source });
    const resuming = new FakeSink();
    const fresh = new FakeSink();

    await hub.subscribe(resuming, { key: 'k', afterId: 9, from: 'start' });
    await hub.subscribe(fresh, { key: 'k', from: 'start' });

    expect(resuming.controls).toEqual([]);
    expect(resuming.ids).toEqual([10, 11]);
    expect(fresh.controls).toEqual([]);
    expect(fresh.ids).toEqual([10, 11]);
  });

  it('does not reset when the log is empty', async () => {
    const hub = new Hub({ source: new FakeSource() });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'k', afterId: 5, from: 'start' });

    expect(sink.received).toEqual([]);
  });
});

describe('Hub: a resume from too far back', () => {
  it('replays at most maxReplayEvents, then says reset (too-far-behind) and goes on from now', async () => {
    const source = new FakeSource();
    source.append(...range(1, 100).map((id) => event(id)));
    source.headId = 100;
    const hub = new Hub({ source, replayPageSize: 10, maxReplayEvents: 25 });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: undefined, afterId: 0, from: 'now' });
    hub.publish([event(101)]);

    expect(sink.ids).toEqual([...range(1, 25), 101]);
    expect(sink.controls).toEqual([
      { type: 'reset', reason: 'too-far-behind', lastEventId: 100, maxReplayEvents: 25 },
    ]);
    // It read the log for the events it sent and no further: 10 + 10 + 5, then from the head.
    expect(source.calls.map((c) => [c.afterId, c.limit])).toEqual([
      [0, 10],
      [10, 10],
      [20, 5],
      [100, 10],
    ]);
  });

  it('replays a history shorter than the limit whole, without a reset', async () => {
    const source = new FakeSource();
    source.append(...range(1, 24).map((id) => event(id, 'order:o1')));
    source.headId = 24;
    const hub = new Hub({ source, replayPageSize: 10, maxReplayEvents: 25 });
    const sink = new FakeSink();

    await hub.subscribe(sink, { key: 'order:o1', from: 'start' });

    expect(sink.ids).toEqual(range(1, 24));
    expect(sink.controls).toEqual([]);
  });

  it('uses 10,000 as the default limit', async () => {
    const source = new FakeSource();
    source.append(...range(1, 10_001).map((id) => event(id)));
    source.headId = 10_001;
    const sink = new FakeSink();

    await new Hub({ source }).subscribe(sink, { key: undefined, afterId: 0, from: 'now' });

    expect(sink.ids).toHaveLength(10_000);
    expect(sink.controls).toEqual([
      { type: 'reset', reason: 'too-far-behind', lastEventId: 10_001, maxReplayEvents: 10_000 },
    ]);
  });
});

describe('Hub: ending subscriptions', () => {
  it('unsubscribe stops delivery and frees the subscriber', async () => {
    const hub = new Hub({ source: new FakeSource() });
    const sink = new FakeSink();
    const unsubscribe = await hub.subscribe(sink, { key: 'k', from: 'now' });
    hub.publish([event(1, 'k')]);

    unsubscribe();
    hub.publish([event(2, 'k')]);

    expect(sink.ids).toEqual([1]);
    expect(sink.closes).toBe(0); // the caller owns the connection
    expect(hub.stats().subscribers).toBe(0);
  });

  it('closeAll closes every sink and delivers nothing more', async () => {
    const hub = new Hub({ source: new FakeSource() });
    const a = new FakeSink();
    const b = new FakeSink();
    await hub.subscribe(a, { key: 'k', from: 'now' });
    await hub.subscribe(b, { key: undefined, from: 'now' });

    hub.closeAll();
    hub.publish([event(1, 'k')]);

    expect([a.closes, b.closes]).toEqual([1, 1]);
    expect([a.ids, b.ids]).toEqual([[], []]);
    expect(hub.stats().subscribers).toBe(0);
  });

  it('closeAll during a replay stops the subscriber from receiving the replayed events', async () => {
    const source = new FakeSource();
    source.append(event(1, 'k'));
    const hub = new Hub({ source });
    const sink = new FakeSink();
    const { release, started } = source.hold();
    const subscribed = hub.subscribe(sink, { key: 'k', from: 'start' });
    await started;

    hub.closeAll();
    release();
    await subscribed;

    expect(sink.ids).toEqual([]);
    expect(sink.closes).toBe(1);
  });

  it('a sink that throws is reported, closed, sent nothing more and freed', async () => {
    const errors: unknown[] = [];
    const hub = new Hub({ source: new FakeSource(), onError: (error) => errors.push(error) });
    const broken = new FakeSink();
    const healthy = new FakeSink();
    await hub.subscribe(broken, { key: 'k', from: 'now' });
    await hub.subscribe(healthy, { key: 'k', from: 'now' });

    const failure = new Error('socket gone');
    broken.throwOnSend = failure;
    hub.publish([event(1, 'k')]);
    broken.throwOnSend = undefined;
    hub.publish([event(2, 'k')]);

    expect(errors).toEqual([failure]);
    expect(broken.closes).toBe(1);
    expect(broken.ids).toEqual([]);
    expect(healthy.ids).toEqual([1, 2]);
    expect(hub.stats()).toEqual({ subscribers: 1, delivered: 2, dropped: 0 });
  });

  it('rejects the subscription and frees it when the log cannot be read', async () => {
    const source = new FakeSource();
    source.failNext = new Error('database down');
    const hub = new Hub({ source });
    const sink = new FakeSink();

    await expect(hub.subscribe(sink, { key: 'k', from: 'start' })).rejects.toThrow('database down');
    hub.publish([event(1, 'k')]);

    expect(sink.ids).toEqual([]);
    expect(hub.stats().subscribers).toBe(0);
  });
});

describe('Hub: stats', () => {
  it('counts subscribers, deliveries (per subscriber) and drops', async () => {
    const source = new FakeSource();
    source.append(event(1, 'a'), event(2, 'b'));
    const hub = new Hub({ source, maxBufferedBytes: 5 });
    expect(hub.stats()).toEqual({ subscribers: 0, delivered: 0, dropped: 0 });
    const a = new FakeSink();
    const b = new FakeSink();
    const all = new FakeSink();
    const unsubscribeA = await hub.subscribe(a, { key: 'a', from: 'start' });
    await hub.subscribe(b, { key: 'b', from: 'start' });
    await hub.subscribe(all, { key: undefined, from: 'start' });
    expect(hub.stats()).toEqual({ subscribers: 3, delivered: 4, dropped: 0 });

    hub.publish([event(3, 'a')]);
    expect(hub.stats()).toEqual({ subscribers: 3, delivered: 6, dropped: 0 });

    all.bufferedBytes = 6;
    hub.publish([event(4, 'b')]);
    expect(hub.stats()).toEqual({ subscribers: 2, delivered: 8, dropped: 1 });

    unsubscribeA();
    expect(hub.stats()).toEqual({ subscribers: 1, delivered: 8, dropped: 1 });
  });
});
