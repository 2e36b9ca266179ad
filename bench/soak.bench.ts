// npm run bench:soak [-- --minutes 10 --rate 20 --interval 30]: the whole system at a steady order
// rate for a bounded time, on infrastructure of its own (a 3-broker KRaft cluster, an Apicurio
// registry and a PostgreSQL cluster from the fault toolkit), with faults on a schedule: kill -9 of
// a processor (restarted), of a broker (restarted), of the registry (restarted), and a blackhole of
// order-projection's PostgreSQL connection. Every interval: RSS of every service, each group's
// lag, orders placed / decided / projected; at the end, lost and duplicated counts from the topics
// and the read model, and a summary table. Not part of npm test; results in docs/benchmarks.md.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  orderCancelledTopic,
  orderConfirmedTopic,
  orderPlacedTopic,
  orderRejectedTopic,
} from '@tideline/contracts';
import { groupLag, readTopic, type Admin } from '@tideline/messaging';
import {
  driveOrders,
  eventually,
  freePort,
  runCli,
  startKafkaCluster,
  startPrivatePostgres,
  startPrivateRegistry,
  startTcpProxy,
  type KafkaCluster,
  type LoadReport,
  type PrivatePostgres,
  type PrivateRegistry,
  type TcpFaultProxy,
} from '@tideline/testing';
import { Client } from 'pg';
import { commandLine, parseFlags } from './flags';
import {
  killChildrenNow,
  serviceEntry,
  startProcess,
  stopAllChildren,
  type BenchProcess,
} from './orders-stack';

interface Options {
  minutes: number;
  rate: number;
  interval: number;
}

const USAGE = `usage: npm run bench:soak [-- --minutes N] [--rate R] [--interval S]
  --minutes N    how long orders are sent (default 10)
  --rate R       orders per second (default 20)
  --interval S   seconds between two report lines (default 30)
`;

const root = path.resolve(__dirname, '..');
const tideline = path.join(root, 'apps', 'ops', 'bin', 'tideline.cjs');
const GROUPS = ['order-processor', 'order-projection', 'sales-projection'] as const;
const SKUS = ['SOAK-BEANS', 'SOAK-MUG', 'SOAK-FILTER'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string) => process.stdout.write(`${line}\n`);

/** A service as the soak runs it: restartable with the same port and environment. */
interface Service {
  name: string;
  app: string;
  port: number;
  env: Record<string, string>;
  process: BenchProcess;
}

function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined; // the process is down (killed on schedule)
  }
}

async function start(
  app: string,
  name: string,
  env: Record<string, string>,
  port?: number,
): Promise<Service> {
  const chosen = port ?? (await freePort());
  return {
    name,
    app,
    port: chosen,
    env,
    process: await startProcess(name, serviceEntry(app), { port: chosen, env }),
  };
}

async function restart(service: Service): Promise<void> {
  service.process = await startProcess(service.name, serviceEntry(service.app), {
    port: service.port,
    env: service.env,
  });
}

async function tl(args: string[], env: Record<string, string>): Promise<void> {
  const result = await runCli(process.execPath, [tideline, ...args], { env, cwd: root, timeoutMs: 300_000 });
  if (result.code !== 0)
    throw new Error(`tideline ${args.join(' ')} exited ${result.code}: ${result.stdout}${result.stderr}`);
}

interface Sample {
  seconds: number;
  rss: Record<string, number | undefined>;
  lag: Record<string, number | undefined>;
  placed: number | undefined;
  decided: number | undefined;
  projected: number | undefined;
  faults: string;
}

async function placedRecords(admin: Admin): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(orderPlacedTopic.name);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

async function totalLag(admin: Admin, group: string): Promise<number | undefined> {
  try {
    const lag = await groupLag(admin, group, { timeLag: false });
    return lag.partitions.reduce((sum, p) => sum + p.offsetLag, 0);
  } catch {
    return undefined; // the group is rebalancing or a broker is down
  }
}

async function readModelCounts(pg: Client): Promise<{ decided: number; projected: number }> {
  const { rows } = await pg.query<{ decided: string; projected: string }>(
    `SELECT count(*) FILTER (WHERE status IN ('confirmed', 'rejected')) AS decided, count(*) AS projected FROM order_projection.orders`,
  );
  return { decided: Number(rows[0]?.decided ?? 0), projected: Number(rows[0]?.projected ?? 0) };
}

/** Every record's key → the event ids it carries, over a whole topic (committed records). */
async function eventsByKey(cluster: KafkaCluster, topic: string): Promise<Map<string, string[]>> {
  const byKey = new Map<string, string[]>();
  await readTopic({
    kafka: cluster.kafka,
    topic,
    groupPrefix: 'soak-check',
    onRecord: (record) => {
      const key = record.key?.toString('utf8') ?? '';
      byKey.set(key, [...(byKey.get(key) ?? []), record.headers['ce_id'] ?? '']);
    },
  });
  return byKey;
}

function table(header: string[], rows: (string | number | undefined)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((c) => (c === undefined ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

async function main(options: Options): Promise<number> {
  const durationMs = options.minutes * 60_000;
  let cluster: KafkaCluster | undefined;
  let registry: PrivateRegistry | undefined;
  let postgres: PrivatePostgres | undefined;
  let proxy: TcpFaultProxy | undefined;
  let pg: Client | undefined;
  let admin: Admin | undefined;
  const setupStarted = Date.now();
  try {
    say('soak: starting a 3-broker Kafka cluster, a registry and PostgreSQL of its own');
    cluster = await startKafkaCluster({ brokers: 3 });
    registry = await startPrivateRegistry({ bootstrap: cluster.bootstrap });
    postgres = await startPrivatePostgres({ database: 'soak' });
    proxy = await startTcpProxy({ port: postgres.port });
    const throughProxy = new URL(postgres.url);
    throughProxy.port = String(proxy.port);

    const common: Record<string, string> = {
      KAFKA_BROKERS: cluster.bootstrap,
      SCHEMA_REGISTRY_URL: registry.url,
      // The catalog's own durability on 3 brokers: replication factor 3, min.insync.replicas 2.
      TOPIC_REPLICATION: '',
      SIGNING_KEY_ID: 'soak',
      SIGNING_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      SHUTDOWN_TIMEOUT_MS: '5000',
    };
    await tl(['topics', 'apply', '--execute'], common);
    await tl(['schemas', 'register', '--execute'], common);

    const projection = await start('order-projection', 'order-projection', {
      ...common,
      DATABASE_URL: throughProxy.toString(),
      GROUP_ID: 'order-projection',
    });
    const api = await start('order-api', 'order-api', {
      ...common,
      DATABASE_URL: postgres.url,
      AUTH_DISABLED: 'true',
      PROJECTION_URL: projection.process.url,
    });
    const processors = [
      await start('order-processor', 'processor-1', { ...common, GROUP_ID: 'order-processor' }),
      await start('order-processor', 'processor-2', { ...common, GROUP_ID: 'order-processor' }),
    ];
    const sales = await start('sales-projection', 'sales-projection', {
      ...common,
      DATABASE_URL: postgres.url,
      GROUP_ID: 'sales-projection',
    });
    const services = [api, ...processors, projection, sales];
    for (const [i, sku] of SKUS.entries()) {
      const response = await fetch(`${api.process.url}/catalog/products/${sku}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: sku, priceCents: 500 + i * 250, currency: 'EUR', active: true }),
      });
      if (response.status !== 202) throw new Error(`PUT product answered ${response.status}`);
    }
    admin = cluster.kafka.admin();
    await admin.connect();
    pg = new Client({ connectionString: postgres.url });
    await pg.connect();
    say(
      `soak: everything ready in ${Math.round((Date.now() - setupStarted) / 1000)} s; ${options.rate} orders/s for ${options.minutes} min`,
    );

    // The fault schedule, at fixed fractions of the run.
    const faults: { at: number; fault: string; recoveredAt?: number }[] = [];
    const active = new Set<string>();
    const started = Date.now();
    const inject = async (
      fraction: number,
      fault: string,
      act: () => Promise<void>,
      heal: () => Promise<void>,
      holdMs: number,
    ) => {
      await sleep(Math.max(0, started + fraction * durationMs - Date.now()));
      const entry: { at: number; fault: string; recoveredAt?: number } = { at: Date.now() - started, fault };
      faults.push(entry);
      active.add(fault);
      say(`soak: ${Math.round(entry.at / 1000)} s: ${fault}`);
      await act();
      await sleep(holdMs);
      await heal();
      entry.recoveredAt = Date.now() - started;
      active.delete(fault);
      say(`soak: ${Math.round(entry.recoveredAt / 1000)} s: ${fault}: recovered`);
    };
    const victim = processors[0]!;
    const schedule = (async () => {
      await inject(
        0.15,
        'kill -9 processor-1',
        () => Promise.resolve(void victim.process.child.kill('SIGKILL')),
        () => restart(victim),
        10_000,
      );
      await inject(
        0.35,
        'kill -9 broker 2',
        () => cluster!.kill9(2),
        () => cluster!.restart(2),
        20_000,
      );
      await inject(
        0.55,
        'kill -9 registry',
        () => registry!.kill9(),
        () => registry!.restart(),
        10_000,
      );
      await inject(
        0.75,
        "blackhole order-projection's PostgreSQL",
        () => proxy!.blackhole(),
        () => proxy!.recover(),
        20_000,
      );
    })();

    const samples: Sample[] = [];
    let driving = true;
    const sample = async () => {
      const counts = await readModelCounts(pg!).catch(() => ({ decided: undefined, projected: undefined }));
      const row: Sample = {
        seconds: Math.round((Date.now() - started) / 1000),
        rss: Object.fromEntries(services.map((s) => [s.name, rssMiB(s.process.child.pid)])),
        lag: Object.fromEntries(
          await Promise.all(GROUPS.map(async (g) => [g, await totalLag(admin!, g)] as const)),
        ),
        placed: await placedRecords(admin!).catch(() => undefined),
        ...counts,
        faults: [...active].join(', '),
      };
      samples.push(row);
      say(
        `soak: ${row.seconds} s placed ${row.placed} decided ${row.decided} projected ${row.projected} lag ${GROUPS.map((g) => `${g}=${row.lag[g] ?? '-'}`).join(' ')} rss MiB ${services.map((s) => `${s.name}=${row.rss[s.name] ?? '-'}`).join(' ')}${row.faults ? ` [${row.faults}]` : ''}`,
      );
    };
    const sampler = (async () => {
      while (driving) {
        await sleep(options.interval * 1000);
        await sample();
      }
    })();

    const load: LoadReport = await driveOrders({
      url: api.process.url,
      rate: options.rate,
      count: Math.ceil((options.rate * durationMs) / 1000),
      maxDurationMs: durationMs,
      body: (i) => ({
        customerId: `soak-customer-${i % 50}`,
        currency: 'EUR',
        items: [{ sku: SKUS[i % SKUS.length], quantity: 1 + (i % 3) }],
      }),
      requestTimeoutMs: 10_000,
      giveUpAfterMs: 180_000,
      maxAttempts: 100,
    });
    await schedule;
    const acknowledged = load.acknowledged.map((o) => o.acknowledged!.orderId);
    say(
      `soak: load done: ${acknowledged.length} acknowledged, ${load.failed.length} given up, ${load.retries} retries`,
    );

    // Catch up: every acknowledged order decided and projected, every group at lag 0.
    const catchUpStarted = Date.now();
    await eventually(
      'every acknowledged order decided and projected, every group caught up',
      async () => {
        const counts = await readModelCounts(pg!);
        const lags = await Promise.all(GROUPS.map((g) => totalLag(admin!, g)));
        return counts.decided >= acknowledged.length && lags.every((l) => l === 0) ? true : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 2000 },
    ).catch((error: unknown) => say(`soak: ${(error as Error).message}`));
    const catchUpMs = Date.now() - catchUpStarted;
    driving = false;
    await sampler;
    await sample();

    // The exact counts, from the topics and the read model.
    const placed = await eventsByKey(cluster, orderPlacedTopic.name);
    const confirmed = await eventsByKey(cluster, orderConfirmedTopic.name);
    const rejected = await eventsByKey(cluster, orderRejectedTopic.name);
    await eventsByKey(cluster, orderCancelledTopic.name);
    const { rows } = await pg.query<{ order_id: string; status: string }>(
      'SELECT order_id, status FROM order_projection.orders',
    );
    const status = new Map(rows.map((r) => [r.order_id, r.status]));
    // Distinct event ids: a copy of an OrderPlaced republished on its Idempotency-Key after an
    // ambiguous timeout is the same event, and its decision carries the same derived event id.
    const decisions = (id: string) =>
      new Set([...(confirmed.get(id) ?? []), ...(rejected.get(id) ?? [])]).size;
    const lostPlaced = acknowledged.filter((id) => !placed.has(id)).length;
    const lostDecision = acknowledged.filter((id) => decisions(id) === 0).length;
    const lostProjected = acknowledged.filter((id) => !status.has(id)).length;
    const duplicateOrders = [...placed.values()].filter((ids) => new Set(ids).size > 1).length;
    const duplicateDecisions = [...placed.keys()].filter((id) => decisions(id) > 1).length;
    const mismatched = [...placed.keys()].filter((id) => {
      const expected = confirmed.has(id) ? 'confirmed' : rejected.has(id) ? 'rejected' : undefined;
      return expected !== undefined && status.get(id) !== expected;
    }).length;
    // Orders in the log whose id the client never got: an attempt that timed out but was written,
    // whose retry on the same Idempotency-Key minted another order. A duplicate for the customer.
    const acknowledgedIds = new Set(acknowledged);
    const extraOrders = [...placed.keys()].filter((id) => !acknowledgedIds.has(id)).length;

    say('\nsoak: every interval');
    say(
      table(
        [
          's',
          'placed',
          'decided',
          'projected',
          ...GROUPS.map((g) => `lag ${g}`),
          ...services.map((s) => `RSS ${s.name} MiB`),
          'fault',
        ],
        samples.map((r) => [
          r.seconds,
          r.placed,
          r.decided,
          r.projected,
          ...GROUPS.map((g) => r.lag[g]),
          ...services.map((s) => r.rss[s.name]),
          r.faults,
        ]),
      ),
    );
    say('\nsoak: faults');
    say(
      table(
        ['fault', 'at s', 'recovered at s'],
        faults.map((f) => [
          f.fault,
          Math.round(f.at / 1000),
          f.recoveredAt === undefined ? undefined : Math.round(f.recoveredAt / 1000),
        ]),
      ),
    );
    say('\nsoak: summary');
    say(
      table(
        ['measure', 'value'],
        [
          ['orders sent', load.orders.length],
          ['acknowledged (202)', acknowledged.length],
          ['given up by the client', load.failed.length],
          ['client retries (same Idempotency-Key)', load.retries],
          ['client errors by cause', JSON.stringify(load.errors)],
          [
            '202 latency p50 / p99 / max ms',
            `${load.latency.p50} / ${load.latency.p99} / ${load.latency.max}`,
          ],
          ['acknowledged, not in orders.order-placed.v1', lostPlaced],
          ['acknowledged, no decision', lostDecision],
          ['acknowledged, not in the read model', lostProjected],
          ['orders with more than one OrderPlaced event id', duplicateOrders],
          ['orders with more than one decision', duplicateDecisions],
          ['read model status different from the topics', mismatched],
          ['orders written but never acknowledged (extra orders for the customer)', extraOrders],
          ['catch-up after the load and the last fault, s', Math.round(catchUpMs / 1000)],
          [
            'services that exited unasked',
            services
              .filter((s) => s.process.child.exitCode !== null)
              .map((s) => s.name)
              .join(', ') || 'none',
          ],
        ],
      ),
    );
    return lostPlaced + lostDecision + lostProjected + duplicateOrders + duplicateDecisions + mismatched > 0
      ? 1
      : 0;
  } finally {
    await pg?.end().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await stopAllChildren();
    await proxy?.close().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    await registry?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  }
}

const parsed = commandLine(
  'bench:soak',
  (argv) =>
    parseFlags<Options>(
      argv,
      { minutes: 10, rate: 20, interval: 30 },
      {
        integers: {
          '--minutes': ['minutes', 1, 24 * 60],
          '--rate': ['rate', 1, 2000],
          '--interval': ['interval', 5, 3600],
        },
        other: (flag) => (flag === '--help' || flag === '-h' ? 'help' : false),
      },
    ),
  USAGE,
);
process.on('exit', killChildrenNow);
if (typeof parsed === 'number') process.exitCode = parsed;
else
  main(parsed).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`bench:soak: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
