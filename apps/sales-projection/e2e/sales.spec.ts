// sales-projection joining late, as an OS process against the real stack: order decisions are
// produced before the service exists (out of order, repeated, redelivered, cancelled and
// rejected orders among them); when it starts it backfills them from the earliest offsets, is
// ready only once caught up, its hourly buckets equal a recomputation from what the topics hold,
// and then it follows new events live. Its topics are private copies (SOURCE_TOPICS), so the
// backfill reads exactly this test's records.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  orderCancelledTopic,
  orderConfirmedTopic,
  orderRejectedTopic,
  type OrderCancelled,
  type OrderConfirmed,
  type OrderRejected,
  type TopicDescriptor,
} from '@tideline/contracts';
import { createKafka, HEADER, Publisher, RecordSigner, RegistryCodec } from '@tideline/messaging';
import { ensureProjectionLayout } from '@tideline/projections';
import { HOURLY_TABLE, salesProjection } from '@tideline/read-models';
import { Pool } from 'pg';
import {
  createTestDatabase,
  eventually,
  freePort,
  fuzzOpenApi,
  isolatedTopic,
  readRecords,
  startService,
  TestTopics,
  testInfra,
  uniqueName,
  type OpenApiDocument,
  type ServiceProcess,
  type TestDatabase,
} from '@tideline/testing';

const entry = path.resolve(__dirname, '..', 'src', 'main.ts');
const HOUR = 3_600_000;
const H0 = Date.UTC(2026, 0, 5, 8);
const FROM = new Date(H0 - 2 * HOUR).toISOString();
const TO = new Date(H0 + 12 * HOUR).toISOString();

const infra = testInfra();
const run = uniqueName('sales');
const groupId = `sales-projection-${run}`;
const topics = new TestTopics();
const copies = {
  confirmed: isolatedTopic(orderConfirmedTopic),
  rejected: isolatedTopic(orderRejectedTopic),
  cancelled: isolatedTopic(orderCancelledTopic),
};
const key = { id: uniqueName('key'), secret: randomBytes(32) };
const codec = new RegistryCodec({ registryUrl: infra.registryUrl, autoRegister: true });
const publisher = new Publisher({
  kafka: createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('sales-e2e') }),
  codec,
  signer: new RecordSigner({ signingKey: key, defaultPolicy: 'required' }),
  service: 'sales-e2e',
});
const admin = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('sales-e2e-admin') }).admin();
let database: TestDatabase;
let service: ServiceProcess | undefined;
let produced = 0;

beforeAll(async () => {
  const all = Object.values(copies) as TopicDescriptor<unknown>[];
  await topics.create(...all);
  topics.track(`${groupId}.dlt`);
  for (const topic of all) await codec.register(topic);
  database = await createTestDatabase('sales_e2e');
  await admin.connect();
}, 60_000);

afterAll(async () => {
  await service?.stop('SIGKILL');
  await publisher.close();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
  await database?.drop();
  await topics.cleanup();
}, 60_000);

/** How many records a topic holds now (all partitions). */
const recordCount = async (topic: string) =>
  (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);

const sku = (name: string) => `${run}-${name}`;
type Line = [string, number, number]; // sku name, quantity, unit price

async function confirm(
  orderId: string,
  at: number,
  lines: Line[],
  options: { eventId?: string; currency?: string } = {},
) {
  const value: OrderConfirmed = {
    orderId,
    customerId: 'customer-1',
    currency: options.currency ?? 'EUR',
    lines: lines.map(([name, quantity, price]) => ({
      sku: sku(name),
      quantity,
      unitPriceCents: price,
      lineTotalCents: quantity * price,
    })),
    totalCents: lines.reduce((sum, [, q, p]) => sum + q * p, 0),
    confirmedAt: at,
  };
  produced += 1;
  return publisher.publish(
    copies.confirmed,
    orderId,
    value,
    options.eventId ? { eventId: options.eventId } : {},
  );
}

async function cancel(orderId: string) {
  const value: OrderCancelled = { orderId, reason: 'changed my mind', cancelledAt: H0 + 11 * HOUR };
  produced += 1;
  return publisher.publish(copies.cancelled, orderId, value);
}

async function reject(orderId: string) {
  const value: OrderRejected = {
    orderId,
    customerId: 'customer-1',
    reasons: [{ code: 'PRODUCT_INACTIVE', sku: sku('a'), message: 'inactive' }],
    rejectedAt: H0,
  };
  produced += 1;
  return publisher.publish(copies.rejected, orderId, value);
}

/** Orders of every kind, 10 of each, over six hours, three products, two currencies. */
async function produceHistory(): Promise<string[]> {
  const counted: string[] = [];
  for (let i = 0; i < 60; i += 1) {
    const orderId = `${run}-order-${String(i).padStart(3, '0')}`;
    const at = H0 + (i % 6) * HOUR + i * 1_000;
    const lines: Line[] = [
      [['a', 'b', 'c'][i % 3]!, 1 + (i % 4), 250],
      ['c', 1, 1_000],
    ];
    switch (i % 6) {
      case 0: // confirmed
        await confirm(orderId, at, lines, { currency: i % 12 === 0 ? 'USD' : 'EUR' });
        counted.push(orderId);
        break;
      case 1: // confirmed, then cancelled
        await confirm(orderId, at, lines);
        await cancel(orderId);
        break;
      case 2: // rejected
        await reject(orderId);
        break;
      case 3: // the cancellation is in the log before the confirmation
        await cancel(orderId);
        await confirm(orderId, at, lines);
        break;
      case 4: {
        // a decision repeated later under a new id, and the first one redelivered
        const first = await confirm(orderId, at, lines);
        await confirm(orderId, at + 2 * HOUR, [['a', 9, 1]]);
        await confirm(orderId, at, lines, { eventId: first.eventId });
        counted.push(orderId);
        break;
      }
      default: // confirmed and rejected (a confused decider): rejected wins
        await confirm(orderId, at, lines);
        await reject(orderId);
    }
  }
  return counted;
}

interface Bucket {
  hour: string;
  units: number;
  orders: number;
  revenueCents: Record<string, number>;
}

/**
 * Reads every record back from the topics and computes the buckets from scratch: an order
 * counts when it has a confirmation and no cancellation or rejection; its earliest
 * confirmation (by time, then event id) counts its lines in that hour.
 */
async function recompute(): Promise<Map<string, Bucket[]>> {
  const orders = new Map<
    string,
    { confirmations: Map<string, OrderConfirmed>; cancelled: boolean; rejected: boolean }
  >();
  const orderOf = (id: string) => {
    let order = orders.get(id);
    if (order === undefined) {
      order = { confirmations: new Map(), cancelled: false, rejected: false };
      orders.set(id, order);
    }
    return order;
  };
  const readBack = async <Value>(topic: TopicDescriptor<Value>) =>
    Promise.all(
      (await readRecords(topic.name, await recordCount(topic.name))).map(async (record) => ({
        eventId: record.headers[HEADER.eventId]!,
        value: await codec.decode(topic, record.value!),
      })),
    );
  for (const { eventId, value } of await readBack(copies.confirmed))
    orderOf(value.orderId).confirmations.set(eventId, value);
  for (const { value } of await readBack(copies.cancelled)) orderOf(value.orderId).cancelled = true;
  for (const { value } of await readBack(copies.rejected)) orderOf(value.orderId).rejected = true;
  const buckets = new Map<string, Map<number, Bucket>>();
  for (const order of orders.values()) {
    if (order.cancelled || order.rejected || order.confirmations.size === 0) continue;
    const [, first] = [...order.confirmations].sort(
      ([idA, a], [idB, b]) => a.confirmedAt - b.confirmedAt || (idA < idB ? -1 : 1),
    )[0]!;
    const hour = Math.floor(first.confirmedAt / HOUR) * HOUR;
    const skusInOrder = new Set<string>();
    for (const line of first.lines) {
      const byHour = buckets.get(line.sku) ?? new Map<number, Bucket>();
      buckets.set(line.sku, byHour);
      const bucket = byHour.get(hour) ?? {
        hour: new Date(hour).toISOString(),
        units: 0,
        orders: 0,
        revenueCents: {},
      };
      byHour.set(hour, bucket);
      bucket.units += line.quantity;
      bucket.revenueCents[first.currency] = (bucket.revenueCents[first.currency] ?? 0) + line.lineTotalCents;
      if (!skusInOrder.has(line.sku)) bucket.orders += 1;
      skusInOrder.add(line.sku);
    }
  }
  return new Map(
    [...buckets].map(([name, byHour]) => [name, [...byHour].sort(([a], [b]) => a - b).map(([, b]) => b)]),
  );
}

async function getJson<T>(pathAndQuery: string): Promise<{ status: number; type: string; body: T }> {
  const response = await fetch(`${service!.url}${pathAndQuery}`);
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    body: (await response.json()) as T,
  };
}

/** The service's environment: this test's database, key, group and topics. */
const serviceEnv = () => ({
  KAFKA_BROKERS: infra.kafkaBrokers.join(','),
  SCHEMA_REGISTRY_URL: infra.registryUrl,
  DATABASE_URL: database.url,
  SIGNING_KEY_ID: key.id,
  SIGNING_KEY: key.secret.toString('base64'),
  GROUP_ID: groupId,
  SOURCE_TOPICS: [
    `${orderConfirmedTopic.name}=${copies.confirmed.name}`,
    `${orderRejectedTopic.name}=${copies.rejected.name}`,
    `${orderCancelledTopic.name}=${copies.cancelled.name}`,
  ].join(','),
  MAX_BATCH_RECORDS: '7', // several batches per partition
  LOG_LEVEL: 'warn',
  SHUTDOWN_TIMEOUT_MS: '5000',
});

interface Readiness {
  checks: Record<string, { ok: boolean; error?: string }>;
}

/** Buckets by SKU, in SKU order (to compare regardless of the order products were seen in). */
const byName = (buckets: Map<string, Bucket[]>) =>
  Object.fromEntries([...buckets].sort(([a], [b]) => (a < b ? -1 : 1)));

/** What the API says each product sold, per hour. */
async function served(skus: readonly string[]): Promise<Map<string, Bucket[]>> {
  const result = new Map<string, Bucket[]>();
  for (const name of skus) {
    const { status, body } = await getJson<{ hours: Bucket[] }>(
      `/products/${name}/sales?from=${FROM}&to=${TO}`,
    );
    expect(status).toBe(200);
    if (body.hours.length > 0) result.set(name, body.hours);
  }
  return result;
}

it('backfills what was produced before it existed, equals a recomputation, then follows live', async () => {
  const counted = await produceHistory();
  expect(counted).toHaveLength(20);

  // The service did not exist while those were produced: it starts now, from the earliest
  // offsets. Its tables are made first and held (writes wait), so the backfill cannot finish
  // until the test lets it: meanwhile /readyz must say not ready, naming the backfill.
  const definition = salesProjection({ name: groupId });
  const pool = new Pool({ connectionString: database.url, max: 2 });
  const holder = await pool.connect();
  try {
    const live = await ensureProjectionLayout(pool, definition);
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE ${live.schema}.${HOURLY_TABLE} IN SHARE MODE`);
    service = await startService('sales-projection', entry, {
      port: await freePort(),
      readyPath: null,
      env: serviceEnv(),
    });
    const waiting = await eventually(
      'readiness to wait for the backfill only',
      async () => {
        const { status, body } = await getJson<Readiness>('/readyz');
        return status === 503 && body.checks['consumer']?.ok && body.checks['backfill']?.ok === false
          ? body
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(waiting.checks['backfill']?.error).toMatch(new RegExp(`^backfill at \\d+ of ${produced} events$`));
    await holder.query('COMMIT');
  } finally {
    holder.release();
    await pool.end();
  }
  await eventually('the service to be ready', async () => {
    const { status } = await getJson<Readiness>('/readyz');
    return status === 200 ? true : undefined;
  });

  // Ready means caught up: everything produced before the start is applied.
  const stats = await getJson<{
    backfill: { total: number; done: number; caughtUp: boolean };
    consumer: { deadLettered: number; applied: number };
  }>('/stats');
  expect(stats.body.backfill).toMatchObject({ total: produced, done: produced, caughtUp: true });
  expect(stats.body.consumer.deadLettered).toBe(0);
  // Lag is the consumer's reading (sampled every 5 s, like the metric): it reaches zero too.
  await eventually('the lag reading to reach zero', async () => {
    const { body } = await getJson<{ lag: { total: number } | null }>('/stats');
    return body.lag?.total === 0 ? true : undefined;
  });

  const skus = ['a', 'b', 'c', 'd'].map(sku);
  const expected = await recompute();
  expect([...expected.keys()].sort()).toEqual(skus.slice(0, 3));
  expect(await served(skus)).toEqual(expected);

  const top = await getJson<{ items: { sku: string; units: number }[] }>(
    `/sales/top?from=${FROM}&to=${TO}&limit=100`,
  );
  const units = (buckets: Bucket[]) => buckets.reduce((sum, b) => sum + b.units, 0);
  expect(top.body.items.filter((i) => i.sku.startsWith(run)).map((i) => [i.sku, i.units])).toEqual(
    [...expected]
      .map(([name, b]) => [name, units(b)] as const)
      .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)),
  );

  // Live: a counted order is cancelled, a new product sells in a new hour, a late repeat changes nothing.
  await cancel(counted[0]!);
  await confirm(`${run}-live-1`, H0 + 9 * HOUR + 5, [
    ['d', 4, 300],
    ['a', 1, 250],
  ]);
  await confirm(counted[1]!, H0 + 10 * HOUR, [['d', 99, 1]]);
  const live = await recompute();
  expect(live.get(sku('d'))).toEqual([
    { hour: new Date(H0 + 9 * HOUR).toISOString(), units: 4, orders: 1, revenueCents: { EUR: 1_200 } },
  ]);
  expect(live).not.toEqual(expected);
  // The expectation is retried until it holds (eventually treats a failure as "not yet").
  await eventually('the new events to be applied', async () => {
    expect(byName(await served(skus))).toEqual(byName(live));
    return true;
  });
}, 180_000);

it('answers a bad query with a 400 problem naming the field', async () => {
  expect(service).toBeDefined();
  const cases: [string, string[]][] = [
    [`/products/${sku('a')}/sales?from=yesterday`, ['querystring.from']],
    [`/products/${sku('a')}/sales?from=2026-02-30T00:00:00Z`, ['querystring.from']],
    [`/products/${sku('a')}/sales?from=${TO}&to=${FROM}`, ['querystring.to']],
    [`/products/${sku('a')}/sales?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z`, ['querystring.to']],
    [`/products/no%20spaces/sales`, ['params.sku']],
    [`/products/${sku('a')}/sales?days=3`, ['querystring.days']],
    [`/sales/top?limit=0`, ['querystring.limit']],
    [`/sales/top?limit=101&to=nope`, ['querystring.limit', 'querystring.to']],
  ];
  for (const [url, fields] of cases) {
    const { status, type, body } = await getJson<{ errors: { field: string }[] }>(url);
    expect({ url, status, type: type.split(';')[0], fields: body.errors.map((e) => e.field).sort() }).toEqual(
      {
        url,
        status: 400,
        type: 'application/problem+json',
        fields,
      },
    );
  }
});

it('describes its API as OpenAPI at /docs/json', async () => {
  const { status, body } = await getJson<{ paths: Record<string, unknown> }>('/docs/json');
  expect(status).toBe(200);
  expect(Object.keys(body.paths)).toEqual(
    expect.arrayContaining(['/products/{sku}/sales', '/sales/top', '/stats', '/readyz']),
  );
});

it('answers every request a client can make with a 2xx or a problem+json 4xx, never a 5xx (fuzzed over its OpenAPI document)', async () => {
  const { body: document } = await getJson<OpenApiDocument>('/docs/json');
  const report = await fuzzOpenApi({ baseUrl: service!.url, document, runs: 500, requestTimeoutMs: 5_000 });
  expect(report.operations).toEqual(expect.arrayContaining(['GET /products/{sku}/sales', 'GET /sales/top']));
  expect(report.cases).toBe(500);
  expect(report.statuses[400]).toBeGreaterThan(0);
  expect((await getJson('/readyz')).status).toBe(200);
}, 60_000);

it('stops gracefully on SIGTERM and continues from its positions when started again', async () => {
  const before = await served(['a', 'b', 'c', 'd'].map(sku));
  expect(await service!.stop('SIGTERM')).toBe(0);
  service = await startService('sales-projection', entry, { port: await freePort(), env: serviceEnv() });
  const stats = await getJson<{ backfill: { total: number; caughtUp: boolean } }>('/stats');
  expect(stats.body.backfill).toMatchObject({ total: 0, caughtUp: true });
  expect(await served(['a', 'b', 'c', 'd'].map(sku))).toEqual(before);
  expect(await service.stop('SIGTERM')).toBe(0);
  service = undefined;
});
