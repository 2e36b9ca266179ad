import { allTopics } from '@tideline/contracts';
import { MessagingError } from '@tideline/messaging';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppConfig } from './app';
import { IdempotencyStoreError } from './idempotency';
import { capturingLogger, FakePublisher, MemoryIdempotencyStore } from './test-support/fakes';
import { httpRequest, listenOnFreePort, type HttpRequest, type HttpResponse } from './test-support/http';
import { fuzzOpenApi, type OpenApiDocument } from '@tideline/testing';

const API_KEY = 'unit-test-key-0123456789';
const OTHER_KEY = 'other-test-key-9876543210';
const NOW = new Date('2026-03-01T12:00:00.000Z');
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ORDER_ID = '01950000-0000-7000-8000-000000000001';
const A_UUID_V7: unknown = expect.stringMatching(UUID_V7);

const baseConfig: AppConfig = {
  API_KEYS: [API_KEY, OTHER_KEY],
  AUTH_DISABLED: false,
  BODY_LIMIT_BYTES: 2048,
  PROJECTION_URL: 'http://projection.test:3002',
};

const validOrder = { customerId: 'customer-1', items: [{ sku: 'SKU-1', quantity: 2 }], currency: 'EUR' };
const validProduct = { name: 'Tea', priceCents: 450, currency: 'EUR', active: true };

let app: FastifyInstance;
let baseUrl: string;
let publisher: FakePublisher;
let store: MemoryIdempotencyStore;
let logs: ReturnType<typeof capturingLogger>;
let readiness: Record<string, () => Promise<unknown>>;

async function start(config: Partial<AppConfig> = {}, readinessTimeoutMs = 1000): Promise<void> {
  publisher = new FakePublisher();
  store = new MemoryIdempotencyStore();
  logs = capturingLogger();
  readiness = {
    kafka: () => Promise.resolve(),
    registry: () => Promise.resolve(),
    database: () => Promise.resolve(),
  };
  app = await buildApp(
    { ...baseConfig, ...config },
    {
      publisher,
      idempotency: store,
      // Late-bound, so a test can swap a check after the app started.
      readiness: {
        kafka: () => readiness['kafka']!(),
        registry: () => readiness['registry']!(),
        database: () => readiness['database']!(),
      },
      logger: logs.logger,
      now: () => NOW,
      readinessTimeoutMs,
    },
  );
  baseUrl = await listenOnFreePort(app);
}

const inject = (request: HttpRequest): Promise<HttpResponse> => httpRequest(baseUrl, request);

afterEach(() => app.close());

const auth = { authorization: `Bearer ${API_KEY}` };

function send(
  method: 'POST' | 'PUT',
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  return inject({ method, url, payload, headers: { ...auth, ...headers } });
}

const placeOrder = (body: unknown, headers: Record<string, string> = {}) =>
  send('POST', '/orders', body, headers);

function problemOf(response: HttpResponse) {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json<{
    type: string;
    title: string;
    status: number;
    detail: string;
    instance: string;
    correlationId: string;
    code?: string;
    errors?: { field: string; message: string }[];
  }>();
  expect(body.status).toBe(response.statusCode);
  expect(typeof body.type).toBe('string');
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}

function fieldsOf(response: HttpResponse): string[] {
  expect(response.statusCode).toBe(400);
  return (problemOf(response).errors ?? []).map((e) => e.field);
}

describe('POST /orders', () => {
  beforeEach(() => start());

  it('publishes OrderPlaced keyed by a new UUIDv7 order id and answers 202 with links to the projection', async () => {
    const response = await placeOrder(validOrder, { 'x-correlation-id': 'corr-1' });

    expect(response.statusCode).toBe(202);
    const body = response.json<Record<string, unknown>>();
    const orderId = body['orderId'] as string;
    expect(orderId).toMatch(UUID_V7);
    expect(body).toEqual({
      orderId,
      eventId: A_UUID_V7,
      correlationId: 'corr-1',
      status: 'pending',
      links: {
        self: `http://projection.test:3002/orders/${orderId}`,
        stream: `http://projection.test:3002/orders/${orderId}/stream`,
      },
    });
    expect(publisher.published).toEqual([
      {
        topic: 'orders.order-placed.v1',
        key: orderId,
        value: {
          orderId,
          customerId: 'customer-1',
          currency: 'EUR',
          lines: [{ sku: 'SKU-1', quantity: 2 }],
          placedAt: NOW.getTime(),
        },
        options: { correlationId: 'corr-1', eventId: body['eventId'], timestamp: NOW },
      },
    ]);
  });

  it('gives every order its own id', async () => {
    const first = (await placeOrder(validOrder)).json<{ orderId: string; eventId: string }>();
    const second = (await placeOrder(validOrder)).json<{ orderId: string; eventId: string }>();
    expect(first.orderId).not.toBe(second.orderId);
    expect(first.eventId).not.toBe(second.eventId);
    expect(publisher.published).toHaveLength(2);
  });
});

describe('validation: 400 problem+json naming each bad field, nothing published', () => {
  beforeEach(() => start());

  it.each([
    ['wrong types', { customerId: 5, items: 'many', currency: 978 }, ['customerId', 'items', 'currency']],
    ['an unknown field', { ...validOrder, coupon: 'FREE' }, ['coupon']],
    [
      'an unknown field in an item',
      { ...validOrder, items: [{ sku: 'A', quantity: 1, price: 3 }] },
      ['items[0].price'],
    ],
    ['empty items', { ...validOrder, items: [] }, ['items']],
    ['quantity 0', { ...validOrder, items: [{ sku: 'A', quantity: 0 }] }, ['items[0].quantity']],
    ['quantity -1', { ...validOrder, items: [{ sku: 'A', quantity: -1 }] }, ['items[0].quantity']],
    ['quantity 1.5', { ...validOrder, items: [{ sku: 'A', quantity: 1.5 }] }, ['items[0].quantity']],
    ['quantity as a string', { ...validOrder, items: [{ sku: 'A', quantity: '2' }] }, ['items[0].quantity']],
    ['a missing currency', { customerId: 'c', items: validOrder.items }, ['currency']],
    ['a lower-case currency', { ...validOrder, currency: 'eur' }, ['currency']],
    ['an empty customer id', { ...validOrder, customerId: '' }, ['customerId']],
    ['a customer id of 101 characters', { ...validOrder, customerId: 'c'.repeat(101) }, ['customerId']],
    ['a customer id with a NUL', { ...validOrder, customerId: 'c\u0000' }, ['customerId']],
    ['a customer id with a space', { ...validOrder, customerId: 'c 1' }, ['customerId']],
    ['a customer id with a slash', { ...validOrder, customerId: 'c/1' }, ['customerId']],
    ['a bad sku', { ...validOrder, items: [{ sku: 'no spaces', quantity: 1 }] }, ['items[0].sku']],
    ['a missing sku', { ...validOrder, items: [{ quantity: 1 }] }, ['items[0].sku']],
    ['null', null, ['(body)']],
    ['an array', [validOrder], ['(body)']],
    [
      'many problems at once',
      {
        customerId: '',
        currency: 'euro',
        items: [
          { sku: 'ok', quantity: 1 },
          { sku: 'ok', quantity: 0, extra: true },
        ],
        note: 'x',
      },
      ['note', 'customerId', 'items[1].extra', 'items[1].quantity', 'currency'],
    ],
  ])('rejects %s', async (_what, body, fields) => {
    const response = await placeOrder(body);
    const problem = problemOf(response);
    expect(problem.type).toBe('urn:tideline:problem:validation-failed');
    expect(problem.instance).toBe('/orders');
    expect(fieldsOf(response).sort()).toEqual([...fields].sort());
    for (const error of problem.errors ?? []) expect(error.message).not.toBe('');
    expect(publisher.published).toEqual([]);
  });

  it('says what is wrong with a field', async () => {
    const response = await placeOrder({ customerId: 'c', items: [{ sku: 'A', quantity: 0 }] });
    expect(problemOf(response).errors).toEqual([
      { field: 'currency', message: 'is required' },
      { field: 'items[0].quantity', message: 'must be >= 1' },
    ]);
  });

  it('rejects invalid JSON', async () => {
    const response = await placeOrder('{"customerId": "c", ', { 'content-type': 'application/json' });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response).detail).toBe('The body is not valid JSON.');
    expect(publisher.published).toEqual([]);
  });

  it('rejects an empty JSON body', async () => {
    const response = await placeOrder('', { 'content-type': 'application/json' });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response).detail).toMatch(/empty/);
  });

  it('rejects a request without a body', async () => {
    expect(fieldsOf(await placeOrder(undefined))).toEqual(['(body)']);
  });

  it('rejects prototype poisoning as invalid JSON', async () => {
    const response = await placeOrder('{"__proto__": {"admin": true}}', {
      'content-type': 'application/json',
    });
    expect(response.statusCode).toBe(400);
    problemOf(response);
  });

  it('answers 413 for a body over BODY_LIMIT_BYTES', async () => {
    const response = await placeOrder({ ...validOrder, customerId: 'c'.repeat(4096) });
    expect(response.statusCode).toBe(413);
    expect(problemOf(response).title).toBe('Payload Too Large');
    expect(publisher.published).toEqual([]);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml'])(
    'answers 415 for content type %s',
    async (contentType) => {
      const response = await placeOrder('customerId=c', { 'content-type': contentType });
      expect(response.statusCode).toBe(415);
      expect(problemOf(response).detail).toBe('Send the body as application/json.');
      expect(publisher.published).toEqual([]);
    },
  );

  it('accepts application/json with a charset', async () => {
    const response = await placeOrder(JSON.stringify(validOrder), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(response.statusCode).toBe(202);
  });

  it('rejects an Idempotency-Key longer than 255 characters', async () => {
    expect(fieldsOf(await placeOrder(validOrder, { 'idempotency-key': 'k'.repeat(256) }))).toEqual([
      'headers.idempotency-key',
    ]);
  });

  it.each([
    ['a non-UUID order id', '/orders/not-a-uuid/cancel', {}, ['params.id']],
    ['an unknown field', `/orders/${ORDER_ID}/cancel`, { reason: 'x', refund: true }, ['refund']],
    ['an empty reason', `/orders/${ORDER_ID}/cancel`, { reason: '' }, ['reason']],
    ['a reason of 501 characters', `/orders/${ORDER_ID}/cancel`, { reason: 'r'.repeat(501) }, ['reason']],
  ])('cancel rejects %s', async (_what, url, body, fields) => {
    expect(fieldsOf(await send('POST', url, body))).toEqual(fields);
  });

  it.each([
    ['a bad sku in the path', '/catalog/products/bad%20sku', validProduct, ['params.sku']],
    ['a negative price', '/catalog/products/SKU-1', { ...validProduct, priceCents: -1 }, ['priceCents']],
    ['a fractional price', '/catalog/products/SKU-1', { ...validProduct, priceCents: 1.5 }, ['priceCents']],
    [
      'a price as a string',
      '/catalog/products/SKU-1',
      { ...validProduct, priceCents: '450' },
      ['priceCents'],
    ],
    ['active as a string', '/catalog/products/SKU-1', { ...validProduct, active: 'yes' }, ['active']],
    ['an empty body', '/catalog/products/SKU-1', {}, ['name', 'priceCents', 'currency', 'active']],
  ])('product rejects %s', async (_what, url, body, fields) => {
    expect(fieldsOf(await send('PUT', url, body)).sort()).toEqual([...fields].sort());
  });
});

describe('POST /orders/:id/cancel', () => {
  beforeEach(() => start());

  it('publishes OrderCancelled with the reason and answers 202', async () => {
    const response = await send('POST', `/orders/${ORDER_ID}/cancel`, { reason: 'changed my mind' });
    expect(response.statusCode).toBe(202);
    const body = response.json<{ eventId: string; correlationId: string }>();
    expect(body).toEqual({
      orderId: ORDER_ID,
      eventId: A_UUID_V7,
      correlationId: response.headers['x-correlation-id'],
      status: 'cancellation-requested',
      links: {
        self: `http://projection.test:3002/orders/${ORDER_ID}`,
        stream: `http://projection.test:3002/orders/${ORDER_ID}/stream`,
      },
    });
    expect(publisher.published).toEqual([
      {
        topic: 'orders.order-cancelled.v1',
        key: ORDER_ID,
        value: { orderId: ORDER_ID, reason: 'changed my mind', cancelledAt: NOW.getTime() },
        options: { correlationId: body.correlationId, eventId: body.eventId, timestamp: NOW },
      },
    ]);
  });

  it('takes no body at all as no reason', async () => {
    const response = await send('POST', `/orders/${ORDER_ID}/cancel`);
    expect(response.statusCode).toBe(202);
    expect(publisher.published[0]?.value).toEqual({
      orderId: ORDER_ID,
      reason: null,
      cancelledAt: NOW.getTime(),
    });
  });
});

describe('PUT /catalog/products/:sku', () => {
  beforeEach(() => start());

  it('publishes ProductUpdated keyed by the SKU and answers 202', async () => {
    const response = await send('PUT', '/catalog/products/SKU-1', validProduct);
    expect(response.statusCode).toBe(202);
    const body = response.json<{ eventId: string; correlationId: string }>();
    expect(body).toEqual({
      sku: 'SKU-1',
      eventId: A_UUID_V7,
      correlationId: response.headers['x-correlation-id'],
    });
    expect(publisher.published).toEqual([
      {
        topic: 'catalog.product-updated.v1',
        key: 'SKU-1',
        value: { sku: 'SKU-1', ...validProduct, updatedAt: NOW.getTime() },
        options: { correlationId: body.correlationId, eventId: body.eventId, timestamp: NOW },
      },
    ]);
  });
});

describe('authentication', () => {
  beforeEach(() => start());

  it.each([
    ['no key', {}, 'Bearer realm="order-api"'],
    [
      'a wrong bearer key',
      { authorization: 'Bearer wrong-key-0123456789' },
      'Bearer realm="order-api", error="invalid_token"',
    ],
    [
      'a wrong X-API-Key',
      { authorization: '', 'x-api-key': 'wrong-key-0123456789' },
      'Bearer realm="order-api", error="invalid_token"',
    ],
    [
      'Basic credentials',
      { authorization: `Basic ${Buffer.from(`u:${API_KEY}`).toString('base64')}` },
      'Bearer realm="order-api"',
    ],
    [
      'a key prefix',
      { authorization: `Bearer ${API_KEY.slice(0, -1)}` },
      'Bearer realm="order-api", error="invalid_token"',
    ],
  ])(
    'answers 401 with WWW-Authenticate for %s, before validating the body',
    async (_what, headers, challenge) => {
      const noAuth = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ''));
      const response = await inject({
        method: 'POST',
        url: '/orders',
        payload: { bad: true },
        headers: noAuth,
      });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe(challenge);
      expect(problemOf(response).title).toBe('Unauthorized');
      expect(publisher.published).toEqual([]);
    },
  );

  it.each([
    ['Authorization: Bearer', { authorization: `Bearer ${API_KEY}` }],
    ['a lower-case scheme', { authorization: `bearer ${OTHER_KEY}` }],
    ['X-API-Key', { 'x-api-key': API_KEY }],
  ])('accepts a configured key in %s', async (_what, headers) => {
    const response = await inject({ method: 'POST', url: '/orders', payload: validOrder, headers });
    expect(response.statusCode).toBe(202);
  });

  it('guards every write route', async () => {
    for (const [method, url] of [
      ['POST', `/orders/${ORDER_ID}/cancel`],
      ['PUT', '/catalog/products/SKU-1'],
    ] as const) {
      expect((await inject({ method, url, payload: {} })).statusCode).toBe(401);
    }
  });

  it('leaves health and docs open', async () => {
    for (const url of ['/healthz', '/readyz', '/docs/json']) {
      expect((await inject({ method: 'GET', url })).statusCode).toBe(200);
    }
  });

  it('accepts requests without a key when AUTH_DISABLED', async () => {
    await app.close();
    await start({ AUTH_DISABLED: true, API_KEYS: [] });
    const response = await inject({ method: 'POST', url: '/orders', payload: validOrder });
    expect(response.statusCode).toBe(202);
  });
});

describe('correlation id', () => {
  beforeEach(() => start());

  it('echoes a valid X-Correlation-Id and publishes with it', async () => {
    const response = await placeOrder(validOrder, { 'x-correlation-id': 'Order_flow-42.a' });
    expect(response.headers['x-correlation-id']).toBe('Order_flow-42.a');
    expect(publisher.published[0]?.options.correlationId).toBe('Order_flow-42.a');
  });

  it.each([
    ['too long', 'c'.repeat(129)],
    ['with a space', 'has space'],
    ['with a slash', 'a/b'],
  ])('replaces an X-Correlation-Id that is %s with a new UUIDv7', async (_what, given) => {
    const response = await placeOrder(validOrder, { 'x-correlation-id': given });
    const id = response.headers['x-correlation-id'];
    expect(id).toMatch(UUID_V7);
    expect(publisher.published[0]?.options.correlationId).toBe(id);
  });

  it('takes the trace id of a valid traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await placeOrder(validOrder, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(response.headers['x-correlation-id']).toBe(traceId);
    expect(publisher.published[0]?.options.correlationId).toBe(traceId);
  });

  it('prefers X-Correlation-Id over traceparent', async () => {
    const response = await placeOrder(validOrder, {
      'x-correlation-id': 'mine',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    expect(response.headers['x-correlation-id']).toBe('mine');
  });

  it('returns it on every response, errors included', async () => {
    const responses = [
      await inject({ method: 'GET', url: '/healthz', headers: { 'x-correlation-id': 'c-1' } }),
      await inject({ method: 'GET', url: '/nowhere', headers: { 'x-correlation-id': 'c-1' } }),
      await inject({ method: 'POST', url: '/orders', payload: {}, headers: { 'x-correlation-id': 'c-1' } }),
      await placeOrder({}, { 'x-correlation-id': 'c-1' }),
      await placeOrder('x', { 'x-correlation-id': 'c-1', 'content-type': 'text/plain' }),
    ];
    expect(responses.map((r) => r.statusCode)).toEqual([200, 404, 401, 400, 415]);
    for (const response of responses) expect(response.headers['x-correlation-id']).toBe('c-1');
  });

  it('labels every log line of a request with it', async () => {
    await placeOrder(validOrder, { 'x-correlation-id': 'logged-1' });
    const lines = logs.lines().filter((line) => line['correlationId'] === 'logged-1');
    expect(lines.map((line) => line['msg'])).toEqual([
      'incoming request',
      'order placed',
      'request completed',
    ]);
    for (const line of lines) expect(line['service']).toBe('order-api');
  });
});

describe('when a dependency fails', () => {
  beforeEach(() => start());

  it.each([
    [
      'TDL_MSG_KAFKA_UNAVAILABLE',
      new MessagingError('TDL_MSG_KAFKA_UNAVAILABLE', 'Kafka did not acknowledge'),
    ],
    [
      'TDL_MSG_PUBLISH_TIMEOUT',
      new MessagingError('TDL_MSG_PUBLISH_TIMEOUT', 'not sent in time', { details: { sent: false } }),
    ],
    ['TDL_MSG_REGISTRY_UNAVAILABLE', new MessagingError('TDL_MSG_REGISTRY_UNAVAILABLE', 'registry down')],
  ])('answers 503 with Retry-After for a retryable %s', async (code, error) => {
    publisher.failWith = error;
    const response = await placeOrder(validOrder);
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    const problem = problemOf(response);
    expect(problem.code).toBe(code);
    expect(problem.type).toBe('urn:tideline:problem:dependency-unavailable');
    expect(problem.detail).toMatch(/nothing was published/);
  });

  it('says the outcome is unknown when Kafka did not acknowledge a record it was handed', async () => {
    publisher.failWith = new MessagingError('TDL_MSG_PUBLISH_TIMEOUT', 'no acknowledgement', {
      details: { sent: true },
    });
    const response = await placeOrder(validOrder);
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    const problem = problemOf(response);
    expect(problem.type).toBe('urn:tideline:problem:outcome-unknown');
    expect(problem.code).toBe('TDL_MSG_PUBLISH_TIMEOUT');
    expect(problem.detail).toMatch(/may or may not have been written/);
    expect(problem.detail).toMatch(/send an Idempotency-Key to retry safely/);
  });

  it('answers 503 when the idempotency store is down', async () => {
    store.failWith = new IdempotencyStoreError('PostgreSQL could not claim');
    const response = await placeOrder(validOrder, { 'idempotency-key': 'k-1' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(problemOf(response).code).toBe('TDL_API_IDEMPOTENCY_UNAVAILABLE');
    expect(publisher.published).toEqual([]);
  });

  it.each([
    [
      'a non-retryable MessagingError',
      new MessagingError('TDL_MSG_SCHEMA_NOT_REGISTERED', 'not registered: secret detail'),
    ],
    ['a bug', new TypeError('cannot read properties of undefined (secret detail)')],
  ])('answers 500 problem+json without internals for %s', async (_what, error) => {
    publisher.failWith = error;
    const response = await placeOrder(validOrder);
    expect(response.statusCode).toBe(500);
    const problem = problemOf(response);
    expect(problem.title).toBe('Internal Server Error');
    expect(response.body).not.toMatch(/secret detail|\bat .*\.ts|stack/);
    expect(response.headers['retry-after']).toBeUndefined();
  });
});

describe('Idempotency-Key', () => {
  beforeEach(() => start());

  it('replays the first response to a retry with the same body and publishes once', async () => {
    const first = await placeOrder(validOrder, { 'idempotency-key': 'order-key-1' });
    const retry = await placeOrder(
      { currency: 'EUR', items: [{ quantity: 2, sku: 'SKU-1' }], customerId: 'customer-1' },
      { 'idempotency-key': 'order-key-1', 'x-correlation-id': 'retry-1' },
    );
    expect(first.statusCode).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toBe(first.body);
    expect(retry.headers['x-correlation-id']).toBe('retry-1');
    expect(publisher.published).toHaveLength(1);
  });

  it('answers 422 for the same key with a different body', async () => {
    await placeOrder(validOrder, { 'idempotency-key': 'order-key-2' });
    const response = await placeOrder(
      { ...validOrder, currency: 'USD' },
      { 'idempotency-key': 'order-key-2' },
    );
    expect(response.statusCode).toBe(422);
    expect(problemOf(response).type).toBe('urn:tideline:problem:idempotency-key-reused');
    expect(publisher.published).toHaveLength(1);
  });

  it('answers 409 to a duplicate while the first is in flight', async () => {
    publisher.hold();
    const first = placeOrder(validOrder, { 'idempotency-key': 'order-key-3' });
    await waitFor(() => publisher.pending() === 1);
    const duplicate = await placeOrder(validOrder, { 'idempotency-key': 'order-key-3' });
    expect(duplicate.statusCode).toBe(409);
    expect(problemOf(duplicate).type).toBe('urn:tideline:problem:idempotency-key-in-flight');
    publisher.release();
    expect((await first).statusCode).toBe(202);
    expect(publisher.published).toHaveLength(1);
  });

  it('gives the key up when publishing failed, so a retry publishes', async () => {
    publisher.failWith = new MessagingError('TDL_MSG_KAFKA_UNAVAILABLE', 'down');
    expect((await placeOrder(validOrder, { 'idempotency-key': 'order-key-4' })).statusCode).toBe(503);
    publisher.failWith = undefined;
    const retry = await placeOrder(validOrder, { 'idempotency-key': 'order-key-4' });
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(publisher.published).toHaveLength(1);
  });

  it('keeps keys apart per caller and per route', async () => {
    const key = { 'idempotency-key': 'shared-key' };
    expect((await placeOrder(validOrder, key)).statusCode).toBe(202);
    const otherCaller = await placeOrder(validOrder, { ...key, authorization: `Bearer ${OTHER_KEY}` });
    expect(otherCaller.headers['idempotent-replayed']).toBeUndefined();
    const otherRoute = await send('PUT', '/catalog/products/SKU-1', validProduct, key);
    expect(otherRoute.statusCode).toBe(202);
    expect(otherRoute.headers['idempotent-replayed']).toBeUndefined();
    expect(publisher.published).toHaveLength(3);
  });

  it('counts path parameters as part of the request', async () => {
    const key = { 'idempotency-key': 'cancel-key' };
    expect((await send('POST', `/orders/${ORDER_ID}/cancel`, {}, key)).statusCode).toBe(202);
    const otherOrder = await send('POST', '/orders/01950000-0000-7000-8000-000000000002/cancel', {}, key);
    expect(otherOrder.statusCode).toBe(422);
  });
});

describe('Idempotency-Key after an ambiguous publish (the outcome is unknown)', () => {
  beforeEach(() => start());

  const unknown = () =>
    new MessagingError('TDL_MSG_PUBLISH_TIMEOUT', 'no acknowledgement', { details: { sent: true } });
  const notSent = () =>
    new MessagingError('TDL_MSG_PUBLISH_TIMEOUT', 'not sent in time', { details: { sent: false } });

  it('answers 503 outcome-unknown, and the retry publishes the same event and answers with its ids', async () => {
    const key = { 'idempotency-key': 'ambiguous-1' };
    publisher.failWith = unknown();
    const first = await placeOrder(validOrder, key);
    expect(first.statusCode).toBe(503);
    expect(first.headers['retry-after']).toBe('1');
    const problem = problemOf(first);
    expect(problem.type).toBe('urn:tideline:problem:outcome-unknown');
    expect(problem.detail).toMatch(/Retry with the same Idempotency-Key and the same body/);

    publisher.failWith = undefined;
    const retry = await placeOrder(validOrder, { ...key, 'x-correlation-id': 'retry-corr' });
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const body = retry.json<{ orderId: string; eventId: string; correlationId: string }>();
    // The ids named in the 503 are the ids of the 202: one order, one event.
    expect(problem.detail).toContain(body.eventId);
    expect(problem.detail).toContain(body.orderId);
    expect(body.correlationId).toBe(first.headers['x-correlation-id']);
    expect(publisher.published).toEqual([
      {
        topic: 'orders.order-placed.v1',
        key: body.orderId,
        value: expect.objectContaining({ orderId: body.orderId, placedAt: NOW.getTime() }) as unknown,
        options: { correlationId: body.correlationId, eventId: body.eventId, timestamp: NOW },
      },
    ]);

    const replay = await placeOrder(validOrder, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(retry.body);
    expect(publisher.published).toHaveLength(1);
  });

  it('keeps the ids while every attempt fails, even one that certainly wrote nothing', async () => {
    const key = { 'idempotency-key': 'ambiguous-2' };
    publisher.failWith = unknown();
    const first = problemOf(await placeOrder(validOrder, key));
    publisher.failWith = notSent();
    const second = await placeOrder(validOrder, key);
    expect(second.statusCode).toBe(503);
    // The first attempt may be in the log: the second is still about the same event.
    expect(problemOf(second).type).toBe('urn:tideline:problem:outcome-unknown');
    expect(problemOf(second).detail).toBe(first.detail);
    publisher.failWith = undefined;
    const third = await placeOrder(validOrder, key);
    expect(third.statusCode).toBe(202);
    expect(first.detail).toContain(third.json<{ eventId: string }>().eventId);
  });

  it('completes the key when Kafka acknowledges the timed-out record late: the retry replays', async () => {
    const key = { 'idempotency-key': 'ambiguous-3' };
    publisher.failWith = unknown();
    const first = problemOf(await placeOrder(validOrder, key));
    publisher.failWith = undefined;
    expect(publisher.lateListeners).toHaveLength(1);
    publisher.lateListeners[0]!({
      acknowledged: true,
      position: { topic: 'orders.order-placed.v1', partition: 0, offset: '7' },
    });
    await waitFor(() => [...store.rows.values()].every((row) => row.state === 'completed'));
    const retry = await placeOrder(validOrder, key);
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(first.detail).toContain(retry.json<{ eventId: string }>().eventId);
    expect(publisher.published).toEqual([]);
  });

  it('refuses a different body under an uncertain key (422): its event may be in the log', async () => {
    publisher.failWith = unknown();
    await placeOrder(validOrder, { 'idempotency-key': 'ambiguous-4' });
    publisher.failWith = undefined;
    const other = await placeOrder({ ...validOrder, currency: 'USD' }, { 'idempotency-key': 'ambiguous-4' });
    expect(other.statusCode).toBe(422);
    expect(publisher.published).toEqual([]);
  });

  it('still gives the key up when the first attempt certainly wrote nothing', async () => {
    publisher.failWith = notSent();
    const first = await placeOrder(validOrder, { 'idempotency-key': 'ambiguous-5' });
    expect(problemOf(first).type).toBe('urn:tideline:problem:dependency-unavailable');
    expect(store.rows.size).toBe(0);
  });

  it('lets a retry take over from a holder that died mid-publish, with the same event', async () => {
    const key = { 'idempotency-key': 'ambiguous-6' };
    publisher.hold();
    const dying = placeOrder(validOrder, key);
    await waitFor(() => publisher.pending() === 1);
    expect((await placeOrder(validOrder, key)).statusCode).toBe(409);
    store.leaseOver = true; // its process was killed: the lease runs out
    const takeover = placeOrder(validOrder, key);
    await waitFor(() => publisher.pending() === 2);
    publisher.release();
    const answers = [await dying, await takeover];
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202]);
    expect(answers[1]!.body).toBe(answers[0]!.body);
    // Two copies in the log, one event: the same key, event id, payload and timestamp.
    expect(publisher.published).toHaveLength(2);
    expect(publisher.published[1]).toEqual(publisher.published[0]);
  });
});

describe('health', () => {
  it('runs its dependency checks at /readyz, each bounded by readinessTimeoutMs', async () => {
    await start({}, 50);
    readiness['kafka'] = () => Promise.reject(new Error('Connection refused'));
    readiness['registry'] = () => new Promise(() => undefined);
    const response = await inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      status: 'not-ready',
      checks: {
        kafka: { ok: false, error: 'Connection refused' },
        registry: { ok: false, error: 'no answer within 50 ms' },
        database: { ok: true },
      },
    });
  });
});

describe('OpenAPI', () => {
  beforeEach(() => start());

  it('lists the three write routes with their schemas at /docs/json', async () => {
    const response = await inject({ method: 'GET', url: '/docs/json' });
    expect(response.statusCode).toBe(200);
    const spec = response.json<{
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
            responses: Record<string, unknown>;
          }
        >
      >;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    }>();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths['/orders'] ?? {})).toContain('post');
    expect(Object.keys(spec.paths['/orders/{id}/cancel'] ?? {})).toContain('post');
    expect(Object.keys(spec.paths['/catalog/products/{sku}'] ?? {})).toContain('put');
    const orderBody = spec.paths['/orders']!['post']!.requestBody!.content['application/json']!.schema;
    expect(orderBody).toMatchObject({
      additionalProperties: false,
      required: ['customerId', 'items', 'currency'],
    });
    expect(Object.keys(spec.paths['/orders']!['post']!.responses)).toEqual(
      expect.arrayContaining(['202', '400', '401', '409', '413', '415', '422', '503']),
    );
    expect(spec.components.schemas).toHaveProperty('Problem');
    expect(Object.keys(spec.components.securitySchemes)).toEqual(['bearer', 'apiKey']);
  });

  it('serves the UI at /docs', async () => {
    const response = await inject({ method: 'GET', url: '/docs/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
  });
});

it('answers an unknown route with a 404 problem', async () => {
  await start();
  const response = await inject({ method: 'GET', url: '/orders' });
  expect(response.statusCode).toBe(404);
  expect(problemOf(response).detail).toBe('No route GET /orders.');
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i += 1) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}

describe('GET /asyncapi', () => {
  beforeEach(() => start());

  it("serves order-api's part of the AsyncAPI document: the topics it produces, open like the docs", async () => {
    const response = await inject({ method: 'GET', url: '/asyncapi' });
    expect(response.statusCode).toBe(200);
    const document = response.json<{ asyncapi: string; channels: Record<string, unknown> }>();
    expect(document.asyncapi).toBe('3.0.0');
    expect(Object.keys(document.channels).sort()).toEqual(
      allTopics
        .filter((t) => t.owner === 'order-api')
        .map((t) => t.name)
        .sort(),
    );
  });
});

describe('fuzzed over its OpenAPI document', () => {
  beforeEach(() => start());

  it('answers every request a client can make with a 2xx or a problem+json 4xx, never a 5xx', async () => {
    const document = await inject({ method: 'GET', url: '/docs/json' }).then((r) =>
      r.json<OpenApiDocument>(),
    );
    const report = await fuzzOpenApi({
      baseUrl,
      document,
      runs: 1_000,
      headers: auth,
      validBodies: {
        'POST /orders': validOrder,
        'POST /orders/{id}/cancel': { reason: 'changed my mind' },
        'PUT /catalog/products/{sku}': validProduct,
      },
    });
    expect(report.operations.sort()).toEqual([
      'GET /asyncapi',
      'GET /healthz',
      'GET /readyz',
      'POST /orders',
      'POST /orders/{id}/cancel',
      'PUT /catalog/products/{sku}',
    ]);
    expect(report.cases).toBe(1_000);
    // Both sides of the door were reached: accepted commands and refused ones.
    expect(report.statuses[202]).toBeGreaterThan(0);
    expect(report.statuses[400]).toBeGreaterThan(0);
    expect(report.statuses[401]).toBeGreaterThan(0);
  }, 60_000);
});
