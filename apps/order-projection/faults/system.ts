// The whole order flow as real processes on Kafka of its own, for the broker scenarios: a private
// KRaft cluster (1 or 3 brokers) and Apicurio registry from the fault toolkit, the catalog's
// topics applied by `tideline topics apply`, order-api, two order-processors and order-projection
// (each restarted, like a supervisor would, if it exits unasked), a database of their own on the
// test PostgreSQL, and the exact checks: no acknowledged order lost, no order or decision twice,
// the read model equal to a recomputation from the topics, every group caught up.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  orderCancelledTopic,
  orderConfirmedTopic,
  orderPlacedTopic,
  orderRejectedTopic,
} from '@tideline/contracts';
import { groupLag, HEADER, readTopic, RegistryCodec, type Admin } from '@tideline/messaging';
import { summarize, type OrderView } from '@tideline/orders-domain';
import { projectedTopics } from '@tideline/read-models';
import {
  createTestDatabase,
  eventually,
  freePort,
  runCli,
  startKafkaCluster,
  startPrivateRegistry,
  startService,
  uniqueName,
  type KafkaCluster,
  type DrivenOrder,
  type LoadReport,
  type PrivateRegistry,
  type ReadRecord,
  type ServiceProcess,
  type TestDatabase,
} from '@tideline/testing';
import { Pool } from 'pg';
import { foldOrders } from '../e2e/support';

const root = path.resolve(__dirname, '..', '..', '..');
const tideline = path.join(root, 'apps', 'ops', 'bin', 'tideline.cjs');
const entry = (app: string) => path.join(root, 'apps', app, 'src', 'main.ts');
export const SKUS = ['FAULT-BEANS', 'FAULT-MUG', 'FAULT-FILTER'];
const CUSTOMERS = 40;
export const PROCESSOR_GROUP = 'order-processor';
export const PROJECTION_GROUP = 'order-projection';
const GROUPS = [PROCESSOR_GROUP, PROJECTION_GROUP];

const t0 = Date.now();
/** A progress line on stderr (jest shows it at once), so a timeout says how far the scenario got. */
export const step = (text: string) =>
  process.stderr.write(`[faults +${Math.round((Date.now() - t0) / 1000)}s] ${text}\n`);

export const report = (scenario: string, figures: Record<string, unknown>) =>
  process.stdout.write(`[faults] ${scenario}: ${JSON.stringify(figures)}\n`);

/** Log texts counted per service: a producer replaced after the broker refused its sequence numbers. */
const WATCHED = ['producerReplaced'];

/** A service process with the supervisor a deployment gives it: started again if it exits unasked. */
export class Supervised {
  process!: ServiceProcess;
  /** Lines of its output (over every run) that contain each watched text. */
  readonly seen: Record<string, number> = {};
  /** Exits nobody asked for (each followed by a restart). */
  readonly crashes: { at: number; code: number | null; output: string }[] = [];
  private stopping = false;

  constructor(
    readonly name: string,
    private readonly app: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  async start(readyPath: string | null = '/readyz'): Promise<this> {
    const started = await startService(this.name, entry(this.app), {
      port: this.port,
      env: this.env,
      readyPath,
      timeoutMs: 120_000,
    });
    this.process = started;
    const watch = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n'))
        for (const text of WATCHED) if (line.includes(text)) this.seen[text] = (this.seen[text] ?? 0) + 1;
    };
    started.child.stdout?.on('data', watch);
    started.child.stderr?.on('data', watch);
    void started.exited.then((code) => {
      if (this.stopping || this.process !== started) return;
      this.crashes.push({ at: Date.now(), code, output: started.output().slice(-2000) });
      step(`${this.name} exited unasked (${code}); restarting it:\n${started.output().slice(-1500)}`);
      void this.start(null).catch(() => undefined);
    });
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async ready(): Promise<boolean> {
    const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(3_000) }).catch(
      () => undefined,
    );
    return response?.status === 200;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.process?.stop('SIGTERM', 10_000);
  }
}

/** Java's String.hashCode, which Kafka maps a transactional id to its __transaction_state partition with. */
function javaHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

export interface Verdict {
  acknowledged: number;
  lostPlaced: number;
  lostDecided: number;
  lostProjected: number;
  /** Orders on the topic whose id no client got (a retry that minted a second order). */
  extraOrders: number;
  /** Orders with more than one OrderPlaced event id. */
  duplicateOrderEvents: number;
  /**
   * OrderPlaced records beyond one per event id: an ambiguous publish retried on its key writes
   * the same event again (one order, one event id), which consumers take as one. Reported only.
   */
  placedCopies: number;
  /** Orders with more than one decision event id (confirmed or rejected). */
  duplicateDecisions: number;
  /**
   * Orders with more decision records than OrderPlaced records: exactly-once gives one decision
   * record per record read, so an extra one is a batch redone after its transaction committed.
   */
  redoneDecisions: number;
  /** Acknowledged event ids not the one on the topic. */
  eventIdMismatch: number;
  readModelRows: number;
  /** Rows (and the customer summaries, as one) that differ from the recomputation. */
  readModelMismatches: number;
  decisions: number;
}

export class FaultSystem {
  readonly databaseName = uniqueName('brokers');
  cluster!: KafkaCluster;
  registry!: PrivateRegistry;
  database!: TestDatabase;
  api!: Supervised;
  projection!: Supervised;
  readonly processors: Supervised[] = [];
  private admin: Admin | undefined;
  private pool: Pool | undefined;
  private common: Record<string, string> = {};
  readonly codec = () => new RegistryCodec({ registryUrl: this.registry.url });

  get services(): Supervised[] {
    return [this.api, ...this.processors, this.projection].filter(Boolean);
  }

  static async start({ brokers }: { brokers: 1 | 3 }): Promise<FaultSystem> {
    const system = new FaultSystem();
    try {
      await system.boot(brokers);
    } catch (error) {
      await system.stop();
      throw error;
    }
    return system;
  }

  private async boot(brokers: 1 | 3): Promise<void> {
    this.cluster = await startKafkaCluster({ brokers });
    step(`${brokers}-broker cluster up`);
    this.registry = await startPrivateRegistry({ bootstrap: this.cluster.bootstrap });
    step('registry up');
    this.database = await createTestDatabase('brokers');
    this.common = {
      KAFKA_BROKERS: this.cluster.bootstrap,
      SCHEMA_REGISTRY_URL: this.registry.url,
      // 3 brokers: the catalog's own durability (replication factor 3, min.insync.replicas 2).
      TOPIC_REPLICATION: brokers === 1 ? '1' : '',
      DATABASE_URL: this.database.url,
      SIGNING_KEY_ID: uniqueName('key'),
      SIGNING_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      SHUTDOWN_TIMEOUT_MS: '5000',
      SESSION_TIMEOUT_MS: '10000',
    };
    for (const args of [
      ['topics', 'apply', '--execute'],
      ['schemas', 'register', '--execute'],
    ]) {
      const result = await runCli(process.execPath, [tideline, ...args], {
        env: this.common,
        cwd: root,
        timeoutMs: 180_000,
      });
      if (result.code !== 0)
        throw new Error(`tideline ${args.join(' ')} exited ${result.code}: ${result.stdout}${result.stderr}`);
      step(`tideline ${args.join(' ')} done`);
    }
    // All four at once (a quarter of the start-up on a loaded machine): order-api only needs the
    // projection's address, which its port fixes before it runs.
    this.projection = new Supervised('order-projection', 'order-projection', await freePort(), {
      ...this.common,
      GROUP_ID: PROJECTION_GROUP,
    });
    this.api = new Supervised('order-api', 'order-api', await freePort(), {
      ...this.common,
      AUTH_DISABLED: 'true',
      PROJECTION_URL: `http://127.0.0.1:${this.projection.port}`,
    });
    for (const n of [1, 2]) {
      this.processors.push(
        new Supervised(`order-processor-${n}`, 'order-processor', await freePort(), {
          ...this.common,
          GROUP_ID: PROCESSOR_GROUP,
        }),
      );
    }
    await Promise.all(this.services.map((service) => service.start()));
    for (const [i, sku] of SKUS.entries()) {
      const response = await fetch(`${this.api.url}/catalog/products/${sku}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: sku, priceCents: 500 + i * 250, currency: 'EUR', active: true }),
      });
      if (response.status !== 202) throw new Error(`PUT product answered ${response.status}`);
    }
    step('services ready, products put');
    this.admin = this.cluster.kafka.admin();
    await this.admin.connect();
    this.pool = new Pool({ connectionString: this.database.url, max: 2 });
    this.pool.on('error', () => undefined);
  }

  /** The request body of order `i` of a load. */
  static body(i: number) {
    return {
      customerId: `customer-${i % CUSTOMERS}`,
      currency: 'EUR',
      items: [{ sku: SKUS[i % SKUS.length], quantity: 1 + (i % 3) }],
    };
  }

  /** The broker leading the most order-placed partitions and processor transaction coordinators. */
  async leaderToKill(): Promise<{ broker: number; orderLeaders: number; coordinators: number }> {
    const { topics } = await this.admin!.fetchTopicMetadata({
      topics: [orderPlacedTopic.name, '__transaction_state'],
    });
    const placed = topics.find((t) => t.name === orderPlacedTopic.name)!.partitions;
    const state = topics.find((t) => t.name === '__transaction_state')!.partitions;
    const score = new Map<number, { orderLeaders: number; coordinators: number }>();
    const entry = (id: number) =>
      score.get(id) ?? score.set(id, { orderLeaders: 0, coordinators: 0 }).get(id)!;
    for (const p of placed) entry(p.leader).orderLeaders += 1;
    // The runtime's transactional ids: `<group>-<topic>-<partition>` per input partition.
    for (const topic of [orderPlacedTopic.name, orderCancelledTopic.name]) {
      for (const p of placed) {
        const id = `${PROCESSOR_GROUP}-${topic}-${p.partitionId}`;
        const hash = javaHash(id);
        const slot = (hash === -2147483648 ? 0 : Math.abs(hash)) % state.length;
        entry(state.find((s) => s.partitionId === slot)!.leader).coordinators += 1;
      }
    }
    const [broker, counts] = [...score].sort(
      ([, a], [, b]) => b.orderLeaders + b.coordinators - (a.orderLeaders + a.coordinators),
    )[0]!;
    return { broker, ...counts };
  }

  private async lag(group: string): Promise<number | undefined> {
    try {
      const lag = await groupLag(this.admin!, group, { timeLag: false });
      return lag.partitions.reduce((sum, p) => sum + p.offsetLag, 0);
    } catch {
      return undefined;
    }
  }

  /** Waits until every acknowledged order is decided and projected, every group at lag 0, every service ready. */
  async caughtUp(load: LoadReport, timeoutMs = 90_000): Promise<number> {
    const started = Date.now();
    const acknowledged = load.acknowledged.length;
    await eventually(
      `all ${acknowledged} acknowledged orders decided and projected, every group at lag 0, every service ready`,
      async () => {
        const { rows } = await this.pool!.query<{ decided: string }>(
          `SELECT count(*) FILTER (WHERE status IN ('confirmed', 'rejected')) AS decided FROM order_projection.orders`,
        );
        if (Number(rows[0]?.decided ?? 0) < acknowledged) return undefined;
        for (const group of GROUPS) if ((await this.lag(group)) !== 0) return undefined;
        for (const service of this.services) if (!(await service.ready())) return undefined;
        return true;
      },
      { timeoutMs, intervalMs: 1_000 },
    );
    return Date.now() - started;
  }

  private async records(topic: string): Promise<ReadRecord[]> {
    const records: ReadRecord[] = [];
    await readTopic({
      kafka: this.cluster.kafka,
      topic,
      groupPrefix: 'faults-check',
      onRecord: (r) => void records.push({ ...r, timestamp: String(r.timestamp) }),
    });
    return records;
  }

  /** The exact counts from the topics and the read model; asserts the read model equals a recomputation. */
  async verdict(load: LoadReport): Promise<Verdict> {
    const byTopic = new Map<string, ReadRecord[]>();
    for (const topic of projectedTopics.map((t) => t.name)) byTopic.set(topic, await this.records(topic));
    const eventsByKey = (topic: string) => {
      const map = new Map<string, string[]>();
      for (const r of byTopic.get(topic) ?? []) {
        const key = r.key?.toString() ?? '';
        map.set(key, [...(map.get(key) ?? []), r.headers[HEADER.eventId] ?? '']);
      }
      return map;
    };
    const placed = eventsByKey(orderPlacedTopic.name);
    const confirmed = eventsByKey(orderConfirmedTopic.name);
    const rejected = eventsByKey(orderRejectedTopic.name);
    const decisionRecords = (id: string) => [...(confirmed.get(id) ?? []), ...(rejected.get(id) ?? [])];
    const decisions = (id: string) => new Set(decisionRecords(id)).size;

    const { rows } = await this.pool!.query<{ order_id: string; view: OrderView }>(
      'SELECT order_id, view FROM order_projection.orders',
    );
    const acked = load.acknowledged.map((o) => o.acknowledged!);
    const ackedIds = new Set(acked.map((a) => a.orderId));
    const projected = new Set(rows.map((r) => r.order_id));

    // The read model equals a fold of every record on the projected topics (all of them ours).
    const views = await foldOrders([...byTopic.values()].flat(), this.codec());
    const same = (a: unknown, b: unknown) =>
      isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
    let readModelMismatches = Math.abs(rows.length - views.size);
    for (const row of rows) if (!same(row.view, views.get(row.order_id))) readModelMismatches += 1;
    const { rows: summaries } = await this.pool!.query<{
      customer_id: string;
      confirmed: number;
      pending: number;
    }>(
      `SELECT customer_id, confirmed, pending FROM order_projection.customer_summaries ORDER BY customer_id`,
    );
    const customers = [...new Set([...views.values()].map((v) => v.customerId!))].sort();
    const expected = customers.map((c) => summarize(c, views.values()));
    if (
      !same(
        summaries.map((s) => [s.customer_id, s.confirmed, s.pending]),
        expected.map((e) => [e.customerId, e.counts.confirmed, e.counts.pending]),
      )
    )
      readModelMismatches += 1;

    return {
      acknowledged: acked.length,
      lostPlaced: acked.filter((a) => !placed.has(a.orderId)).length,
      lostDecided: acked.filter((a) => decisions(a.orderId) === 0).length,
      lostProjected: acked.filter((a) => !projected.has(a.orderId)).length,
      extraOrders: [...placed.keys()].filter((id) => !ackedIds.has(id)).length,
      duplicateOrderEvents: [...placed.values()].filter((ids) => new Set(ids).size > 1).length,
      placedCopies: [...placed.values()].reduce((n, ids) => n + ids.length - new Set(ids).size, 0),
      duplicateDecisions: [...placed.keys()].filter((id) => decisions(id) > 1).length,
      redoneDecisions: [...placed].filter(([id, ids]) => decisionRecords(id).length > ids.length).length,
      eventIdMismatch: acked.filter((a) => placed.get(a.orderId)?.some((id) => id !== a.eventId)).length,
      readModelRows: rows.length,
      readModelMismatches,
      decisions: [...confirmed.values(), ...rejected.values()].reduce((n, ids) => n + ids.length, 0),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop().catch(() => undefined)));
    await this.pool?.end().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    await this.registry?.stop().catch(() => undefined);
    await this.cluster?.stop().catch(() => undefined);
    await this.database?.drop().catch(() => undefined);
  }
}

/**
 * Options of the load driver that log, every 10 s, how many attempts failed and why, and the
 * load's promise raced against a deadline that fails with the services' last output.
 */
export function watchLoad(system: FaultSystem): {
  onRetry: (order: DrivenOrder, reason: string) => void;
  within: (loading: Promise<LoadReport>, timeoutMs: number) => Promise<LoadReport>;
} {
  let reasons: Record<string, number> = {};
  const timer = setInterval(() => {
    if (Object.keys(reasons).length > 0) step(`failed attempts in the last 10 s: ${JSON.stringify(reasons)}`);
    reasons = {};
  }, 10_000);
  return {
    onRetry: (_order, reason) => {
      const key = reason.split(':')[0]!;
      reasons[key] = (reasons[key] ?? 0) + 1;
    },
    within: async (loading, timeoutMs) => {
      let deadline: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          loading,
          new Promise<never>((_, reject) => {
            deadline = setTimeout(() => {
              const outputs = system.services
                .map((s) => `--- ${s.name}\n${s.process.output().slice(-3000)}`)
                .join('\n');
              reject(new Error(`the load did not finish within ${timeoutMs} ms\n${outputs}`));
            }, timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(deadline);
        clearInterval(timer);
      }
    },
  };
}

/** Every exact count a broker scenario promises. */
export function expectNothingLostOrTwice(verdict: Verdict, load: LoadReport): void {
  expect({
    givenUp: load.failed.length,
    lostPlaced: verdict.lostPlaced,
    lostDecided: verdict.lostDecided,
    lostProjected: verdict.lostProjected,
    extraOrders: verdict.extraOrders,
    duplicateOrderEvents: verdict.duplicateOrderEvents,
    duplicateDecisions: verdict.duplicateDecisions,
    redoneDecisions: verdict.redoneDecisions,
    eventIdMismatch: verdict.eventIdMismatch,
    readModelMismatches: verdict.readModelMismatches,
  }).toEqual({
    givenUp: 0,
    lostPlaced: 0,
    lostDecided: 0,
    lostProjected: 0,
    extraOrders: 0,
    duplicateOrderEvents: 0,
    duplicateDecisions: 0,
    redoneDecisions: 0,
    eventIdMismatch: 0,
    readModelMismatches: 0,
  });
}
