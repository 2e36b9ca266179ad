// order-processor as a real OS process against the real Kafka, registry and catalog topics.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  allTopics,
  orderCancelledTopic,
  orderConfirmedTopic,
  orderPlacedTopic,
  orderRejectedTopic,
  productUpdatedTopic,
  type OrderConfirmed,
  type OrderPlaced,
  type OrderRejected,
  type TopicDescriptor,
} from '@tideline/contracts';
import {
  applyTopicPlan,
  catalogGroupTopics,
  createKafka,
  planTopics,
  Publisher,
  RecordSigner,
  RegistryCodec,
  registerSchemas,
} from '@tideline/messaging';
import { eventually, freePort, startGroupAtEnd, testInfra, testKafka, uniqueName } from '@tideline/testing';

const infra = testInfra();
const key = { id: uniqueName('key'), secret: randomBytes(32) };
const signer = new RecordSigner({ signingKey: key, defaultPolicy: 'required' });
const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('processor-e2e') });
const codec = new RegistryCodec({ registryUrl: infra.registryUrl });
const publisher = new Publisher({ kafka, codec, signer, service: 'order-api' });
const run = uniqueName('run');
const groupId = `order-processor-${run}`;
const children: ChildProcess[] = [];
const decisions = new Map<
  string,
  { topic: string; value: OrderConfirmed | OrderRejected; headers: Record<string, string> }
>();
let watcher: ReturnType<ReturnType<typeof testKafka>['consumer']>;

async function startProcessor(env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--conditions=@tideline/source', '--import', 'tsx', path.join(__dirname, '..', 'src', 'main.ts')],
    {
      env: {
        ...process.env,
        KAFKA_BROKERS: infra.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: infra.registryUrl,
        SIGNING_KEY_ID: key.id,
        SIGNING_KEY: key.secret.toString('base64'),
        GROUP_ID: groupId,
        RETRY_DELAYS_MS: '300,300',
        MAX_ORDER_TOTAL_CENTS: '100000',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  children.push(child);
  return { child, port, exited, stderr: () => stderr };
}

const order = (orderId: string, lines: [string, number][], currency = 'EUR'): OrderPlaced => ({
  orderId,
  customerId: `customer-${run}`,
  currency,
  lines: lines.map(([sku, quantity]) => ({ sku, quantity })),
  placedAt: Date.now(),
});

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  const plan = await planTopics(admin, [...allTopics, ...catalogGroupTopics(allTopics)], {
    replication: infra.topicReplication,
  });
  if (plan.changes) await applyTopicPlan(admin, plan);
  await admin.disconnect();
  await registerSchemas(codec, allTopics);
  // This run's groups start at the end of the shared topics: earlier runs' records are not replayed.
  await startGroupAtEnd(groupId, [orderPlacedTopic.name, orderCancelledTopic.name]);
  const watchGroup = uniqueName('watch');
  await startGroupAtEnd(watchGroup, [orderConfirmedTopic.name, orderRejectedTopic.name]);
  // Watch the processor's output (read committed: only committed transactions are seen).
  watcher = testKafka().consumer({ groupId: watchGroup, maxWaitTimeInMs: 500 });
  await watcher.connect();
  await watcher.subscribe({
    topics: [orderConfirmedTopic.name, orderRejectedTopic.name],
    fromBeginning: true,
  });
  await watcher.run({
    eachMessage: async ({ topic, message }) => {
      const id = message.key?.toString() ?? '';
      if (!id.startsWith(run)) return;
      const descriptor = (
        topic === orderConfirmedTopic.name ? orderConfirmedTopic : orderRejectedTopic
      ) as TopicDescriptor<OrderConfirmed | OrderRejected>;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
      decisions.set(id, { topic, value: await codec.decode(descriptor, message.value!), headers });
    },
  });
});

afterAll(async () => {
  // Gracefully (SIGKILL after 10 s): the processors leave their group, so the file's clean-up
  // deletes it at once instead of the run's teardown waiting for their sessions to expire.
  await Promise.all(
    children
      .filter((child) => child.exitCode === null && child.signalCode === null)
      .map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
  );
  await watcher?.disconnect();
  await publisher.close();
});

it('confirms and rejects orders with reasons, waits for a late product, and keeps correlation and causation', async () => {
  const sku = (name: string) => `${run}-${name}`;
  for (const [name, priceCents, active, currency] of [
    ['apple', 150, true, 'EUR'],
    ['pear', 300, false, 'EUR'],
    ['gold', 90_000, true, 'EUR'],
    ['yen', 100, true, 'JPY'],
  ] as const) {
    await publisher.publish(productUpdatedTopic, sku(name), {
      sku: sku(name),
      name,
      priceCents,
      currency,
      active,
      updatedAt: Date.now(),
    });
  }
  const processor = await startProcessor();
  const placed = new Map<string, Awaited<ReturnType<typeof publisher.publish>>>();
  const send = async (id: string, value: OrderPlaced) =>
    placed.set(id, await publisher.publish(orderPlacedTopic, id, value, { correlationId: `corr-${id}` }));
  await send(`${run}-ok`, order(`${run}-ok`, [[sku('apple'), 2]]));
  await send(`${run}-inactive`, order(`${run}-inactive`, [[sku('pear'), 1]]));
  await send(`${run}-currency`, order(`${run}-currency`, [[sku('yen'), 1]]));
  await send(`${run}-limit`, order(`${run}-limit`, [[sku('gold'), 2]]));
  await send(`${run}-unknown`, order(`${run}-unknown`, [[sku('ghost'), 1]]));
  await send(`${run}-late`, order(`${run}-late`, [[sku('plum'), 3]]));
  // The plum's ProductUpdated arrives after its order: the retry picks it up.
  await publisher.publish(productUpdatedTopic, sku('plum'), {
    sku: sku('plum'),
    name: 'plum',
    priceCents: 70,
    currency: 'EUR',
    active: true,
    updatedAt: Date.now(),
  });

  await eventually('six decisions', () => (decisions.size >= 6 ? true : undefined), { timeoutMs: 60_000 });
  const reasons = (id: string) => (decisions.get(id)?.value as OrderRejected).reasons.map((r) => r.code);
  expect(decisions.get(`${run}-ok`)).toMatchObject({
    topic: orderConfirmedTopic.name,
    value: { totalCents: 300 },
  });
  expect(decisions.get(`${run}-late`)).toMatchObject({
    topic: orderConfirmedTopic.name,
    value: { totalCents: 210 },
  });
  expect(reasons(`${run}-inactive`)).toEqual(['PRODUCT_INACTIVE']);
  expect(reasons(`${run}-currency`)).toEqual(['CURRENCY_MISMATCH']);
  expect(reasons(`${run}-limit`)).toEqual(['TOTAL_OVER_LIMIT']);
  // Unknown after every retry: a business rejection, not a dead letter.
  expect(reasons(`${run}-unknown`)).toEqual(['UNKNOWN_PRODUCT']);
  for (const [id, receipt] of placed) {
    expect(decisions.get(id)?.headers).toMatchObject({
      'tdl-correlation-id': `corr-${id}`,
      'tdl-causation-id': receipt.eventId,
      ce_source: 'order-processor',
    });
  }
  const ready = await fetch(`http://127.0.0.1:${processor.port}/readyz`);
  expect(ready.status).toBe(200);
});

it('refuses to start with a bad configuration, listing every bad variable', async () => {
  const processor = await startProcessor({ PORT: 'abc', RETRY_DELAYS_MS: 'soon', SIGNING_KEY: 'short' });
  expect(await processor.exited).toBe(1);
  const stderr = processor.stderr();
  expect(stderr).toContain('PORT:');
  expect(stderr).toContain('RETRY_DELAYS_MS:');
  expect(stderr).toContain('SIGNING_KEY: must be base64 of at least 32 bytes (value hidden)');
  expect(stderr).not.toContain('short');
});
