// Acceptance: order-api, two order-processors and order-projection as separate OS processes
// against the real Kafka, registry and PostgreSQL.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { allTopics } from '@tideline/contracts';
import {
  applyTopicPlan,
  catalogGroupTopics,
  createKafka,
  planTopics,
  RegistryCodec,
  registerSchemas,
} from '@tideline/messaging';
import {
  createTestDatabase,
  eventually,
  freePort,
  openSseClient,
  startService,
  testInfra,
  uniqueName,
  type ServiceProcess,
  type SseEvent,
  type TestDatabase,
} from '@tideline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const entry = (app: string) => path.join(root, 'apps', app, 'src', 'main.ts');
const infra = testInfra();
const run = uniqueName('e2e');
const key = { id: uniqueName('key'), secret: randomBytes(32).toString('base64') };
const services: ServiceProcess[] = [];
let database: TestDatabase;
let api: ServiceProcess;
let projection: ServiceProcess;
let common: Record<string, string>;

const sku = (name: string) => `${run}-${name}`;

async function startProcessor(): Promise<ServiceProcess> {
  const service = await startService('order-processor', entry('order-processor'), {
    port: await freePort(),
    env: {
      ...common,
      GROUP_ID: `order-processor-${run}`,
      RETRY_DELAYS_MS: '300,300',
      MAX_ORDER_TOTAL_CENTS: '100000',
      SHUTDOWN_TIMEOUT_MS: '5000',
    },
  });
  services.push(service);
  return service;
}

async function startProjection(): Promise<ServiceProcess> {
  const service = await startService('order-projection', entry('order-projection'), {
    port: await freePort(),
    env: { ...common, GROUP_ID: `order-projection-${run}`, SHUTDOWN_TIMEOUT_MS: '5000' },
  });
  services.push(service);
  return service;
}

async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 300)}`);
  }
}

async function putProduct(name: string, priceCents: number, active = true, currency = 'EUR') {
  const response = await fetch(`${api.url}/catalog/products/${sku(name)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, priceCents, currency, active }),
  });
  expect(response.status).toBe(202);
}

interface Accepted {
  orderId: string;
  eventId: string;
  correlationId: string;
}

async function placeOrder(
  customerId: string,
  items: [string, number][],
  headers: Record<string, string> = {},
): Promise<Accepted> {
  const response = await fetch(`${api.url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      customerId,
      currency: 'EUR',
      items: items.map(([name, quantity]) => ({ sku: sku(name), quantity })),
    }),
  });
  expect(response.status).toBe(202);
  return json<Accepted>(response);
}

interface OrderDocument {
  orderId: string;
  customerId: string;
  status: string;
  totalCents: number | null;
  reasons: { code: string; sku: string | null }[];
  timeline: { status: string; eventId: string; eventType: string }[];
}

const getOrder = async (orderId: string, query = '') =>
  fetch(`${projection.url}/orders/${orderId}${query}`).then(async (r) => ({
    status: r.status,
    body: await json<OrderDocument>(r),
  }));

/** Polls until the order reached a terminal status. */
const settled = (orderId: string, timeoutMs = 30_000) =>
  eventually(
    `order ${orderId} to be decided`,
    async () => {
      const { status, body } = await getOrder(orderId);
      return status === 200 && ['confirmed', 'rejected'].includes(body.status) ? body : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );

const changes = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'order-changed')
    .map((e) => ({
      id: Number(e.id),
      ...(JSON.parse(e.data) as { orderId: string; status: string; eventType: string }),
    }));

beforeAll(async () => {
  database = await createTestDatabase('orders_e2e');
  common = {
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: infra.registryUrl,
    DATABASE_URL: database.url,
    SIGNING_KEY_ID: key.id,
    SIGNING_KEY: key.secret,
    LOG_LEVEL: 'warn',
  };
  const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: run });
  const admin = kafka.admin();
  await admin.connect();
  const plan = await planTopics(admin, [...allTopics, ...catalogGroupTopics(allTopics)]);
  if (plan.changes) await applyTopicPlan(admin, plan);
  await admin.disconnect();
  await registerSchemas(new RegistryCodec({ registryUrl: infra.registryUrl }), allTopics);

  projection = await startProjection();
  api = await startService('order-api', entry('order-api'), {
    port: await freePort(),
    env: { ...common, AUTH_DISABLED: 'true', PROJECTION_URL: projection.url },
  });
  services.push(api);
  await Promise.all([startProcessor(), startProcessor()]);
}, 120_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await database?.drop();
}, 60_000);

it('decides orders with the right reasons and timelines, streams every change, and summarizes the customer', async () => {
  await putProduct('apple', 150);
  await putProduct('pear', 300, false);
  await putProduct('gold', 90_000);
  const customer = `${run}-alice`;
  const live = await openSseClient(`${projection.url}/stream?customerId=${customer}`);
  expect(live.status).toBe(200);
  expect(live.headers.get('content-type')).toMatch(/^text\/event-stream/);

  const valid = await placeOrder(customer, [['apple', 2]]);
  // Read-your-writes: answers once the OrderPlaced the API accepted is applied.
  const readBack = await getOrder(valid.orderId, `?waitFor=${valid.eventId}&timeout=10000`);
  expect(readBack.status).toBe(200);
  expect(readBack.body.timeline.map((t) => t.eventId)).toContain(valid.eventId);

  const unknown = await placeOrder(customer, [['ghost', 1]]);
  const inactive = await placeOrder(customer, [
    ['pear', 1],
    ['apple', 1],
  ]);
  const overLimit = await placeOrder(customer, [['gold', 2]]);

  const decided = {
    valid: await settled(valid.orderId),
    unknown: await settled(unknown.orderId),
    inactive: await settled(inactive.orderId),
    overLimit: await settled(overLimit.orderId),
  };
  expect(decided.valid).toMatchObject({ status: 'confirmed', totalCents: 300, customerId: customer });
  expect(decided.valid.timeline.map((t) => t.eventType)).toEqual(['OrderPlaced', 'OrderConfirmed']);
  expect(decided.unknown.status).toBe('rejected');
  expect(decided.unknown.reasons).toEqual([
    expect.objectContaining({ code: 'UNKNOWN_PRODUCT', sku: sku('ghost') }),
  ]);
  expect(decided.inactive.reasons).toEqual([
    expect.objectContaining({ code: 'PRODUCT_INACTIVE', sku: sku('pear') }),
  ]);
  expect(decided.overLimit.reasons).toEqual([expect.objectContaining({ code: 'TOTAL_OVER_LIMIT' })]);
  for (const order of Object.values(decided)) {
    expect(order.timeline).toHaveLength(2);
    expect(order.timeline[0]!.eventType).toBe('OrderPlaced');
  }

  // The customer's stream carried each order's two changes, ids increasing.
  await eventually('8 changes on the customer stream', () =>
    changes(live.events).length >= 8 ? true : undefined,
  );
  const streamed = changes(live.events);
  expect(streamed).toHaveLength(8);
  expect(streamed.map((c) => c.id)).toEqual([...streamed.map((c) => c.id)].sort((a, b) => a - b));
  for (const [name, order] of Object.entries(decided)) {
    const own = streamed.filter((c) => c.orderId === order.orderId).map((c) => c.status);
    expect([name, own]).toEqual([name, ['pending', order.status]]);
  }
  live.close();

  const summary = await fetch(`${projection.url}/customers/${customer}/summary`).then((r) =>
    json<{ counts: Record<string, number>; confirmedSpendCents: Record<string, number> }>(r),
  );
  expect(summary.counts).toEqual({ pending: 0, confirmed: 1, cancelled: 0, rejected: 3 });
  expect(summary.confirmedSpendCents).toEqual({ EUR: 300 });

  const page = await fetch(`${projection.url}/customers/${customer}/orders?limit=3`).then((r) =>
    json<{ items: OrderDocument[]; nextCursor: string | null }>(r),
  );
  expect(page.items.map((o) => o.orderId)).toEqual([overLimit.orderId, inactive.orderId, unknown.orderId]);
  const rest = await fetch(
    `${projection.url}/customers/${customer}/orders?limit=3&cursor=${page.nextCursor}`,
  ).then((r) => json<{ items: OrderDocument[]; nextCursor: string | null }>(r));
  expect(rest).toEqual({ items: [expect.objectContaining({ orderId: valid.orderId })], nextCursor: null });

  // An order's own stream starts with its whole history.
  const history = await openSseClient(`${projection.url}/orders/${valid.orderId}/stream`);
  await eventually('the order history', () => (changes(history.events).length >= 2 ? true : undefined));
  expect(changes(history.events).map((c) => c.eventType)).toEqual(['OrderPlaced', 'OrderConfirmed']);
  history.close();
}, 90_000);

it('resumes an SSE stream from Last-Event-ID with exactly the changes missed', async () => {
  await putProduct('plum', 100);
  const customer = `${run}-bob`;
  const witness = await openSseClient(`${projection.url}/stream?customerId=${customer}`);
  const reader = await openSseClient(`${projection.url}/stream?customerId=${customer}`);
  const first = await placeOrder(customer, [['plum', 1]]);
  await settled(first.orderId);
  await eventually('both changes of the first order', () =>
    changes(reader.events).length >= 2 ? true : undefined,
  );
  reader.close();
  const lastSeen = changes(reader.events).at(-1)!.id;

  // Missed while disconnected.
  const missed = [await placeOrder(customer, [['plum', 2]]), await placeOrder(customer, [['plum', 3]])];
  for (const order of missed) await settled(order.orderId);
  await eventually('the witness sees all six changes', () =>
    changes(witness.events).length >= 6 ? true : undefined,
  );

  const resumed = await openSseClient(`${projection.url}/stream?customerId=${customer}`, {
    'last-event-id': String(lastSeen),
  });
  await eventually('the resumed stream catches up', () =>
    changes(resumed.events).length >= 4 ? true : undefined,
  );
  const third = await placeOrder(customer, [['plum', 4]]);
  await settled(third.orderId);
  await eventually('the resumed stream gets the live change', () =>
    changes(resumed.events).length >= 6 && changes(witness.events).length >= 8 ? true : undefined,
  );
  // Exactly what the always-connected witness saw after lastSeen: no gap, no repeat.
  expect(changes(resumed.events)).toEqual(changes(witness.events).filter((c) => c.id > lastSeen));
  resumed.close();
  witness.close();

  // A resume point that is not an event id is a 400 naming the header.
  const bad = await fetch(`${projection.url}/stream?customerId=${customer}`, {
    headers: { 'last-event-id': 'abc' },
  });
  expect(bad.status).toBe(400);
  expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
  expect(await bad.json()).toMatchObject({ errors: [{ field: 'headers.last-event-id' }] });
}, 90_000);

it('creates one order for a POST retried with the same Idempotency-Key', async () => {
  await putProduct('kiwi', 100);
  const customer = `${run}-carol`;
  const idempotencyKey = uniqueName('idem');
  const first = await placeOrder(customer, [['kiwi', 1]], { 'idempotency-key': idempotencyKey });
  const again = await placeOrder(customer, [['kiwi', 1]], { 'idempotency-key': idempotencyKey });
  expect(again).toEqual(first);
  await settled(first.orderId);
  // Another order after it proves the projection got past anything the retry might have published.
  const marker = await placeOrder(customer, [['kiwi', 2]]);
  await settled(marker.orderId);
  const summary = await fetch(`${projection.url}/customers/${customer}/summary`).then((r) =>
    json<{ counts: Record<string, number> }>(r),
  );
  expect(summary.counts.confirmed).toBe(2);
}, 60_000);

it('answers bad queries with problem+json naming the field, unknown orders with 404, slow writes with 504', async () => {
  const badLimit = await fetch(`${projection.url}/customers/x/orders?limit=500`);
  expect(badLimit.status).toBe(400);
  expect(await badLimit.json()).toMatchObject({ errors: [{ field: 'querystring.limit' }] });
  const badCursor = await fetch(`${projection.url}/customers/x/orders?cursor=bm9wZQ`);
  expect(badCursor.status).toBe(400);
  expect(await badCursor.json()).toMatchObject({ errors: [{ field: 'querystring.cursor' }] });
  const missing = await fetch(`${projection.url}/orders/no-such-order`);
  expect(missing.status).toBe(404);
  expect(missing.headers.get('content-type')).toMatch(/application\/problem\+json/);
  const timedOut = await fetch(`${projection.url}/orders/no-such-order?waitFor=never-published&timeout=300`);
  expect(timedOut.status).toBe(504);
  const stats = await fetch(`${projection.url}/stats`).then((r) =>
    json<{ orders: number; lag: { total: number } | null; consumer: { state: string } }>(r),
  );
  expect(stats.consumer.state).toBe('running');
  expect(stats.lag).not.toBeNull();
});
