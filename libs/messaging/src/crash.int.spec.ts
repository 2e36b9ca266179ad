import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { orderPlacedTopic, type OrderPlaced, type TopicDescriptor } from '@tideline/contracts';
import { eventually, readRecords, testInfra, testKafka, uniqueName } from '@tideline/testing';
import { Client } from 'pg';
import { HEADER } from './headers';
import { ensureProcessedEventsTable } from './idempotency';
import type { ChildConfig } from './test-support/consumer-child';
import { MessagingFixture, randomSigningKey, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
const infra = testInfra();
const key = randomSigningKey();
const signer = testSigner(key);
const db = new Client({ connectionString: infra.databaseUrl });
const children: ConsumerChild[] = [];

type Line = Record<string, unknown>;

/** A consumer in its own Node process (test-support/consumer-child.ts), so the test can kill -9 it. */
class ConsumerChild {
  readonly lines: Line[] = [];
  readonly exited: Promise<number | null>;
  private readonly process: ChildProcess;
  stderr = '';

  constructor(config: ChildConfig) {
    this.process = spawn(
      process.execPath,
      [
        '--conditions=@tideline/source',
        '--import',
        'tsx',
        path.join(__dirname, 'test-support/consumer-child.ts'),
        JSON.stringify(config),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let buffered = '';
    this.process.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part.trim() !== '') this.lines.push(JSON.parse(part) as Line);
    });
    this.process.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)));
    children.push(this);
  }

  ids(kind: 'started' | 'handled' | 'skipped'): string[] {
    return this.lines.flatMap((line) => (typeof line[kind] === 'string' ? [line[kind]] : []));
  }

  signal(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }
}

beforeAll(async () => {
  await db.connect();
  await ensureProcessedEventsTable(db);
});

afterAll(async () => {
  for (const child of children) child.signal('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await db.end();
  await fixture.cleanup();
});

const order = (n: number): OrderPlaced => ({
  orderId: `order-${n}`,
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 1 }],
  placedAt: 1_763_856_000_000 + n,
});

async function scenario(count: number) {
  const topic: TopicDescriptor<OrderPlaced> = await fixture.topic(orderPlacedTopic, 3);
  const groupId = fixture.group([topic]);
  const effectsTable = uniqueName('effects').replace(/[^a-z0-9_]/gi, '_');
  await db.query(`CREATE TABLE ${effectsTable} (event_id text NOT NULL, order_id text NOT NULL)`);
  const publisher = fixture.publisher(signer);
  const receipts = await Promise.all(
    Array.from({ length: count }, (_, n) => publisher.publish(topic, `order-${n}`, order(n))),
  );
  const config = (overrides: Partial<ChildConfig> = {}): ChildConfig => ({
    brokers: infra.kafkaBrokers,
    registryUrl: infra.registryUrl,
    databaseUrl: infra.databaseUrl,
    topic: topic.name,
    partitions: topic.partitions,
    groupId,
    keyId: key.id,
    secret: key.secret.toString('base64'),
    effectsTable,
    workMs: 20,
    ...overrides,
  });
  const effects = async () => {
    const { rows } = await db.query<{ total: string; distinct: string }>(
      `SELECT count(*) AS total, count(DISTINCT event_id) AS distinct FROM ${effectsTable}`,
    );
    return { total: Number(rows[0]!.total), distinct: Number(rows[0]!.distinct) };
  };
  const committed = async () => {
    const admin = testKafka().admin();
    await admin.connect();
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic.name] });
    await admin.disconnect();
    return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  };
  return { topic, groupId, receipts, config, effects, committed, effectsTable };
}

it('kill -9 of a consumer in the middle of a batch: a restart processes everything, and each event has exactly one effect', async () => {
  const count = 60;
  const { receipts, config, effects } = await scenario(count);

  const first = new ConsumerChild(config({ stallAfter: 12 }));
  await eventually('the first consumer stalled mid-batch after 12 effects', () =>
    first.lines.some((l) => 'stalled' in l) ? true : undefined,
  );
  first.signal('SIGKILL');
  expect(await first.exited).toBeNull(); // killed by the signal, no exit code
  // Partitions run concurrently, so the others may have applied a few more before the kill.
  const before = await effects();
  expect(before.total).toBeGreaterThanOrEqual(12);
  expect(before.total).toBeLessThan(count);

  const second = new ConsumerChild(config());
  await eventually(
    `all ${count} events applied`,
    async () => ((await effects()).total >= count ? true : undefined),
    {
      timeoutMs: 45_000,
    },
  );
  // The restart re-delivered what the killed process had done but not committed…
  expect(second.ids('skipped').length).toBeGreaterThanOrEqual(1);
  // …and the idempotency helper turned every re-delivery into a no-op.
  expect(await effects()).toEqual({ total: count, distinct: count });
  const applied = new Set([...first.ids('handled'), ...second.ids('handled')]);
  expect([...applied].sort()).toEqual(receipts.map((r) => r.eventId).sort());
});

it('SIGTERM during processing: in-flight records finish and are committed, and a restart does not process them again', async () => {
  const count = 40;
  const { config, effects, committed } = await scenario(count);

  const first = new ConsumerChild(config({ workMs: 150 }));
  await eventually('a few records handled', () => (first.ids('handled').length >= 4 ? true : undefined));
  first.signal('SIGTERM');
  expect(await first.exited).toBe(0);
  // Every record whose handler had started when the signal came finished…
  expect(first.ids('handled').sort()).toEqual(first.ids('started').sort());
  expect(first.lines.some((l) => l.stopped === true)).toBe(true);
  // …and was committed: the group's offsets cover exactly what was applied.
  const done = first.ids('handled').length;
  expect(done).toBeLessThan(count);
  expect(await committed()).toBe(done);

  const second = new ConsumerChild(config());
  await eventually(
    `all ${count} events applied`,
    async () => ((await effects()).total >= count ? true : undefined),
    {
      timeoutMs: 45_000,
    },
  );
  expect(second.ids('skipped')).toEqual([]);
  expect(second.ids('started').filter((id) => first.ids('handled').includes(id))).toEqual([]);
  expect(await effects()).toEqual({ total: count, distinct: count });
});

it('transactional consume→produce: repeated kill -9 while records flow leaves exactly one output per input', async () => {
  const count = 300;
  const { config } = await scenario(count);
  const output = await fixture.topic(orderPlacedTopic, 3);
  const forward = (overrides: Partial<ChildConfig> = {}) =>
    config({ forwardTo: output.name, transactional: true, workMs: 2, ...overrides });

  // Kill the processor three times at arbitrary points: inside a handler, between sending a
  // transaction's records and committing it, or between transactions.
  let handledBefore = 0;
  for (let kill = 1; kill <= 3; kill += 1) {
    const child = new ConsumerChild(forward());
    await eventually(
      `the processor made progress before kill ${kill}`,
      () => (child.ids('handled').length >= 40 ? true : undefined),
      { timeoutMs: 45_000 },
    );
    child.signal('SIGKILL');
    await child.exited;
    handledBefore += child.ids('handled').length;
  }
  const last = new ConsumerChild(forward());
  // Read committed (the kafkajs default): aborted or never-committed output is invisible.
  const records = await readRecords(output.name, count, { timeoutMs: 60_000 });
  expect(records).toHaveLength(count);
  const causes = records.map((r) => r.headers[HEADER.causationId]);
  expect(new Set(causes).size).toBe(count);
  // Some inputs were handled more than once across the kills, yet each has one output.
  expect(handledBefore + last.ids('handled').length).toBeGreaterThan(count);
});
