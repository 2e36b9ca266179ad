// The three order services as OS processes against the real stack, for end-to-end tests.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { allTopics, orderCancelledTopic, orderPlacedTopic, type TopicDescriptor } from '@tideline/contracts';
import {
  catalogGroupTopics,
  createKafka,
  ensureTopics,
  identityOf,
  RegistryCodec,
  registerSchemas,
} from '@tideline/messaging';
import { emptyOrder, evolveOrder, type OrderView } from '@tideline/orders-domain';
import { setPositions } from '@tideline/projections';
import { Pool } from 'pg';
import { projectedTopics, toOrderEvent } from '@tideline/read-models';
import {
  createTestDatabase,
  eventually,
  freePort,
  startGroupAtEnd,
  startService,
  testInfra,
  topicEnds,
  uniqueName,
  type ReadRecord,
  type ServiceProcess,
  type SseEvent,
  type TestDatabase,
} from '@tideline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const entry = (app: string) => path.join(root, 'apps', app, 'src', 'main.ts');

export interface Accepted {
  orderId: string;
  eventId: string;
  correlationId: string;
}

export interface OrderDocument {
  orderId: string;
  customerId: string;
  status: string;
  totalCents: number | null;
  reasons: { code: string; sku: string | null }[];
  timeline: { status: string; eventId: string; eventType: string }[];
}

export async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 300)}`);
  }
}

/** The `order-changed` events of an SSE stream, with their ids. */
export const changes = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'order-changed')
    .map((e) => ({
      id: Number(e.id),
      ...(JSON.parse(e.data) as { orderId: string; status: string; eventType: string }),
    }));

/** Every order's view recomputed from its records on the order topics (keys are order ids), as the projection folds them. */
export async function foldOrders(
  records: readonly ReadRecord[],
  codec: RegistryCodec,
): Promise<Map<string, OrderView>> {
  const views = new Map<string, OrderView>();
  for (const record of records) {
    const topic: TopicDescriptor<unknown> = projectedTopics.find((t) => t.name === record.topic)!;
    const value = (await codec.decode(topic, record.value!)) as {
      orderId: string;
    };
    const event = toOrderEvent({
      ...identityOf(record.headers),
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: Number(record.timestamp),
      key: record.key?.toString() ?? null,
      value,
      headers: record.headers,
    });
    if (event)
      views.set(value.orderId, evolveOrder(views.get(value.orderId) ?? emptyOrder(value.orderId), event));
  }
  return views;
}

/**
 * The catalog's topics (with every group's retry and dead-letter topics) and schemas in place
 * (in the test stack's registry, or `registryUrl`); idempotent.
 */
export async function provisionTopicsAndSchemas(registryUrl = testInfra().registryUrl): Promise<void> {
  const infra = testInfra();
  const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('provision') });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [...allTopics, ...catalogGroupTopics(allTopics)], {
      replication: infra.topicReplication,
    });
  } finally {
    await admin.disconnect();
  }
  await registerSchemas(new RegistryCodec({ registryUrl }), allTopics);
}

/**
 * Topics and schemas in place, and a stack's consumer groups set to the end of the shared
 * topics: earlier runs' records (signed with other keys) are not replayed.
 */
export async function provisionOrderStack(
  processorGroup: string,
  projectionGroup: string,
  databaseUrl: string,
  registryUrl?: string,
): Promise<void> {
  await provisionTopicsAndSchemas(registryUrl);
  await startGroupAtEnd(processorGroup, [orderPlacedTopic.name, orderCancelledTopic.name]);
  const projected = projectedTopics.map((t) => t.name);
  // The projection's positions live in its database; its group's Kafka offsets go to the end too,
  // or its first fetch of each partition starts at the earliest record before it seeks.
  await startGroupAtEnd(projectionGroup, projected);
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    await setPositions(pool, projectionGroup, await topicEnds(projected));
  } finally {
    await pool.end();
  }
}

/**
 * order-api, N order-processors and order-projection with a signing key, consumer groups, SKUs
 * and a database of their own, so nothing another test does reaches what this one checks.
 */
export class OrderStack {
  readonly run = uniqueName('e2e');
  readonly processorGroup = `order-processor-${this.run}`;
  readonly projectionGroup = `order-projection-${this.run}`;
  readonly processors: ServiceProcess[] = [];
  api!: ServiceProcess;
  projection!: ServiceProcess;
  private readonly all: ServiceProcess[] = [];
  private database!: TestDatabase;
  private common: Record<string, string> = {};

  private constructor(private readonly extraEnv: Record<string, string>) {}

  /** `registryUrl`: a registry of the test's own instead of the test stack's (its schemas are registered there). */
  static async start({
    processors = 2,
    env = {},
    registryUrl = testInfra().registryUrl,
  }: { processors?: number; env?: Record<string, string>; registryUrl?: string } = {}) {
    const stack = new OrderStack(env);
    const infra = testInfra();
    stack.database = await createTestDatabase('orders_e2e');
    stack.common = {
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: registryUrl,
      DATABASE_URL: stack.database.url,
      SIGNING_KEY_ID: uniqueName('key'),
      SIGNING_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      SHUTDOWN_TIMEOUT_MS: '5000',
      ...env,
    };
    await provisionOrderStack(stack.processorGroup, stack.projectionGroup, stack.database.url, registryUrl);
    await stack.startProjection();
    stack.api = await stack.track(
      startService('order-api', entry('order-api'), {
        port: await freePort(),
        env: { ...stack.common, AUTH_DISABLED: 'true', PROJECTION_URL: stack.projection.url },
      }),
    );
    await Promise.all(Array.from({ length: processors }, () => stack.startProcessor()));
    return stack;
  }

  sku(name: string): string {
    return `${this.run}-${name}`;
  }

  /** Starts an order-processor; ready when `readyPath` answers 200 (`/healthz`: as soon as it listens). */
  async startProcessor({ readyPath = '/readyz' }: { readyPath?: string } = {}): Promise<ServiceProcess> {
    const service = await this.track(
      startService('order-processor', entry('order-processor'), {
        port: await freePort(),
        readyPath,
        env: {
          ...this.common,
          GROUP_ID: this.processorGroup,
          RETRY_DELAYS_MS: '300,300',
          MAX_ORDER_TOTAL_CENTS: '100000',
          ...this.extraEnv,
        },
      }),
    );
    this.processors.push(service);
    return service;
  }

  /** Starts order-projection; ready when `readyPath` answers 200 (`/metrics`: as soon as it listens). */
  async startProjection({ readyPath = '/readyz' }: { readyPath?: string } = {}): Promise<ServiceProcess> {
    this.projection = await this.track(
      startService('order-projection', entry('order-projection'), {
        port: await freePort(),
        readyPath,
        env: { ...this.common, GROUP_ID: this.projectionGroup, ...this.extraEnv },
      }),
    );
    return this.projection;
  }

  /**
   * Stops the services gracefully (SIGKILL after 10 s), so they leave their groups and the test
   * file's clean-up can delete the groups at once (a killed member holds its group for a session).
   */
  async stop(): Promise<void> {
    await Promise.all(this.all.map((s) => s.stop('SIGTERM', 10_000)));
    await this.database?.drop();
  }

  async putProduct(name: string, priceCents: number, active = true, currency = 'EUR'): Promise<void> {
    const response = await fetch(`${this.api.url}/catalog/products/${this.sku(name)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, priceCents, currency, active }),
    });
    if (response.status !== 202)
      throw new Error(`PUT product answered ${response.status}: ${await response.text()}`);
  }

  async placeOrder(
    customerId: string,
    items: [string, number][],
    headers: Record<string, string> = {},
  ): Promise<Accepted> {
    const response = await fetch(`${this.api.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({
        customerId,
        currency: 'EUR',
        items: items.map(([name, quantity]) => ({ sku: this.sku(name), quantity })),
      }),
    });
    if (response.status !== 202)
      throw new Error(`POST /orders answered ${response.status}: ${await response.text()}`);
    return json<Accepted>(response);
  }

  async getOrder(orderId: string, query = ''): Promise<{ status: number; body: OrderDocument }> {
    const response = await fetch(`${this.projection.url}/orders/${orderId}${query}`);
    return { status: response.status, body: await json<OrderDocument>(response) };
  }

  /** Polls until the order reached a terminal status. */
  settled(orderId: string, timeoutMs = 30_000): Promise<OrderDocument> {
    return eventually(
      `order ${orderId} to be decided`,
      async () => {
        const { status, body } = await this.getOrder(orderId);
        return status === 200 && ['confirmed', 'rejected'].includes(body.status) ? body : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  async get<T>(pathAndQuery: string): Promise<T> {
    return json<T>(await fetch(`${this.projection.url}${pathAndQuery}`));
  }

  get databaseUrl(): string {
    return this.database.url;
  }

  /** The environment every service of this stack runs with (to run the CLI against it). */
  get env(): Record<string, string> {
    return { ...this.common };
  }

  /** The key every service of this stack signs and verifies with (to publish as one of them). */
  get signingKey(): { id: string; secret: Buffer } {
    return { id: this.common['SIGNING_KEY_ID']!, secret: Buffer.from(this.common['SIGNING_KEY']!, 'base64') };
  }

  private async track(starting: Promise<ServiceProcess>): Promise<ServiceProcess> {
    const service = await starting;
    this.all.push(service);
    return service;
  }
}
