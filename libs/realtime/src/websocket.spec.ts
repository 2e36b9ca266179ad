import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { Hub, type StreamEvent, type StreamSource } from './hub';
import { ConnectionLimiter } from './limits';
import {
  CLOSE_SLOW_CONSUMER,
  UNREAD_REPLIES_REASON,
  attachWebSocket,
  parseClientMessage,
  type FeedResolver,
} from './websocket';

const WAIT_MS = 5_000;

type Message = Record<string, unknown> & { type: string };

/** Polls `check` until it returns true; fails after `waitMs`. */
async function eventually(description: string, check: () => boolean, waitMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const event = (id: number, ...keys: string[]): StreamEvent => ({
  id,
  keys,
  event: 'order-changed',
  data: { n: id },
});

/** An in-memory log; `hold()` makes the next replay wait until released. */
class FakeSource implements StreamSource {
  readonly log: StreamEvent[] = [];
  private readonly holds: { gate: Promise<void>; started: () => void }[] = [];

  append(...events: StreamEvent[]): StreamEvent[] {
    this.log.push(...events);
    return events;
  }
  hold(): { release: () => void; started: Promise<void> } {
    let release!: () => void;
    let started!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const startedPromise = new Promise<void>((resolve) => (started = resolve));
    this.holds.push({ gate, started });
    return { release, started: startedPromise };
  }
  async replay(key: string | undefined, afterId: number, limit: number): Promise<StreamEvent[]> {
    const hold = this.holds.shift();
    if (hold !== undefined) {
      hold.started();
      await hold.gate;
    }
    return this.log
      .filter((e) => e.id > afterId && (key === undefined || e.keys.includes(key)))
      .slice(0, limit);
  }
  head(): number {
    return this.log.at(-1)?.id ?? 0;
  }
  oldest(): Promise<number | undefined> {
    return Promise.resolve(this.log[0]?.id);
  }
}

const resolveFeed: FeedResolver = (feed) => {
  if (feed === 'all') return { key: undefined, from: 'now' };
  const [kind, id] = feed.split(':');
  if ((kind === 'order' || kind === 'customer') && id)
    return { key: feed, from: kind === 'order' ? 'start' : 'now' };
  return { error: 'must be "order:<id>", "customer:<id>" or "all"' };
};

/** A connected client that keeps every message it receives, in order. */
class Client {
  readonly messages: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private listeners: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString('utf8')) as Message);
      for (const listener of this.listeners) listener();
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString() });
        for (const listener of this.listeners) listener();
      }),
    );
  }

  static async open(port: number): Promise<Client> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new Client(ws);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message from index `from` on that matches; fails after WAIT_MS. */
  next(match: (message: Message) => boolean, from = 0): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(new Error(`no matching message; got ${JSON.stringify(this.messages)}`));
      }, WAIT_MS);
      const check = () => {
        const found = this.messages.slice(from).find(match);
        if (found !== undefined) {
          clearTimeout(timer);
          this.listeners = this.listeners.filter((l) => l !== check);
          resolve(found);
        }
      };
      this.listeners.push(check);
      check();
    });
  }

  /** Sends a ping and waits for its pong: everything the server sent before it has arrived. */
  async roundTrip(): Promise<void> {
    const from = this.messages.length;
    this.send({ type: 'ping' });
    await this.next((m) => m.type === 'pong', from);
  }

  /** Sends `message` and returns the first reply of `type` after it. */
  async request(message: unknown, type: string): Promise<Message> {
    const from = this.messages.length;
    this.send(message);
    return this.next((m) => m.type === type, from);
  }

  changes(subscription?: string): number[] {
    return this.messages
      .filter(
        (m) => m.type === 'change' && (subscription === undefined || m['subscription'] === subscription),
      )
      .map((m) => m['id'] as number);
  }
}

describe('attachWebSocket', () => {
  let server: Server;
  let port: number;
  let source: FakeSource;
  let hub: Hub;
  let sockets: ReturnType<typeof attachWebSocket>;
  const clients: Client[] = [];
  const errors: unknown[] = [];

  async function start(options: { maxBufferedBytes?: number; maxSubscriptions?: number } = {}) {
    source = new FakeSource();
    hub = new Hub({ source, maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024 });
    server = http.createServer((_request, response) => response.writeHead(200).end('plain http'));
    sockets = attachWebSocket(server, {
      hub,
      resolve: resolveFeed,
      pingIntervalMs: 60_000,
      onError: (error) => errors.push(error),
      ...(options.maxSubscriptions === undefined ? {} : { maxSubscriptions: options.maxSubscriptions }),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }

  const connect = async () => {
    const client = await Client.open(port);
    clients.push(client);
    return client;
  };

  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate();
    await sockets.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    errors.length = 0;
  });

  it('confirms a subscription, replays the feed, then sends its live changes only', async () => {
    await start();
    source.append(event(1, 'order:a'), event(2, 'order:b'), event(3, 'order:a'));
    const client = await connect();

    const subscribed = await client.request({ type: 'subscribe', id: 's1', feed: 'order:a' }, 'subscribed');
    expect(subscribed).toEqual({ type: 'subscribed', id: 's1', feed: 'order:a' });
    await client.next((m) => m.type === 'change' && m['id'] === 3);
    hub.publish(source.append(event(4, 'order:b'), event(5, 'order:a', 'customer:x')));
    const last = await client.next((m) => m.type === 'change' && m['id'] === 5);

    expect(last).toEqual({
      type: 'change',
      subscription: 's1',
      id: 5,
      event: 'order-changed',
      data: { n: 5 },
    });
    expect(client.messages.map((m) => m.type)).toEqual(['subscribed', 'change', 'change', 'change']);
    expect(client.changes('s1')).toEqual([1, 3, 5]);
  });

  it('resumes after lastEventId', async () => {
    await start();
    source.append(event(1, 'order:a'), event(2, 'order:a'), event(3, 'order:a'));
    const client = await connect();

    client.send({ type: 'subscribe', id: 's1', feed: 'order:a', lastEventId: 1 });
    await client.next((m) => m.type === 'change' && m['id'] === 3);

    expect(client.changes('s1')).toEqual([2, 3]);
  });

  it('serves several subscriptions on one connection, each tagged with its id', async () => {
    await start();
    const client = await connect();
    await client.request({ type: 'subscribe', id: 'x', feed: 'customer:x' }, 'subscribed');
    await client.request({ type: 'subscribe', id: 'everything', feed: 'all' }, 'subscribed');

    hub.publish([event(1, 'customer:x'), event(2, 'customer:y')]);
    await client.next((m) => m.type === 'change' && m['subscription'] === 'everything' && m['id'] === 2);

    expect(client.changes('x')).toEqual([1]);
    expect(client.changes('everything')).toEqual([1, 2]);
  });

  it('stops sending a subscription after unsubscribe, and frees it in the hub', async () => {
    await start();
    const client = await connect();
    await client.request({ type: 'subscribe', id: 's1', feed: 'customer:x' }, 'subscribed');
    hub.publish([event(1, 'customer:x')]);
    await client.next((m) => m.type === 'change' && m['id'] === 1);
    expect(hub.stats().subscribers).toBe(1);

    const reply = await client.request({ type: 'unsubscribe', id: 's1' }, 'unsubscribed');
    hub.publish([event(2, 'customer:x')]);
    await client.roundTrip();

    expect(reply).toEqual({ type: 'unsubscribed', id: 's1' });
    expect(client.changes()).toEqual([1]);
    expect(hub.stats().subscribers).toBe(0);
  });

  it('sends nothing of a subscription cancelled while it was still catching up', async () => {
    await start();
    source.append(event(1, 'order:a'));
    const { release, started } = source.hold();
    const client = await connect();
    await client.request({ type: 'subscribe', id: 's1', feed: 'order:a' }, 'subscribed');
    await started;

    await client.request({ type: 'unsubscribe', id: 's1' }, 'unsubscribed');
    release();
    hub.publish(source.append(event(2, 'order:a')));
    await client.roundTrip();

    expect(client.changes()).toEqual([]);
    expect(hub.stats().subscribers).toBe(0);
  });

  it('does not duplicate changes when an id is unsubscribed and reused while the first one catches up', async () => {
    await start();
    source.append(event(1, 'order:a'));
    const first = source.hold();
    const second = source.hold();
    const client = await connect();
    await client.request({ type: 'subscribe', id: 's1', feed: 'order:a' }, 'subscribed');
    await first.started;
    await client.request({ type: 'unsubscribe', id: 's1' }, 'unsubscribed');
    await client.request({ type: 'subscribe', id: 's1', feed: 'order:a' }, 'subscribed');
    await second.started;

    first.release();
    second.release();
    await client.next((m) => m.type === 'change' && m['id'] === 1);
    await client.roundTrip();
    hub.publish(source.append(event(2, 'order:a')));
    await client.next((m) => m.type === 'change' && m['id'] === 2);
    await client.roundTrip();

    expect(client.changes('s1')).toEqual([1, 2]);
    expect(hub.stats().subscribers).toBe(1);
    // The second subscription is the live one: unsubscribing it leaves nothing behind.
    await client.request({ type: 'unsubscribe', id: 's1' }, 'unsubscribed');
    expect(hub.stats().subscribers).toBe(0);
  });

  it.each([
    ['bad JSON', '{"type":', '(message)'],
    ['a JSON array', '[1]', '(message)'],
    ['an unknown type', { type: 'hello' }, 'type'],
    ['a bad id', { type: 'subscribe', id: 'has space', feed: 'all' }, 'id'],
    ['a missing feed', { type: 'subscribe', id: 's1' }, 'feed'],
    ['a feed the application does not know', { type: 'subscribe', id: 's1', feed: 'product:1' }, 'feed'],
    ['a negative lastEventId', { type: 'subscribe', id: 's1', feed: 'all', lastEventId: -1 }, 'lastEventId'],
    ['a string lastEventId', { type: 'subscribe', id: 's1', feed: 'all', lastEventId: '5' }, 'lastEventId'],
  ])(
    'answers %s with an error naming the field and keeps the connection open',
    async (_name, message, field) => {
      await start();
      const client = await connect();

      const error = await client.request(message, 'error');
      expect(error).toMatchObject({ type: 'error', field });
      expect(typeof error['message']).toBe('string');

      // The connection still works.
      const ok = await client.request({ type: 'subscribe', id: 's1', feed: 'customer:x' }, 'subscribed');
      expect(ok).toMatchObject({ id: 's1' });
      expect(client.ws.readyState).toBe(WebSocket.OPEN);
    },
  );

  it("passes the resolver's reason for a bad feed on", async () => {
    await start();
    const client = await connect();

    const error = await client.request({ type: 'subscribe', id: 's1', feed: 'nope' }, 'error');

    expect(error).toEqual({
      type: 'error',
      id: 's1',
      field: 'feed',
      message: 'must be "order:<id>", "customer:<id>" or "all"',
    });
    expect(hub.stats().subscribers).toBe(0);
  });

  it('answers binary frames with an error', async () => {
    await start();
    const client = await connect();

    const from = client.messages.length;
    client.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    const error = await client.next((m) => m.type === 'error', from);

    expect(error).toMatchObject({ field: '(message)' });
    await client.roundTrip();
  });

  it('refuses a second subscription with the same id', async () => {
    await start();
    const client = await connect();
    await client.request({ type: 'subscribe', id: 's1', feed: 'customer:x' }, 'subscribed');

    const error = await client.request({ type: 'subscribe', id: 's1', feed: 'customer:y' }, 'error');
    hub.publish([event(1, 'customer:y'), event(2, 'customer:x')]);
    await client.next((m) => m.type === 'change' && m['id'] === 2);

    expect(error).toMatchObject({ type: 'error', id: 's1', field: 'id' });
    expect(client.changes()).toEqual([2]);
    expect(hub.stats().subscribers).toBe(1);
  });

  it('limits the subscriptions of one connection', async () => {
    await start({ maxSubscriptions: 2 });
    const client = await connect();
    await client.request({ type: 'subscribe', id: 'a', feed: 'customer:a' }, 'subscribed');
    await client.request({ type: 'subscribe', id: 'b', feed: 'customer:b' }, 'subscribed');

    const error = await client.request({ type: 'subscribe', id: 'c', feed: 'customer:c' }, 'error');

    expect(error).toMatchObject({ type: 'error', id: 'c', field: 'id' });
    expect(String(error['message'])).toContain('2 subscriptions');
  });

  it('answers ping with pong', async () => {
    await start();
    const client = await connect();

    expect(await client.request({ type: 'ping' }, 'pong')).toEqual({ type: 'pong' });
  });

  it('answers an upgrade on another path with 404', async () => {
    await start();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/other`);

    const status = await new Promise<number | undefined>((resolve, reject) => {
      ws.once('unexpected-response', (_request, response) => resolve(response.statusCode));
      ws.once('open', () => reject(new Error('upgraded on /other')));
      ws.once('error', reject);
    });
    ws.terminate();

    expect(status).toBe(404);
  });

  it('unsubscribes everything when the client goes away', async () => {
    await start();
    const client = await connect();
    await client.request({ type: 'subscribe', id: 'a', feed: 'customer:a' }, 'subscribed');
    await client.request({ type: 'subscribe', id: 'b', feed: 'all' }, 'subscribed');
    expect(hub.stats().subscribers).toBe(2);
    expect(sockets.clients()).toBe(1);

    client.ws.close();
    await client.closed;

    await eventually(
      'the server to let go of the connection',
      () => hub.stats().subscribers === 0 && sockets.clients() === 0,
    );
    expect(hub.stats().subscribers).toBe(0);
    expect(sockets.clients()).toBe(0);
  });

  it('close() closes the connections with 1001', async () => {
    await start();
    const client = await connect();

    await sockets.close();

    expect(await client.closed).toMatchObject({ code: 1001 });
  });

  it('drops a client that stops reading: `dropped` with the last id it was sent, then close 1013', async () => {
    await start({ maxBufferedBytes: 64 * 1024 });
    const client = await connect();
    await client.request({ type: 'subscribe', id: 'busy', feed: 'customer:x' }, 'subscribed');
    await client.request({ type: 'subscribe', id: 'quiet', feed: 'customer:y' }, 'subscribed');
    expect(hub.stats().subscribers).toBe(2);

    // The client stops reading: the kernel's buffers fill up, then the server's.
    client.ws.pause();
    const big = 'x'.repeat(256 * 1024);
    let id = 0;
    while (hub.stats().dropped === 0 && id < 1_000) {
      id += 1;
      hub.publish([{ id, keys: ['customer:x'], event: 'order-changed', data: big }]);
    }
    // The busy subscription is dropped at once; the quiet one goes with the connection.
    expect(hub.stats()).toMatchObject({ dropped: 1, subscribers: 1 });
    hub.publish([{ id: id + 1, keys: ['customer:x'], event: 'order-changed', data: big }]);
    client.ws.resume();

    const closed = await client.closed;
    expect(closed).toEqual({ code: CLOSE_SLOW_CONSUMER, reason: 'slow consumer: resume with lastEventId' });
    const last = client.messages.at(-1);
    expect(last).toEqual({
      type: 'dropped',
      subscription: 'busy',
      reason: 'slow-consumer',
      lastEventId: id,
      maxBufferedBytes: 64 * 1024,
    });
    // Every change up to the one it names arrived (and none after): it resumes without a gap.
    expect(client.changes('busy')).toEqual(Array.from({ length: id }, (_, i) => i + 1));
    expect(client.changes('quiet')).toEqual([]);
    await eventually(
      'the server to let go of the connection',
      () => hub.stats().subscribers === 0 && sockets.clients() === 0,
    );
  });
});

describe('attachWebSocket origin policy', () => {
  /** The upgrade's answer: 101 when it connected, else the status and the problem body. */
  async function upgrade(
    port: number,
    origin: string | undefined,
  ): Promise<{ status: number; body: string }> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, origin === undefined ? {} : { origin });
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.close();
        resolve({ status: 101, body: '' });
      });
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      ws.once('error', reject);
    });
  }

  it("connects clients without an Origin, the service's own pages and allowed origins; refuses others with 403", async () => {
    const hub = new Hub({ source: new FakeSource() });
    const server = http.createServer();
    const sockets = attachWebSocket(server, {
      hub,
      resolve: resolveFeed,
      pingIntervalMs: 60_000,
      origins: { allowed: ['https://app.example.com'] },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await upgrade(port, undefined)).toEqual({ status: 101, body: '' });
      expect(await upgrade(port, `http://127.0.0.1:${port}`)).toEqual({ status: 101, body: '' });
      expect(await upgrade(port, 'https://app.example.com')).toEqual({ status: 101, body: '' });
      const refused = await upgrade(port, 'http://evil.example');
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toEqual({
        type: 'about:blank',
        title: 'Forbidden',
        status: 403,
        detail: `origin "http://evil.example" is not this service's and not in its allowed origins`,
        instance: '/ws',
      });
      await eventually('the refused socket to be gone', () => sockets.clients() === 0);
      expect(hub.stats().subscribers).toBe(0);
    } finally {
      await sockets.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('attachWebSocket connection bounds', () => {
  it('refuses an upgrade past the limiter with its status and Retry-After, and frees the slot on close', async () => {
    const hub = new Hub({ source: new FakeSource() });
    const limiter = new ConnectionLimiter({ perInstance: 10, perClient: 1 });
    const server = http.createServer();
    const sockets = attachWebSocket(server, { hub, resolve: resolveFeed, pingIntervalMs: 60_000, limiter });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const attempt = () =>
      new Promise<{ status: number; retryAfter?: string; ws?: WebSocket }>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
        ws.once('open', () => resolve({ status: 101, ws }));
        ws.once('unexpected-response', (_request, response) =>
          resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] }),
        );
        ws.once('error', reject);
      });
    try {
      const first = await attempt();
      expect(first.status).toBe(101);
      expect(await attempt()).toEqual({ status: 429, retryAfter: '5' });
      expect(limiter.stats()).toEqual({ connections: 1, clients: 1 });
      first.ws?.close();
      await eventually('the closed connection to free its slot', () => limiter.stats().connections === 0);
      const again = await attempt();
      expect(again.status).toBe(101);
      again.ws?.close();
    } finally {
      await sockets.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('attachWebSocket under a client that never reads', () => {
  // Each kind is sent until its replies (`count` of them) far exceed what the kernel's socket
  // buffers on loopback take, so the server's own buffer must pass its bound.
  const badMessage = `{"type":"subscribe","id":"${'x'.repeat(65)}","feed":"all"}`;
  it.each([
    ['JSON pings', 500_000, (ws: WebSocket) => ws.send('{"type":"ping"}')],
    ['bad messages', 100_000, (ws: WebSocket) => ws.send(badMessage)],
    ['WebSocket ping frames', 100_000, (ws: WebSocket) => ws.ping('p'.repeat(125))],
  ])(
    'closes it with 1013 instead of buffering replies to %s without bound',
    async (_kind, count, request) => {
      const hub = new Hub({ source: new FakeSource(), maxBufferedBytes: 16 * 1024 });
      const server = http.createServer();
      const sockets = attachWebSocket(server, { hub, resolve: resolveFeed, pingIntervalMs: 60_000 });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const client = await Client.open((server.address() as AddressInfo).port);
      try {
        client.ws.pause();
        let closed: { code: number; reason: string } | undefined;
        void client.closed.then((result) => (closed = result));
        for (let sent = 0; sent < count; sent += 1) {
          request(client.ws);
          // Let the server read (the client still does not) and keep the client's own buffer small.
          if (sent % 1000 === 999)
            await eventually(
              'the server to read the requests',
              () => client.ws.bufferedAmount < 1024 * 1024,
              20_000,
            );
        }
        client.ws.resume();
        await eventually('the close', () => closed !== undefined, 20_000);
        expect(closed).toEqual({ code: CLOSE_SLOW_CONSUMER, reason: UNREAD_REPLIES_REASON });
      } finally {
        client.ws.terminate();
        await sockets.close();
        await new Promise((resolve) => server.close(resolve));
      }
    },
    30_000,
  );
});

describe('parseClientMessage', () => {
  it.each([
    ['{"type":"ping"}', { type: 'ping' }],
    ['{"type":"ping","extra":1}', { type: 'ping' }],
    ['{"type":"unsubscribe","id":"s1"}', { type: 'unsubscribe', id: 's1' }],
    ['{"type":"subscribe","id":"a.B_9:-","feed":"all"}', { type: 'subscribe', id: 'a.B_9:-', feed: 'all' }],
    [
      '{"type":"subscribe","id":"s1","feed":"order:1","lastEventId":0}',
      { type: 'subscribe', id: 's1', feed: 'order:1', lastEventId: 0 },
    ],
    [
      '{"type":"subscribe","id":"s1","feed":"order:1","lastEventId":9007199254740991}',
      { type: 'subscribe', id: 's1', feed: 'order:1', lastEventId: Number.MAX_SAFE_INTEGER },
    ],
    [`{"type":"subscribe","id":"${'i'.repeat(64)}","feed":"${'f'.repeat(200)}"}`, { type: 'subscribe' }],
  ])('accepts %s', (text, expected) => {
    const parsed = parseClientMessage(text);
    expect(parsed).toMatchObject(expected);
    expect(parsed).not.toHaveProperty('field');
  });

  it.each([
    ['', '(message)'],
    ['not json', '(message)'],
    ['{"type":"ping"', '(message)'],
    ['null', '(message)'],
    ['42', '(message)'],
    ['"ping"', '(message)'],
    ['[{"type":"ping"}]', '(message)'],
    ['{}', 'type'],
    ['{"type":"PING"}', 'type'],
    ['{"type":"publish","id":"s1"}', 'type'],
    ['{"type":"unsubscribe"}', 'id'],
    ['{"type":"unsubscribe","id":""}', 'id'],
    ['{"type":"unsubscribe","id":7}', 'id'],
    ['{"type":"subscribe","id":"a b","feed":"all"}', 'id'],
    ['{"type":"subscribe","id":"a/b","feed":"all"}', 'id'],
    [`{"type":"subscribe","id":"${'i'.repeat(65)}","feed":"all"}`, 'id'],
    ['{"type":"subscribe","id":"s1"}', 'feed'],
    ['{"type":"subscribe","id":"s1","feed":""}', 'feed'],
    ['{"type":"subscribe","id":"s1","feed":3}', 'feed'],
    [`{"type":"subscribe","id":"s1","feed":"${'f'.repeat(201)}"}`, 'feed'],
    ['{"type":"subscribe","id":"s1","feed":"all","lastEventId":-1}', 'lastEventId'],
    ['{"type":"subscribe","id":"s1","feed":"all","lastEventId":1.5}', 'lastEventId'],
    ['{"type":"subscribe","id":"s1","feed":"all","lastEventId":"5"}', 'lastEventId'],
    ['{"type":"subscribe","id":"s1","feed":"all","lastEventId":null}', 'lastEventId'],
    ['{"type":"subscribe","id":"s1","feed":"all","lastEventId":9007199254740992}', 'lastEventId'],
  ])('rejects %s naming the field %s', (text, field) => {
    const parsed = parseClientMessage(text);
    expect(parsed).toHaveProperty('field', field);
    expect(parsed).toHaveProperty('message', expect.stringMatching(/\S/));
  });
});
