// order-api as a real child process against the real Kafka, registry and PostgreSQL. The
// catalog topics are shared, so every assertion goes by this test's own order ids and SKUs.
import { randomBytes } from 'node:crypto';
import {
  orderCancelledTopic,
  orderPlacedTopic,
  productUpdatedTopic,
  type TopicDescriptor,
} from '@tideline/contracts';
import { HEADER, RecordSigner, RegistryCodec } from '@tideline/messaging';
import {
  freePort,
  recordsWithKey,
  runCli,
  testInfra,
  topicEnds,
  uniqueName,
  type ReadRecord,
} from '@tideline/testing';
import { AppProcess, nodeArgs } from '../src/test-support/app-process';
import { httpRequest } from '../src/test-support/http';
import { provisionProducedTopics } from '../src/test-support/provision';

const infra = testInfra();
const API_KEY = randomBytes(24).toString('base64url');
const SIGNING_KEY_ID = uniqueName('order-api-e2e');
const SIGNING_SECRET = randomBytes(32);
const codec = new RegistryCodec({ registryUrl: infra.registryUrl });
const verifier = new RecordSigner({
  verificationKeys: new Map([[SIGNING_KEY_ID, SIGNING_SECRET]]),
  defaultPolicy: 'required',
});

const env: NodeJS.ProcessEnv = {
  KAFKA_BROKERS: infra.kafkaBrokers.join(','),
  SCHEMA_REGISTRY_URL: infra.registryUrl,
  DATABASE_URL: infra.databaseUrl,
  SIGNING_KEY_ID,
  SIGNING_KEY: SIGNING_SECRET.toString('base64'),
  SIGNING_POLICY: 'required',
  API_KEYS: API_KEY,
  LOG_LEVEL: 'info',
  PUBLISH_TIMEOUT_MS: '5000',
  PROJECTION_URL: 'http://projection.e2e:3002',
};
const auth = { authorization: `Bearer ${API_KEY}` };

let app: AppProcess;
/** Where the shared topics ended before this file wrote: its reads start there, not at their history. */
let since: Awaited<ReturnType<typeof topicEnds>>;

beforeAll(async () => {
  await provisionProducedTopics();
  since = await topicEnds([orderPlacedTopic, orderCancelledTopic, productUpdatedTopic].map((t) => t.name));
  app = await AppProcess.start(env);
}, 90_000);

afterAll(async () => {
  await app?.stop();
});

/** The one record with `key` on `topic`, its signature verified and its value decoded. */
async function onlyRecord<Value>(
  topic: TopicDescriptor<Value>,
  key: string,
): Promise<{ record: ReadRecord; value: Value }> {
  const records = await recordsWithKey(topic.name, key, { from: since });
  expect(records).toHaveLength(1);
  const record = records[0]!;
  verifier.verify(topic.name, record.key, record.value, record.headers);
  return { record, value: await codec.decode(topic, record.value!) };
}

const order = (customerId: string) => ({
  customerId,
  items: [
    { sku: 'E2E-TEA', quantity: 2 },
    { sku: 'E2E-CUP', quantity: 1 },
  ],
  currency: 'EUR',
});

it('answers /readyz 200 with Kafka, the registry and PostgreSQL up', async () => {
  const response = await httpRequest(app.baseUrl, { url: '/readyz' });
  expect(response.json()).toEqual({
    status: 'ready',
    checks: { kafka: { ok: true }, registry: { ok: true }, database: { ok: true } },
  });
  expect(response.statusCode).toBe(200);
});

it('places an order: 202 once OrderPlaced is in the log, signed, with the event id and correlation id it answered', async () => {
  const customerId = uniqueName('customer');
  const correlationId = uniqueName('e2e-corr');
  const startedAt = Date.now();
  const response = await httpRequest(app.baseUrl, {
    method: 'POST',
    url: '/orders',
    headers: { ...auth, 'x-correlation-id': correlationId },
    payload: order(customerId),
  });

  expect(response.statusCode).toBe(202);
  expect(response.headers['x-correlation-id']).toBe(correlationId);
  const body = response.json<{ orderId: string; eventId: string; correlationId: string; links: unknown }>();
  expect(body.correlationId).toBe(correlationId);
  expect(body.links).toEqual({
    self: `http://projection.e2e:3002/orders/${body.orderId}`,
    stream: `http://projection.e2e:3002/orders/${body.orderId}/stream`,
  });

  const { record, value } = await onlyRecord(orderPlacedTopic, body.orderId);
  expect(record.headers[HEADER.eventId]).toBe(body.eventId);
  expect(record.headers[HEADER.correlationId]).toBe(correlationId);
  expect(record.headers[HEADER.eventType]).toBe('dev.tideline.orders.OrderPlaced');
  expect(record.headers[HEADER.producer]).toBe('order-api');
  expect(record.headers[HEADER.signatureKeyId]).toBe(SIGNING_KEY_ID);
  expect(value).toEqual({
    orderId: body.orderId,
    customerId,
    currency: 'EUR',
    lines: [
      { sku: 'E2E-TEA', quantity: 2 },
      { sku: 'E2E-CUP', quantity: 1 },
    ],
    placedAt: expect.any(Number) as unknown,
  });
  expect(value.placedAt).toBeGreaterThanOrEqual(startedAt - 1000);

  const logged = app.logLines().filter((line) => line['correlationId'] === correlationId);
  expect(logged.map((line) => line['msg'])).toEqual([
    'incoming request',
    'order placed',
    'request completed',
  ]);
  for (const line of logged) expect(line['service']).toBe('order-api');
});

it('replays a retry with the same Idempotency-Key and writes exactly one record', async () => {
  const key = uniqueName('idem');
  const payload = order(uniqueName('customer'));
  const first = await httpRequest(app.baseUrl, {
    method: 'POST',
    url: '/orders',
    headers: { ...auth, 'idempotency-key': key },
    payload,
  });
  const retry = await httpRequest(app.baseUrl, {
    method: 'POST',
    url: '/orders',
    headers: { ...auth, 'idempotency-key': key },
    payload,
  });
  const changed = await httpRequest(app.baseUrl, {
    method: 'POST',
    url: '/orders',
    headers: { ...auth, 'idempotency-key': key },
    payload: { ...payload, currency: 'USD' },
  });

  expect(first.statusCode).toBe(202);
  expect(retry.statusCode).toBe(202);
  expect(retry.headers['idempotent-replayed']).toBe('true');
  expect(retry.body).toBe(first.body);
  expect(changed.statusCode).toBe(422);
  const { record } = await onlyRecord(orderPlacedTopic, first.json<{ orderId: string }>().orderId);
  expect(record.headers[HEADER.eventId]).toBe(first.json<{ eventId: string }>().eventId);
});

it('cancels an order: OrderCancelled keyed by the order id', async () => {
  const placed = await httpRequest(app.baseUrl, {
    method: 'POST',
    url: '/orders',
    headers: auth,
    payload: order(uniqueName('customer')),
  });
  const { orderId } = placed.json<{ orderId: string }>();
  const response = await httpRequest(app.baseUrl, {
    method: 'POST',
    url: `/orders/${orderId}/cancel`,
    headers: { 'x-api-key': API_KEY },
    payload: { reason: 'changed my mind' },
  });
  expect(response.statusCode).toBe(202);
  const { record, value } = await onlyRecord(orderCancelledTopic, orderId);
  expect(record.headers[HEADER.eventId]).toBe(response.json<{ eventId: string }>().eventId);
  expect(value).toMatchObject({ orderId, reason: 'changed my mind' });
});

it('sets a product: ProductUpdated keyed by the SKU on the catalog topic', async () => {
  const sku = uniqueName('E2E-SKU');
  const response = await httpRequest(app.baseUrl, {
    method: 'PUT',
    url: `/catalog/products/${sku}`,
    headers: auth,
    payload: { name: 'Sencha', priceCents: 1250, currency: 'EUR', active: true },
  });
  expect(response.statusCode).toBe(202);
  const { record, value } = await onlyRecord(productUpdatedTopic, sku);
  expect(record.headers[HEADER.eventId]).toBe(response.json<{ eventId: string }>().eventId);
  expect(value).toMatchObject({ sku, name: 'Sencha', priceCents: 1250, currency: 'EUR', active: true });
});

it('refuses a request without an API key, publishing nothing', async () => {
  const customerId = uniqueName('customer');
  const response = await httpRequest(app.baseUrl, {
    method: 'POST',
    url: '/orders',
    payload: order(customerId),
  });
  expect(response.statusCode).toBe(401);
  expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
});

it('answers 503 with Retry-After within the publish timeout, and /readyz 503, when Kafka is down', async () => {
  const deadPort = await freePort();
  const publishTimeoutMs = 1500;
  const down = await AppProcess.start({
    ...env,
    KAFKA_BROKERS: `127.0.0.1:${deadPort}`,
    PUBLISH_TIMEOUT_MS: String(publishTimeoutMs),
  });
  try {
    const startedAt = Date.now();
    const response = await httpRequest(down.baseUrl, {
      method: 'POST',
      url: '/orders',
      headers: { ...auth, 'idempotency-key': uniqueName('down') },
      payload: order(uniqueName('customer')),
    });
    const elapsed = Date.now() - startedAt;
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json<{ code: string }>().code).toMatch(/^TDL_MSG_(PUBLISH_TIMEOUT|KAFKA_UNAVAILABLE)$/);
    expect(elapsed).toBeLessThan(publishTimeoutMs + 2000);

    const ready = await httpRequest(down.baseUrl, { url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({
      status: 'not-ready',
      checks: { kafka: { ok: false }, registry: { ok: true }, database: { ok: true } },
    });
  } finally {
    expect(await down.stop()).toBe(0);
  }
});

it('exits non-zero at start, listing every bad variable on stderr', async () => {
  const result = await runCli(process.execPath, nodeArgs, {
    env: { ...env, PORT: 'abc', API_KEYS: '', PUBLISH_TIMEOUT_MS: 'soon' },
    timeoutMs: 30_000,
  });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('order-api: invalid configuration:');
  expect(result.stderr).toContain('PORT: must be a whole number from 0 to 65535 (got "abc")');
  expect(result.stderr).toContain(
    'PUBLISH_TIMEOUT_MS: must be a whole number from 100 to 120000 (got "soon")',
  );
  expect(result.stderr).toContain('API_KEYS: required (comma-separated keys) unless AUTH_DISABLED=true');
  expect(result.stderr).not.toContain(SIGNING_SECRET.toString('base64'));
});

it('shuts down on SIGTERM with exit code 0', async () => {
  const extra = await AppProcess.start(env);
  expect(await extra.stop()).toBe(0);
  expect(extra.logLines().map((line) => line['msg'])).toContain('shutdown complete');
});
