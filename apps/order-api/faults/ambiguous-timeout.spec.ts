// The ambiguous timeout: order-api (a real process) publishes through a TCP fault proxy to a
// private Kafka broker that drops its responses, so a produce is written but never acknowledged.
// 1. The client gets 503 outcome-unknown and retries on the same Idempotency-Key (once while the
//    responses are still dropped, then after they flow again) → one order id, one event id.
// 2. order-api is killed -9 mid-publish (the record written, the answer held); a new process
//    takes the key over once its lease ends and republishes the SAME event (a second copy in the
//    log, under another producer id, which the broker cannot deduplicate) → still one order.
// Then order-processor and order-projection (real processes) read the whole log: one decision
// (one event id) per order, and the read model holds exactly the three orders.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  allTopics,
  orderConfirmedTopic,
  orderPlacedTopic,
  type OrderConfirmed,
  type OrderPlaced,
  type TopicDescriptor,
} from '@tideline/contracts';
import {
  catalogGroupTopics,
  ensureTopics,
  HEADER,
  registerSchemas,
  RegistryCodec,
} from '@tideline/messaging';
import {
  createTestDatabase,
  eventually,
  freePort,
  readRecords,
  startKafkaCluster,
  startService,
  testInfra,
  uniqueName,
  type KafkaCluster,
  type ReadRecord,
  type ServiceProcess,
  type TcpFaultProxy,
  type TestDatabase,
} from '@tideline/testing';
import { Pool } from 'pg';

const root = path.resolve(__dirname, '..', '..', '..');
const entry = (app: string) => path.join(root, 'apps', app, 'src', 'main.ts');
const PUBLISH_TIMEOUT_MS = 1500;
const LEASE_MS = 3000;
const SKU = 'SKU-AMBIGUOUS';

let cluster: KafkaCluster;
let proxy: TcpFaultProxy;
let database: TestDatabase;
let pool: Pool;
const services: ServiceProcess[] = [];
const codec = new RegistryCodec({ registryUrl: testInfra().registryUrl });
const signingKey = { SIGNING_KEY_ID: uniqueName('key'), SIGNING_KEY: randomBytes(32).toString('base64') };

const report = (figures: Record<string, number | string>) =>
  process.stdout.write(`[faults] ambiguous-timeout: ${JSON.stringify(figures)}\n`);

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: cluster.bootstrap,
    SCHEMA_REGISTRY_URL: testInfra().registryUrl,
    DATABASE_URL: database.url,
    ...signingKey,
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...extra,
  };
}

async function start(app: string, extra: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = await startService(app, entry(app), { port: await freePort(), env: env(extra) });
  services.push(service);
  return service;
}

const startApi = () =>
  start('order-api', {
    AUTH_DISABLED: 'true',
    PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
    IDEMPOTENCY_LEASE_MS: String(LEASE_MS),
  });

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const order = (customerId: string) => ({ customerId, currency: 'EUR', items: [{ sku: SKU, quantity: 2 }] });

/** One POST /orders as a client sends it; a reset connection or a client timeout is status 0. */
async function post(
  api: ServiceProcess,
  key: string,
  customerId: string,
  timeoutMs = 10_000,
): Promise<Answer> {
  try {
    const response = await fetch(`${api.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(order(customerId)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } catch {
    return { status: 0, body: {} };
  }
}

/** What a client does after a 503, a 409 or a cut connection: the same request, the same key, until 202. */
function retryUntilAccepted(api: ServiceProcess, key: string, customerId: string, answers: Answer[]) {
  return eventually(
    `POST /orders with key ${key} to be accepted`,
    async () => {
      const answer = await post(api, key, customerId);
      answers.push(answer);
      return answer.status === 202 ? answer : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

async function recordCount(topic: string): Promise<number> {
  const admin = cluster.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

async function decoded<Value extends { orderId: string }>(
  records: ReadRecord[],
  topic: TopicDescriptor<Value>,
): Promise<{ orderId: string; eventId: string; value: Value }[]> {
  return Promise.all(
    records.map(async (r) => {
      const value = await codec.decode(topic, r.value!);
      return { orderId: value.orderId, eventId: r.headers[HEADER.eventId]!, value };
    }),
  );
}

beforeAll(async () => {
  [cluster, database] = await Promise.all([
    startKafkaCluster({ brokers: 1, proxies: true, heap: '384m' }),
    createTestDatabase('order_api_ambiguous'),
  ]);
  proxy = cluster.proxy(1);
  pool = new Pool({ connectionString: database.url, max: 2 });
  const admin = cluster.kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [...allTopics, ...catalogGroupTopics(allTopics)], { replication: 1 });
  } finally {
    await admin.disconnect();
  }
  await registerSchemas(codec, allTopics);
}, 180_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await pool?.end();
  await database?.drop();
  await cluster?.stop();
}, 60_000);

it('a publish written but not acknowledged, retried on its key, is one order, one event, one decision', async () => {
  const started = Date.now();
  let api = await startApi();
  const catalog = await fetch(`${api.url}/catalog/products/${SKU}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Tea', priceCents: 450, currency: 'EUR', active: true }),
  });
  expect(catalog.status).toBe(202);
  const control = await post(api, 'control', 'c-control');
  expect(control.status).toBe(202);

  // 1. The broker writes the record, its answer never comes: 503 outcome-unknown, twice.
  const placedAtStart = await recordCount(orderPlacedTopic.name);
  await proxy.dropResponses();
  const timedOut = await post(api, 'ambiguous', 'c-ambiguous');
  const retriedInFault = await post(api, 'ambiguous', 'c-ambiguous');
  await proxy.recover();
  const ambiguousAnswers: Answer[] = [timedOut, retriedInFault];
  const ambiguous = await retryUntilAccepted(api, 'ambiguous', 'c-ambiguous', ambiguousAnswers);
  const ambiguousOrder = ambiguous.body['orderId'] as string;

  // 2. Killed mid-publish: the produce reached the broker, the answer is held, the process dies.
  const placedBeforeKill = await recordCount(orderPlacedTopic.name);
  await proxy.dropResponses();
  const sentBefore = proxy.stats.bytesToTarget;
  const dying = post(api, 'killed', 'c-killed');
  await eventually('the produce request to reach the broker', () =>
    proxy.stats.bytesToTarget > sentBefore ? true : undefined,
  );
  await api.stop('SIGKILL');
  await proxy.recover();
  expect((await dying).status).toBe(0); // the connection was reset, no answer
  const placedBefore = await recordCount(orderPlacedTopic.name);
  expect(placedBefore).toBe(placedBeforeKill + 1); // the dead process's record is in the log
  const killedAt = Date.now();
  api = await startApi();
  const killedAnswers: Answer[] = [];
  const killed = await retryUntilAccepted(api, 'killed', 'c-killed', killedAnswers);
  const takeoverMs = Date.now() - killedAt;
  const killedOrder = killed.body['orderId'] as string;
  // Until the lease ran out the key was in flight (409), then it was taken over, not started afresh.
  expect(killedAnswers.every((a) => a.status === 409 || a.status === 202)).toBe(true);

  // What the log holds: the dead process's record and the takeover's copy of the same event.
  const placedRecords = await recordCount(orderPlacedTopic.name);
  expect(placedRecords).toBe(placedBefore + 1);
  const placed = await decoded<OrderPlaced>(
    await readRecords(orderPlacedTopic.name, placedRecords, { kafka: cluster.kafka }),
    orderPlacedTopic,
  );
  const orderIds = new Set(placed.map((p) => p.orderId));
  const eventIds = new Set(placed.map((p) => p.eventId));
  expect([...orderIds].sort()).toEqual(
    [control.body['orderId'] as string, ambiguousOrder, killedOrder].sort(),
  );
  expect(eventIds.size).toBe(3);
  const killedCopies = placed.filter((p) => p.orderId === killedOrder);
  expect(killedCopies).toHaveLength(2);
  expect(killedCopies[1]!.value).toEqual(killedCopies[0]!.value); // the same payload and timestamp
  expect(new Set(killedCopies.map((c) => c.eventId))).toEqual(new Set([killed.body['eventId']]));
  expect(new Set(placed.filter((p) => p.orderId === ambiguousOrder).map((p) => p.eventId))).toEqual(
    new Set([ambiguous.body['eventId']]),
  );

  // What the client was told: outcome unknown, retry on the key, naming the event of the 202.
  expect(placedAtStart).toBe(1); // the control order; then the ambiguous one is in the log too
  for (const answer of [timedOut, retriedInFault]) {
    expect(answer.status).toBe(503);
    expect(answer.body['type']).toBe('urn:tideline:problem:outcome-unknown');
    expect(answer.body['detail']).toMatch(/same Idempotency-Key/);
    expect(answer.body['detail']).toContain(ambiguous.body['eventId'] as string);
    expect(answer.body['detail']).toContain(ambiguousOrder);
  }

  // 3. The consumers: one decision per order, one order per key in the read model.
  const [, projection] = await Promise.all([
    start('order-processor', { RETRY_DELAYS_MS: '300,300', SESSION_TIMEOUT_MS: '6000' }),
    start('order-projection', { SESSION_TIMEOUT_MS: '6000' }),
  ]);
  // EOS: one decision record per OrderPlaced record; the copies of one event share its id.
  const confirmed = await decoded<OrderConfirmed>(
    await readRecords(orderConfirmedTopic.name, placedRecords, { kafka: cluster.kafka, timeoutMs: 60_000 }),
    orderConfirmedTopic,
  );
  const decisions = new Map<string, Set<string>>();
  for (const c of confirmed) decisions.set(c.orderId, (decisions.get(c.orderId) ?? new Set()).add(c.eventId));
  expect([...decisions.keys()].sort()).toEqual([...orderIds].sort());
  for (const ids of decisions.values()) expect(ids.size).toBe(1);

  await eventually(
    'the read model to hold the three orders, confirmed',
    async () => {
      const { rows } = await pool.query<{ order_id: string; status: string }>(
        `SELECT order_id, view->>'status' AS status FROM order_projection.orders ORDER BY order_id`,
      );
      return rows.length === 3 && rows.every((r) => r.status === 'confirmed') ? rows : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const document = (await (await fetch(`${projection.url}/orders/${killedOrder}`)).json()) as {
    status: string;
    timeline: { status: string; eventId: string }[];
  };
  expect(document.status).toBe('confirmed');
  expect(document.timeline.map((t) => t.eventId)).toEqual([
    killed.body['eventId'],
    [...decisions.get(killedOrder)!][0],
  ]);

  report({
    orders: orderIds.size,
    placedRecords,
    distinctPlacedEvents: eventIds.size,
    decisionRecords: confirmed.length,
    distinctDecisions: [...decisions.values()].reduce((n, ids) => n + ids.size, 0),
    ambiguousAttempts: ambiguousAnswers.length,
    killedAttempts: killedAnswers.length + 1,
    takeoverMs,
    seconds: Math.round((Date.now() - started) / 1000),
  });
});
