// The versioned layout and the zero-downtime rebuild, against the real Kafka, registry and
// PostgreSQL: a live projection keeps applying while a rebuild fills the next version, compares
// and switches; the change feed goes on without a gap.
import { randomBytes } from 'node:crypto';
import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import {
  createKafka,
  createProjectionConsumer,
  deadLetterTopicName,
  Publisher,
  RecordSigner,
  RegistryCodec,
  type ProjectionBatch,
  type ProjectionConsumer,
} from '@tideline/messaging';
import { eventually, isolatedTopic, testInfra, TestTopics, uniqueName } from '@tideline/testing';
import { Pool, type PoolClient } from 'pg';
import type { ProjectionDefinition } from './definition';
import { ensureProjectionLayout, liveVersion, versionSchema } from './layout';
import { rebuildProjection, RebuildError, storedPositions, type RebuildProgress } from './rebuild';
import { PostgresProjectionStore, setPositions } from './store';

const infra = testInfra();
const pool = new Pool({ connectionString: infra.databaseUrl, max: 12 });
const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('rebuild-test') });
const codec = new RegistryCodec({ registryUrl: infra.registryUrl, autoRegister: true });
const signer = new RecordSigner({
  signingKey: { id: uniqueName('key'), secret: randomBytes(32) },
  defaultPolicy: 'required',
});
const topics = new TestTopics();
const publisher = new Publisher({ kafka, codec, signer, service: 'rebuild-test' });
const running: ProjectionConsumer[] = [];
let topic: TopicDescriptor<OrderPlaced>;

/** Orders and units per customer; `factor` lets a test build a deliberately different version. */
function definitionFor(name: string, schema: string, factor = 1): ProjectionDefinition {
  return {
    name,
    schema,
    topics: [topic],
    tables: [{ name: 'per_customer', key: ['customer_id'], compared: ['customer_id', 'orders', 'units'] }],
    createTables: (s) => `
      CREATE TABLE ${s}.per_customer (
        customer_id text PRIMARY KEY,
        orders bigint NOT NULL,
        units bigint NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
    async apply(client: PoolClient, batch: ProjectionBatch, s: string) {
      const totals = new Map<string, { orders: number; units: number }>();
      for (const record of batch.records) {
        const order = record.value as OrderPlaced;
        const t = totals.get(order.customerId) ?? { orders: 0, units: 0 };
        t.orders += 1;
        t.units += order.lines.reduce((sum, line) => sum + line.quantity, 0) * factor;
        totals.set(order.customerId, t);
      }
      const rows = [...totals].sort(([a], [b]) => (a < b ? -1 : 1));
      await client.query(
        `INSERT INTO ${s}.per_customer AS c (customer_id, orders, units, updated_at)
         SELECT * , now() FROM unnest($1::text[], $2::bigint[], $3::bigint[])
         ON CONFLICT (customer_id) DO UPDATE SET orders = c.orders + EXCLUDED.orders,
           units = c.units + EXCLUDED.units, updated_at = EXCLUDED.updated_at`,
        [rows.map(([id]) => id), rows.map(([, t]) => t.orders), rows.map(([, t]) => t.units)],
      );
      return batch.records.map((r) => ({
        keys: [`customer:${(r.value as OrderPlaced).customerId}`],
        payload: { orderId: (r.value as OrderPlaced).orderId },
      }));
    },
  };
}

let published = 0;
const expected = new Map<string, { orders: number; units: number }>();
async function publishOrders(count: number): Promise<void> {
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < count; i += 1) {
    const n = (published += 1);
    const order: OrderPlaced = {
      orderId: `order-${n}`,
      customerId: `customer-${n % 7}`,
      currency: 'EUR',
      lines: [{ sku: 'SKU-1', quantity: 1 + (n % 3) }],
      placedAt: 1_763_856_000_000 + n,
    };
    const t = expected.get(order.customerId) ?? { orders: 0, units: 0 };
    t.orders += 1;
    t.units += 1 + (n % 3);
    expected.set(order.customerId, t);
    sends.push(publisher.publish(topic, order.orderId, order));
  }
  await Promise.all(sends);
}

async function startLive(definition: ProjectionDefinition): Promise<ProjectionConsumer> {
  await ensureProjectionLayout(pool, definition);
  const groupId = uniqueName('live');
  topics.track(deadLetterTopicName(groupId));
  const consumer = createProjectionConsumer({
    kafka,
    codec,
    signer,
    groupId,
    topics: [topic],
    store: new PostgresProjectionStore(pool, definition.name, (client, batch) =>
      definition.apply(client, batch, definition.schema),
    ),
    maxBatchRecords: 200,
  });
  running.push(consumer);
  await consumer.start();
  return consumer;
}

/** Waits until the assertions in `check` pass. */
const settle = (description: string, check: () => Promise<void>) =>
  eventually(description, async () => {
    await check();
    return true;
  });

const appliedCount = async (name: string) =>
  [...(await storedPositions(pool, name)).values()].reduce((sum, n) => sum + Number(n), 0);

const tableRows = async (schema: string) =>
  (
    await pool.query<{ customer_id: string; orders: string; units: string }>(
      `SELECT customer_id, orders, units FROM ${schema}.per_customer ORDER BY customer_id`,
    )
  ).rows.map((r) => [r.customer_id, Number(r.orders), Number(r.units)]);

const expectedRows = () =>
  [...expected].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, t]) => [id, t.orders, t.units]);

const feedSeqs = async (name: string) =>
  (
    await pool.query<{ seq: string }>(
      `SELECT seq FROM tideline_change_feed WHERE projection = $1 ORDER BY seq`,
      [name],
    )
  ).rows.map((r) => Number(r.seq));

beforeAll(async () => {
  topic = { ...isolatedTopic(orderPlacedTopic), partitions: 3 };
  await topics.create(topic);
  await codec.register(topic);
  await publisher.connect();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});
afterAll(async () => {
  await publisher.close();
  await topics.cleanup();
  await pool.end();
});

describe('ensureProjectionLayout', () => {
  it('creates version 1 behind views, moves tables of an unversioned release into it, and is idempotent', async () => {
    const schema = uniqueName('tdl_layout').replace(/[^a-z0-9_]/g, '_');
    const definition = definitionFor(uniqueName('layout'), schema);
    // An unversioned release made the table directly in the view schema.
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(definition.createTables(schema));
    await pool.query(`INSERT INTO ${schema}.per_customer VALUES ('c', 1, 2, now())`);
    const first = await ensureProjectionLayout(pool, definition);
    expect(first).toMatchObject({ version: 1, schema: versionSchema(definition, 1), ddlMatches: true });
    expect(await tableRows(versionSchema(definition, 1))).toEqual([['c', 1, 2]]);
    // Writes through the view land in the version's table.
    await pool.query(
      `INSERT INTO ${schema}.per_customer AS p VALUES ('c', 1, 1, now())
       ON CONFLICT (customer_id) DO UPDATE SET orders = p.orders + EXCLUDED.orders`,
    );
    expect(await tableRows(versionSchema(definition, 1))).toEqual([['c', 2, 2]]);
    expect((await ensureProjectionLayout(pool, definition)).version).toBe(1);
    // Code whose tables differ is told so.
    const changed = { ...definition, createTables: (s: string) => `${definition.createTables(s)};` };
    expect((await liveVersion(pool, changed))?.ddlMatches).toBe(false);
    await pool.query(`DROP SCHEMA ${schema} CASCADE; DROP SCHEMA ${versionSchema(definition, 1)} CASCADE`);
  });
});

describe('rebuildProjection', () => {
  it('rebuilds while the live projection keeps applying, switches with equal checksums, and the feed has no gap', async () => {
    const schema = uniqueName('tdl_rebuild').replace(/[^a-z0-9_]/g, '_');
    const definition = definitionFor(uniqueName('counts'), schema);
    await startLive(definition);
    await publishOrders(3_000);
    await settle('the live projection applied the first orders', async () => {
      expect(await appliedCount(definition.name)).toBe(3_000);
    });

    const progress: RebuildProgress[] = [];
    const rebuilding = rebuildProjection({
      pool,
      kafka,
      codec,
      signer,
      definition,
      maxBatchRecords: 1_000,
      onProgress: (p) => progress.push(p),
    });
    // Orders keep flowing during the rebuild.
    await publishOrders(1_500);
    const result = await rebuilding;
    await publishOrders(500);

    expect(result).toMatchObject({ fromVersion: 1, toVersion: 2, switched: true, poisonSkipped: 0 });
    expect(result.comparison.every((c) => c.equal)).toBe(true);
    expect(result.comparison[0]!.live.rows).toBe(7);
    expect(progress.at(-1)).toMatchObject({ phase: 'done' });
    expect(progress.some((p) => p.phase === 'backfill' && p.total >= 3_000)).toBe(true);
    expect((await liveVersion(pool, definition))?.version).toBe(2);
    const { rows } = await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [
      versionSchema(definition, 1),
    ]);
    expect(rows).toEqual([]); // the old version was dropped

    // The live consumer went on into version 2: it holds every order, and every applied
    // record reached the feed exactly once, in one gap-free sequence.
    await settle('the live projection applied every order', async () => {
      expect(await appliedCount(definition.name)).toBe(5_000);
    });
    expect(await tableRows(schema)).toEqual(expectedRows());
    expect(await tableRows(versionSchema(definition, 2))).toEqual(expectedRows());
    const seqs = await feedSeqs(definition.name);
    expect(seqs).toHaveLength(5_000);
    expect(seqs[seqs.length - 1]).toBe(5_000);
    // The rebuild's own positions are gone.
    expect((await storedPositions(pool, `${definition.name}@v2`)).size).toBe(0);
  });

  it('switches nothing when the rebuilt tables differ, and says which', async () => {
    const schema = uniqueName('tdl_rebuild').replace(/[^a-z0-9_]/g, '_');
    const definition = definitionFor(uniqueName('counts'), schema);
    await startLive(definition);
    const before = published;
    await publishOrders(300);
    await settle('the live projection applied the orders', async () => {
      expect(await appliedCount(definition.name)).toBe(published);
    });
    expect(published - before).toBe(300);

    const wrong = definitionFor(definition.name, schema, 2);
    const failure = await rebuildProjection({ pool, kafka, codec, signer, definition: wrong }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(RebuildError);
    expect((failure as RebuildError).message).toMatch(/per_customer .*differ|differ.*per_customer/);
    expect((failure as RebuildError).result?.switched).toBe(false);
    const live = await liveVersion(pool, definition);
    expect(live).toMatchObject({ version: 1, rebuildingVersion: null });
    // The live projection was only held, never broken: it goes on.
    await publishOrders(10);
    await settle('the live projection goes on', async () => {
      expect(await appliedCount(definition.name)).toBe(published);
    });
    // Allowing differences switches to the rebuilt version.
    const forced = await rebuildProjection({
      pool,
      kafka,
      codec,
      signer,
      definition: wrong,
      allowDifferences: true,
    });
    expect(forced).toMatchObject({ fromVersion: 1, toVersion: 2, switched: true });
    expect((await liveVersion(pool, definition))?.version).toBe(2);
  });

  it('starts where the live projection was started (setPositions), not at the earliest offset', async () => {
    const schema = uniqueName('tdl_rebuild').replace(/[^a-z0-9_]/g, '_');
    const definition = definitionFor(uniqueName('counts'), schema);
    // Records from before the projection existed, which it was told to leave out.
    await publishOrders(200);
    const admin = kafka.admin();
    await admin.connect();
    const ends = (await admin.fetchTopicOffsets(topic.name)).map((p) => ({
      topic: topic.name,
      partition: p.partition,
      offset: p.high,
    }));
    await admin.disconnect();
    await setPositions(pool, definition.name, ends);
    await startLive(definition);
    await publishOrders(90);
    await settle('the live projection applied the new orders', async () => {
      expect(await appliedCount(definition.name)).toBe(published);
    });
    const result = await rebuildProjection({ pool, kafka, codec, signer, definition });
    expect(result).toMatchObject({ switched: true, applied: 90 });
    const total = await pool.query<{ orders: string }>(
      `SELECT sum(orders)::text AS orders FROM ${schema}.per_customer`,
    );
    expect(Number(total.rows[0]!.orders)).toBe(90);
  });
});
