// order-projection as a real process on a private PostgreSQL cluster, fed by signed order events
// published straight to the catalog's topics, and the exact checks of a PostgreSQL scenario:
// the read model equals a recomputation from the topics, the change feed has no gap and no
// duplicate, and no dead letter was written twice.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  orderConfirmedTopic,
  orderPlacedTopic,
  type OrderConfirmed,
  type OrderPlaced,
} from '@tideline/contracts';
import {
  createKafka,
  deadLetterTopicName,
  frame,
  HEADER,
  Publisher,
  RecordSigner,
  RegistryCodec,
} from '@tideline/messaging';
import { summarize, type OrderView } from '@tideline/orders-domain';
import { setPositions } from '@tideline/projections';
import { projectedTopics } from '@tideline/read-models';
import {
  eventually,
  freePort,
  readFrom,
  readRecords,
  startService,
  testInfra,
  testKafka,
  TestTopics,
  topicEnds,
  uniqueName,
  type ReadRecord,
  type ServiceProcess,
} from '@tideline/testing';
import { Pool } from 'pg';
import { foldOrders, provisionTopicsAndSchemas } from '../e2e/support';

const entry = path.resolve(__dirname, '..', 'src', 'main.ts');
const PRICE = 250;
const CUSTOMERS = 7;

export interface Position {
  topic: string;
  partition: number;
  offset: string;
}

/** Counts the lines of a service's output that contain every one of `texts` (all of them, not just the last 64 KiB). */
export function countLines(service: ServiceProcess, ...texts: string[]): () => number {
  let count = 0;
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n'))
      if (texts.every((text) => line.includes(text))) count += 1;
  };
  service.child.stdout?.on('data', onData);
  service.child.stderr?.on('data', onData);
  return () => count;
}

export async function readyStatus(service: ServiceProcess): Promise<number | undefined> {
  const response = await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(
    () => undefined,
  );
  return response?.status;
}

export class OrderFlow {
  readonly run = uniqueName('pgfault');
  readonly group = `order-projection-${this.run}`;
  readonly key = { id: uniqueName('key'), secret: randomBytes(32) };
  readonly signer = new RecordSigner({ signingKey: this.key, defaultPolicy: 'required' });
  readonly codec = new RegistryCodec({ registryUrl: testInfra().registryUrl });
  readonly publisher: Publisher;
  readonly orders: string[] = [];
  private readonly topics = new TestTopics();
  private readonly services: ServiceProcess[] = [];
  private from: Position[] = [];
  private flowing: Promise<void> | undefined;
  private stopFlow = false;
  poisonOffset: Position | undefined;
  /** When the read model first held every published order. */
  convergedAt = 0;

  constructor(readonly databaseUrl: string) {
    const kafka = createKafka({ brokers: testInfra().kafkaBrokers, clientId: this.run });
    this.publisher = new Publisher({
      kafka,
      codec: this.codec,
      signer: this.signer,
      service: 'order-processor',
    });
  }

  /** Topics and schemas in place; the projection starts at the topics' current ends. */
  async provision(): Promise<void> {
    await provisionTopicsAndSchemas();
    this.from = await topicEnds(projectedTopics.map((t) => t.name));
    const pool = new Pool({ connectionString: this.databaseUrl, max: 1 });
    try {
      await setPositions(pool, this.group, this.from);
    } finally {
      await pool.end();
    }
    this.topics.track(deadLetterTopicName(this.group));
  }

  env(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      KAFKA_BROKERS: testInfra().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: testInfra().registryUrl,
      DATABASE_URL: databaseUrl,
      SIGNING_KEY_ID: this.key.id,
      SIGNING_KEY: this.key.secret.toString('base64'),
      GROUP_ID: this.group,
      LOG_LEVEL: 'warn',
      SESSION_TIMEOUT_MS: '6000',
      SHUTDOWN_TIMEOUT_MS: '5000',
      MAX_BATCH_RECORDS: '50',
      ...extra,
    };
  }

  async startProjection(databaseUrl: string, extra: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = await startService('order-projection', entry, {
      port: await freePort(),
      env: this.env(databaseUrl, extra),
    });
    this.services.push(service);
    return service;
  }

  /** Publishes orders (placed, then confirmed) one after another until `stop()`. */
  startFlow(): void {
    this.flowing = (async () => {
      for (let i = 0; !this.stopFlow; i += 1) {
        const orderId = `${this.run}-o${i}`;
        const customerId = `${this.run}-c${i % CUSTOMERS}`;
        const quantity = 1 + (i % 3);
        const placed: OrderPlaced = {
          orderId,
          customerId,
          currency: 'EUR',
          lines: [{ sku: 'SKU-1', quantity }],
          placedAt: Date.now(),
        };
        const confirmed: OrderConfirmed = {
          orderId,
          customerId,
          currency: 'EUR',
          lines: [{ sku: 'SKU-1', quantity, unitPriceCents: PRICE, lineTotalCents: PRICE * quantity }],
          totalCents: PRICE * quantity,
          confirmedAt: Date.now(),
        };
        await this.publisher.publish(orderPlacedTopic, orderId, placed);
        await this.publisher.publish(orderConfirmedTopic, orderId, confirmed);
        this.orders.push(orderId);
        await new Promise((resolve) => setTimeout(resolve, 5)); // a steady flow, not a flood
      }
    })();
  }

  async stopFlowing(): Promise<void> {
    this.stopFlow = true;
    await this.flowing;
  }

  /** A correctly signed record whose value is not Avro: the projection must dead-letter it, once. */
  async publishPoison(): Promise<void> {
    const value = frame(1, Buffer.from('not avro at all'));
    const key = Buffer.from(`${this.run}-poison`);
    const headers = {
      [HEADER.eventId]: uniqueName('poison'),
      [HEADER.eventType]: orderPlacedTopic.eventType,
    };
    this.signer.sign(orderPlacedTopic.name, key, value, headers);
    const receipt = await this.publisher.send({ topic: orderPlacedTopic.name, key, value, headers });
    this.poisonOffset = { topic: receipt.topic, partition: receipt.partition, offset: receipt.offset };
  }

  /** Records in the group's dead-letter topic (all of them, read to its end). */
  async deadLetters(): Promise<{ topic: string; partition: string; offset: string; code: string }[]> {
    const topic = deadLetterTopicName(this.group);
    const ends = await topicEnds([topic]);
    const total = ends.reduce((sum, p) => sum + Number(p.offset), 0);
    const records = await readRecords(topic, total);
    return records.map((r) => ({
      topic: r.headers[HEADER.originalTopic] ?? '',
      partition: r.headers[HEADER.originalPartition] ?? '',
      offset: r.headers[HEADER.originalOffset] ?? '',
      code: r.headers[HEADER.errorCode] ?? '',
    }));
  }

  /** Orders in the read model (ours only: foreign records on the shared topics are dead-lettered). */
  async appliedOrders(pool: Pool): Promise<number> {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM order_projection.orders WHERE status = 'confirmed'`,
    );
    return Number(rows[0]!.n);
  }

  /**
   * Waits until the read model holds every published order, then checks it equals a recomputation
   * from the topics, and the change feed is gapless with each event once.
   */
  async expectConverged(pool: Pool): Promise<{ events: number }> {
    const ours = new Set(this.orders);
    await eventually(
      `all ${ours.size} orders confirmed in the read model`,
      async () => ((await this.appliedOrders(pool)) === ours.size ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    this.convergedAt = Date.now();
    const records: ReadRecord[] = [];
    await readFrom(this.from, (record) => {
      const key = record.key?.toString();
      if (key !== undefined && ours.has(key)) records.push(record);
      return records.length === 2 * ours.size;
    });
    const events = records.length;
    const views = await foldOrders(records, this.codec);
    expect(views.size).toBe(ours.size);

    const { rows } = await pool.query<{ order_id: string; view: OrderView }>(
      `SELECT order_id, view FROM order_projection.orders`,
    );
    expect(rows).toHaveLength(ours.size);
    for (const row of rows) expect(row.view).toEqual(JSON.parse(JSON.stringify(views.get(row.order_id))));
    const { rows: summaries } = await pool.query<{ customer_id: string; confirmed: number; pending: number }>(
      `SELECT customer_id, confirmed, pending FROM order_projection.customer_summaries ORDER BY customer_id`,
    );
    const { rows: spend } = await pool.query<{ customer_id: string; confirmed_cents: string }>(
      `SELECT customer_id, confirmed_cents FROM order_projection.customer_spend ORDER BY customer_id`,
    );
    const customers = [...new Set([...views.values()].map((v) => v.customerId!))].sort();
    const expected = customers.map((c) => summarize(c, views.values()));
    expect(summaries.map((s) => [s.customer_id, s.confirmed, s.pending])).toEqual(
      expected.map((e) => [e.customerId, e.counts.confirmed, e.counts.pending]),
    );
    expect(spend.map((s) => [s.customer_id, Number(s.confirmed_cents)])).toEqual(
      expected.map((e) => [e.customerId, e.confirmedSpendCents['EUR']]),
    );

    // The change feed: one entry per event, seq 1..n without a gap, no event twice.
    const { rows: feed } = await pool.query<{ seq: string; event_id: string }>(
      `SELECT seq, payload->>'eventId' AS event_id FROM tideline_change_feed WHERE projection = $1 ORDER BY seq`,
      [this.group],
    );
    expect(feed.map((f) => Number(f.seq))).toEqual(Array.from({ length: feed.length }, (_, i) => i + 1));
    expect(new Set(feed.map((f) => f.event_id)).size).toBe(feed.length);
    expect(feed).toHaveLength(events);
    return { events };
  }

  async cleanup(): Promise<void> {
    this.stopFlow = true;
    await this.flowing?.catch(() => undefined);
    await Promise.all(this.services.map((s) => s.stop('SIGKILL')));
    await this.publisher.close().catch(() => undefined);
    const admin = testKafka().admin();
    await admin.connect();
    await admin.deleteGroups([this.group]).catch(() => undefined);
    await admin.disconnect();
    await this.topics.cleanup();
  }
}
