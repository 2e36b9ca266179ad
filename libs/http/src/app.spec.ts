// Real loopback sockets: fastify's inject needs light-my-request, whose cookie@2 is ESM that jest cannot load.
import net, { type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createHttpApp } from './app';
import { registerHealthRoutes } from './health';
import { createServiceLogger } from './logger';
import type { Problem } from './problem';
import type { ReadinessCheck } from './readiness';

class Outage extends Error {
  readonly code = 'TEST_OUTAGE';
}

let app: FastifyInstance;
let baseUrl: string;
let logLines: string[];
let checks: Record<string, ReadinessCheck>;

/** An app with a route of each kind of failure, listening on a free port. */
async function start(options: { unavailable?: boolean; timeoutMs?: number } = {}): Promise<void> {
  logLines = [];
  const logger = createServiceLogger('http-test', 'info', { write: (line: string) => logLines.push(line) });
  app = createHttpApp({
    logger,
    bodyLimit: 256,
    unavailable: options.unavailable
      ? (error) => (error instanceof Outage ? { code: error.code, detail: 'Down for a test.' } : undefined)
      : undefined,
  });
  app.post(
    '/things',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string' }, count: { type: 'integer', minimum: 1 } },
        },
      },
    },
    (request) => request.body,
  );
  app.get('/things/:id', () => 'found');
  app.get('/outage', () => Promise.reject(new Outage('the dependency is down: secret detail')));
  app.get('/teapot', () => Promise.reject(Object.assign(new Error('No coffee here.'), { statusCode: 418 })));
  app.get('/bug', () => Promise.reject(new TypeError('undefined is not a function (secret detail)')));
  checks = { first: () => Promise.resolve() };
  registerHealthRoutes(app, { checks: () => checks, timeoutMs: options.timeoutMs });
  await app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  logLines.length = 0; // from here on, only what requests log
}

afterEach(() => app.close());

function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(10_000), ...init });
}

const postJson = (path: string, body: string, headers: Record<string, string> = {}) =>
  call(path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

async function problemIn(response: Response): Promise<Problem> {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await response.json()) as Problem;
  expect(body).toMatchObject({
    status: response.status,
    correlationId: response.headers.get('x-correlation-id'),
  });
  return body;
}

const logged = () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe('createHttpApp', () => {
  beforeEach(() => start({ unavailable: true }));

  it('answers a body that fails its schema with a 400 naming every bad field', async () => {
    const response = await postJson('/things', JSON.stringify({ count: 0, colour: 'red' }));
    expect(response.status).toBe(400);
    expect(await problemIn(response)).toEqual({
      type: 'urn:tideline:problem:validation-failed',
      title: 'Invalid request',
      status: 400,
      detail: '3 fields are invalid: name, colour, count.',
      instance: '/things',
      correlationId: response.headers.get('x-correlation-id'),
      errors: [
        { field: 'name', message: 'is required' },
        { field: 'colour', message: 'is not a known field' },
        { field: 'count', message: 'must be >= 1' },
      ],
    });
  });

  it.each([
    [
      'a URL larger than the parser takes',
      `GET /things?q=${'x'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
      431,
    ],
    ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 400],
  ])('answers %s with a problem+json before closing', async (_case, raw, status) => {
    const { port } = app.server.address() as AddressInfo;
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = net.connect(port, '127.0.0.1', () => socket.write(raw));
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head).toMatch(/content-type: application\/problem\+json/);
    expect(JSON.parse(body!)).toMatchObject({ type: 'about:blank', status });
  });

  it.each([
    ['a malformed percent-encoding', '/things/%ZZ', 400],
    ['a path parameter over 100 characters', `/things/${'x'.repeat(101)}`, 414],
  ])('answers %s in the path with a problem+json', async (_case, path, status) => {
    const response = await call(path);
    expect(response.status).toBe(status);
    expect((await problemIn(response)).instance).toBe(path);
  });

  it('neither coerces nor strips what does not fit', async () => {
    const response = await postJson('/things', JSON.stringify({ name: 'a', count: '2' }));
    expect((await problemIn(response)).errors).toEqual([{ field: 'count', message: 'must be integer' }]);
  });

  it('passes a valid body through', async () => {
    const response = await postJson('/things', JSON.stringify({ name: 'a', count: 2 }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ name: 'a', count: 2 });
  });

  it.each([
    ['invalid JSON', '{"name": ', 'application/json', 400, 'The body is not valid JSON.'],
    [
      'an empty JSON body',
      '',
      'application/json',
      400,
      'The body is empty but the content type is application/json.',
    ],
    [
      'a body over bodyLimit',
      JSON.stringify({ name: 'n'.repeat(300) }),
      'application/json',
      413,
      'The body is larger than this API accepts.',
    ],
    ['an unknown content type', '<name/>', 'application/xml', 415, 'Send the body as application/json.'],
  ])('answers %s with a problem', async (_what, body, contentType, status, detail) => {
    const response = await call('/things', {
      method: 'POST',
      body,
      headers: { 'content-type': contentType },
    });
    expect(response.status).toBe(status);
    expect((await problemIn(response)).detail).toBe(detail);
  });

  it('answers 503 with Retry-After for what `unavailable` recognises', async () => {
    const response = await call('/outage');
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await problemIn(response)).toMatchObject({
      type: 'urn:tideline:problem:dependency-unavailable',
      title: 'Service Unavailable',
      code: 'TEST_OUTAGE',
      detail: 'Down for a test.',
    });
    expect(logged().find((line) => line['msg'] === 'dependency unavailable: answering 503')).toMatchObject({
      level: 40,
      code: 'TEST_OUTAGE',
    });
  });

  it('passes another 4xx through with its message', async () => {
    const response = await call('/teapot');
    expect(response.status).toBe(418);
    expect(await problemIn(response)).toMatchObject({
      type: 'about:blank',
      title: "I'm a Teapot",
      detail: 'No coffee here.',
    });
  });

  it('answers anything else with a 500 that shows no internals, and logs the error', async () => {
    const response = await call('/bug');
    expect(response.status).toBe(500);
    const body = JSON.stringify(await problemIn(response));
    expect(body).not.toMatch(/secret detail|TypeError/);
    expect(response.headers.get('retry-after')).toBeNull();
    expect(logged().find((line) => line['msg'] === 'request failed')).toMatchObject({ level: 50 });
  });

  it('answers an unknown route with a 404 problem', async () => {
    const response = await call('/nowhere?x=1');
    expect(response.status).toBe(404);
    expect(await problemIn(response)).toMatchObject({
      detail: 'No route GET /nowhere.',
      instance: '/nowhere?x=1',
    });
  });

  it('uses the correlation id as request id: echoed on every response, labelling the log lines', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const sent = [
      await call('/healthz', { headers: { 'x-correlation-id': 'corr-1' } }),
      await call('/bug', { headers: { 'x-correlation-id': 'corr-2' } }),
      await call('/nowhere', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } }),
    ];
    expect(sent.map((response) => response.headers.get('x-correlation-id'))).toEqual([
      'corr-1',
      'corr-2',
      traceId,
    ]);
    const lines = logged().filter((line) => line['correlationId'] === 'corr-2');
    expect(lines.map((line) => line['msg'])).toEqual([
      'incoming request',
      'request failed',
      'request completed',
    ]);
    expect(lines[0]).toMatchObject({ service: 'http-test' });
  });

  it('replaces an invalid X-Correlation-Id', async () => {
    const response = await call('/healthz', { headers: { 'x-correlation-id': 'not/valid' } });
    expect(response.headers.get('x-correlation-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });
});

describe('errorHandler without `unavailable`', () => {
  beforeEach(() => start());

  it('answers every dependency error with a 500', async () => {
    const response = await call('/outage');
    expect(response.status).toBe(500);
    expect((await problemIn(response)).code).toBeUndefined();
  });
});

describe('registerHealthRoutes', () => {
  it('answers /healthz and a passing /readyz without logging the requests', async () => {
    await start();
    const health = await call('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await call('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { first: { ok: true } } });
    expect(logged()).toEqual([]);
  });

  it('answers /readyz 503 with the checks of the moment, and logs a warning', async () => {
    await start({ timeoutMs: 20 });
    checks = {
      first: () => Promise.resolve(),
      second: () => Promise.reject(new Error('Connection refused')),
      third: () => new Promise(() => undefined),
    };
    const response = await call('/readyz');
    expect(response.status).toBe(503);
    const expected = {
      first: { ok: true },
      second: { ok: false, error: 'Connection refused' },
      third: { ok: false, error: 'no answer within 20 ms' },
    };
    expect(await response.json()).toEqual({ status: 'not-ready', checks: expected });
    expect(logged()).toEqual([expect.objectContaining({ level: 40, msg: 'not ready', checks: expected })]);
  });
});

describe('createServiceLogger', () => {
  it('writes JSON lines naming the service, with ISO times and no API keys', () => {
    const lines: string[] = [];
    const logger = createServiceLogger('svc', 'debug', { write: (line: string) => lines.push(line) });
    logger.debug(
      { req: { headers: { authorization: 'Bearer k', 'x-api-key': 'k', accept: '*/*' } } },
      'hello',
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 20,
      service: 'svc',
      pid: process.pid,
      msg: 'hello',
      req: { headers: { authorization: '[Redacted]', 'x-api-key': '[Redacted]', accept: '*/*' } },
    });
    expect(line['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(typeof line['hostname']).toBe('string');
  });
});
