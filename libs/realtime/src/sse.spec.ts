import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sink } from './hub';
import { openSse, resumePoint, type SseOptions } from './sse';

type SseSink = Sink & { closed: Promise<void> };

/** Waits for `condition` (checked on every chunk), failing after `timeoutMs`. */
function until<T>(
  description: string,
  subscribe: (check: () => void) => void,
  condition: () => T | undefined,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${description}`)), timeoutMs);
    const check = () => {
      const value = condition();
      if (value !== undefined) {
        clearTimeout(timer);
        resolve(value);
      }
    };
    subscribe(check);
    check();
  });
}

/** An HTTP server on a free loopback port whose every request becomes an SSE sink. */
async function sseServer(options?: SseOptions) {
  const sinks: SseSink[] = [];
  const waiting: ((sink: SseSink) => void)[] = [];
  const server: Server = http.createServer((_request, response: ServerResponse) => {
    const sink = openSse(response, options);
    sinks.push(sink);
    waiting.shift()?.(sink);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  /** Opens a stream; resolves with the response as it arrives and the server's sink. */
  const connect = async () => {
    const sinkReady = new Promise<SseSink>((resolve) => waiting.push(resolve));
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/stream' }, resolve).once('error', reject);
    });
    let body = '';
    const listeners: (() => void)[] = [];
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      body += chunk;
      for (const listener of listeners) listener();
    });
    const ended = new Promise<void>((resolve) => response.once('end', resolve));
    return {
      response,
      sink: await sinkReady,
      body: () => body,
      ended,
      /** Resolves once the body contains `text`. */
      received: (text: string) =>
        until(
          JSON.stringify(text),
          (check) => listeners.push(check),
          () => (body.includes(text) ? body : undefined),
        ),
    };
  };
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { connect, close, sinks };
}

describe('openSse', () => {
  let server: Awaited<ReturnType<typeof sseServer>> | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers with an event stream that is not cached, plus the extra headers', async () => {
    server = await sseServer({ headers: { 'x-correlation-id': 'corr-1' } });
    const client = await server.connect();

    expect(client.response.statusCode).toBe(200);
    expect(client.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.response.headers['cache-control']).toMatch(/^no-cache\b/);
    expect(client.response.headers['x-accel-buffering']).toBe('no');
    expect(client.response.headers['x-correlation-id']).toBe('corr-1');
  });

  it('starts with the retry field (default 1 s)', async () => {
    server = await sseServer();
    const client = await server.connect();

    expect(await client.received('\n\n')).toBe('retry: 1000\n\n');
  });

  it('frames a change as id, event and one data line ended by a blank line', async () => {
    server = await sseServer({ retryMs: 250 });
    const client = await server.connect();

    client.sink.send({
      id: 42,
      keys: ['order:1'],
      event: 'order-changed',
      // A newline in a value stays escaped: still one data line.
      data: { orderId: '1', note: 'two\nlines' },
    });
    client.sink.send({ id: 43, keys: [], event: 'order-changed', data: null });
    client.sink.close();
    await client.ended;

    expect(client.body()).toBe(
      'retry: 250\n\n' +
        'id: 42\nevent: order-changed\ndata: {"orderId":"1","note":"two\\nlines"}\n\n' +
        'id: 43\nevent: order-changed\ndata: null\n\n',
    );
  });

  it('sends the other control messages without an id, so they never move the resume point', async () => {
    server = await sseServer({ retryMs: 1 });
    const client = await server.connect();

    client.sink.send({ id: 7, keys: [], event: 'order-changed', data: {} });
    client.sink.control({ type: 'reset', reason: 'history-pruned', oldestId: 3 });
    client.sink.control({
      type: 'dropped',
      reason: 'slow-consumer',
      lastEventId: 7,
      maxBufferedBytes: 1024,
    });
    client.sink.close();
    await client.ended;

    const frames = client.body().split('\n\n').slice(1, -1);
    expect(frames).toEqual([
      'id: 7\nevent: order-changed\ndata: {}',
      'event: reset\ndata: {"type":"reset","reason":"history-pruned","oldestId":3}',
      'event: dropped\ndata: {"type":"dropped","reason":"slow-consumer","lastEventId":7,"maxBufferedBytes":1024}',
    ]);
  });

  it('gives a too-far-behind reset the id it skipped to, so a reconnect resumes after it', async () => {
    server = await sseServer({ retryMs: 1 });
    const client = await server.connect();

    client.sink.control({ type: 'reset', reason: 'too-far-behind', lastEventId: 900, maxReplayEvents: 10 });
    client.sink.close();
    await client.ended;

    expect(client.body().split('\n\n').slice(1, -1)).toEqual([
      'id: 900\nevent: reset\ndata: {"type":"reset","reason":"too-far-behind","lastEventId":900,"maxReplayEvents":10}',
    ]);
  });

  it('sends a comment line as a heartbeat', async () => {
    server = await sseServer({ heartbeatMs: 20 });
    const client = await server.connect();

    await client.received(': keep-alive\n\n');
    expect(client.body().startsWith('retry: 1000\n\n: keep-alive\n\n')).toBe(true);
  });

  it('close() ends the response, and `closed` resolves', async () => {
    server = await sseServer({ heartbeatMs: 10 });
    const client = await server.connect();

    client.sink.close();
    await client.ended;
    await client.sink.closed;
    expect(client.response.complete).toBe(true);
  });

  it('`closed` resolves when the client goes away', async () => {
    server = await sseServer();
    const client = await server.connect();

    client.response.destroy();
    await client.sink.closed;
    // Writing to a gone client does not throw.
    expect(() => client.sink.send({ id: 1, keys: [], event: 'e', data: 1 })).not.toThrow();
  });

  it('reports the bytes written but not yet sent', async () => {
    server = await sseServer();
    const client = await server.connect();
    expect(client.sink.buffered()).toBe(0);

    // The client stops reading: the kernel buffers fill and the rest waits in the response.
    client.response.pause();
    const big = 'x'.repeat(1024 * 1024);
    for (let id = 1; id <= 64 && client.sink.buffered() === 0; id += 1) {
      client.sink.send({ id, keys: [], event: 'big', data: big });
    }
    expect(client.sink.buffered()).toBeGreaterThan(0);
  });
});

describe('resumePoint', () => {
  it.each([
    ['the header', '12', undefined, 12],
    ['the header over the query', '12', '5', 12],
    ['the first header of several', ['7', '8'], '5', 7],
    ['the query without a header', undefined, '5', 5],
    ['zero', '0', undefined, 0],
    ['the largest accepted id (15 digits)', '999999999999999', undefined, 999_999_999_999_999],
    ['a value with surrounding spaces', ' 9 ', undefined, 9],
  ] as const)('takes %s', (_name, header, query, expected) => {
    expect(resumePoint(header as string | string[] | undefined, query)).toBe(expected);
  });

  it.each([
    ['neither is given', undefined, undefined],
    ['the query is empty', undefined, ''],
    ['the header list is empty', [], undefined],
  ] as const)('is undefined when %s', (_name, header, query) => {
    expect(resumePoint(header as string | string[] | undefined, query)).toBeUndefined();
  });

  it.each([
    ['a word', 'abc', undefined],
    ['a negative number', '-1', undefined],
    ['a fraction', '1.5', undefined],
    ['an exponent', '1e3', undefined],
    ['a hex number', '0x10', undefined],
    ['a number with a sign', '+3', undefined],
    ['a huge number (16 digits)', '1234567890123456', undefined],
    ['whitespace only', ' ', undefined],
    ['a bad query', undefined, 'x'],
    ['a bad header even with a good query', 'x', '5'],
  ] as const)('rejects %s with a RangeError', (_name, header, query) => {
    expect(() => resumePoint(header, query)).toThrow(RangeError);
    expect(() => resumePoint(header, query)).toThrow('must be a non-negative integer event id');
  });
});
