// Latency phase of the orders benchmark: open-loop POST /orders at a fixed arrival rate, and
// the time until each order's `pending` and `confirmed` changes arrive on an SSE stream of
// order-projection opened before the run. Latency counts from the *scheduled* send time
// (coordinated-omission safe). Stage timings come from timestamps the services put in the
// events (placedAt, confirmedAt), the projection's change feed (created_at = the start of the
// projection transaction that applied the event) and a Kafka consumer that notes when each
// OrderPlaced / OrderConfirmed becomes readable (read committed).
import http from 'node:http';
import os from 'node:os';
import { orderConfirmedTopic, orderPlacedTopic } from '@tideline/contracts';
import { FEED_TABLE } from '@tideline/projections';
import { createKafka } from '@tideline/messaging';
import { testInfra, uniqueName } from '@tideline/testing';
import { Pool as PgPool } from 'pg';
import { Pool as HttpPool } from 'undici';
import { CpuMeter, type CpuUse } from './orders-cpu';
import { Latencies, type LatencySummary } from './orders-histogram';

/** What the benchmark reads from an SSE `order-changed` event. */
interface Change {
  orderId: string;
  status: string;
  eventType: string;
  /** ISO time of the event: placedAt (order-api) or confirmedAt / rejectedAt (order-processor). */
  at: string;
}

/** A live `text/event-stream` connection that hands each `order-changed` event to a callback with its arrival time. */
export class SseTap {
  events = 0;
  bytes = 0;
  /** Control messages (reset, dropped, …) the server sent instead of changes. */
  readonly controls: string[] = [];
  ended: string | undefined;
  onChange: (change: Change, arrivedAt: number) => void = () => undefined;
  private request: http.ClientRequest | undefined;

  static open(url: string): Promise<SseTap> {
    const tap = new SseTap();
    return new Promise((resolve, reject) => {
      const request = http.get(
        url,
        { agent: false, headers: { accept: 'text/event-stream' } },
        (response) => {
          if (response.statusCode !== 200) {
            response.resume();
            reject(new Error(`GET ${url} answered ${response.statusCode}`));
            return;
          }
          response.setEncoding('utf8');
          let buffer = '';
          response.on('data', (chunk: string) => {
            const arrivedAt = performance.now();
            tap.bytes += chunk.length;
            buffer += chunk;
            let start = 0;
            for (;;) {
              const end = buffer.indexOf('\n\n', start);
              if (end < 0) break;
              tap.block(buffer.slice(start, end), arrivedAt);
              start = end + 2;
            }
            buffer = buffer.slice(start);
          });
          response.once('close', () => (tap.ended ??= 'the server closed the stream'));
          resolve(tap);
        },
      );
      request.once('error', (error) => {
        tap.ended ??= error.message;
        reject(error);
      });
      tap.request = request;
    });
  }

  close(): void {
    this.ended ??= 'closed by the benchmark';
    this.request?.destroy();
  }

  private block(block: string, arrivedAt: number): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data = line.slice(6);
    }
    if (data === '') return;
    if (event !== 'order-changed') {
      this.controls.push(`${event}: ${data.slice(0, 200)}`);
      return;
    }
    this.events += 1;
    const change = JSON.parse(data) as Change;
    this.onChange(change, arrivedAt);
  }
}

/** When each OrderPlaced / OrderConfirmed became readable from Kafka (read committed), by order id. */
export class KafkaProbe {
  readonly groupId = uniqueName('bench-orders-probe');
  onRecord: (topic: string, orderId: string, arrivedAt: number) => void = () => undefined;
  private readonly kafka = createKafka({
    brokers: testInfra().kafkaBrokers,
    clientId: uniqueName('bench-orders-probe'),
  });
  private readonly consumer = this.kafka.consumer({
    groupId: this.groupId,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
  });
  private stopped = false;

  /** Joins (at the end of both topics) and resolves once the group is joined. */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [orderPlacedTopic.name, orderConfirmedTopic.name],
      fromBeginning: false,
    });
    const joined = new Promise<void>((resolve) =>
      this.consumer.on(this.consumer.events.GROUP_JOIN, () => resolve()),
    );
    await this.consumer.run({
      eachBatch: ({ batch }) => {
        const arrivedAt = performance.now();
        for (const message of batch.messages) {
          if (message.key) this.onRecord(batch.topic, message.key.toString(), arrivedAt);
        }
        return Promise.resolve();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      joined,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the Kafka probe did not join its group in 30 s')), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer.disconnect().catch(() => undefined);
    const admin = this.kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([this.groupId]))
      .catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

/** One order the generator scheduled. */
interface Sent {
  index: number;
  measured: boolean;
  /** performance.now() of the scheduled send. */
  scheduled: number;
  /** performance.now() when the request was handed to the HTTP client. */
  dispatched: number;
  /** performance.now() when the 202 body was read. */
  accepted?: number;
  orderId?: string;
  error?: string;
}

/** What was seen of one order id (possibly before its 202 arrived). */
interface Seen {
  sent?: Sent;
  pending?: number;
  confirmed?: number;
  /** rejected / cancelled. */
  otherStatus?: string;
  placedAtWall?: number;
  decidedAtWall?: number;
  kafkaPlaced?: number;
  kafkaConfirmed?: number;
  feedPendingWall?: number;
  feedConfirmedWall?: number;
}

export interface StageRow {
  stage: string;
  summary: LatencySummary | undefined;
  /** Mean of this stage over the slowest 1 % of orders (by the path's end-to-end latency). */
  tailMean: number | undefined;
}

export interface LatencyResult {
  rate: number;
  warmupS: number;
  durationS: number;
  /** Measured orders scheduled (warm-up excluded). */
  scheduled: number;
  sent: number;
  accepted: number;
  errors: Record<string, number>;
  pendingSeen: number;
  confirmedSeen: number;
  otherStatus: Record<string, number>;
  /** Orders whose OrderConfirmed reached the stream before their OrderPlaced (the projection applied them out of order). */
  confirmedFirst: number;
  /** Accepted measured orders whose confirmed change did not arrive before the drain deadline. */
  unconfirmed: number;
  /** Measured requests per second as actually dispatched. */
  achievedRate: number;
  http: LatencySummary | undefined;
  pending: LatencySummary | undefined;
  confirmed: LatencySummary | undefined;
  /** How late the generator dispatched requests after their scheduled time. */
  sendLag: LatencySummary | undefined;
  pendingStages: StageRow[];
  confirmedStages: StageRow[];
  projection: { records: number; batches: number } | undefined;
  loadAverage: { start: number; end: number; max: number };
  sse: { events: number; controls: string[]; ended: string | undefined };
  drainSeconds: number;
  /** Cores used while the orders were sent (warm-up and measured seconds). */
  cpu: CpuUse | undefined;
}

export interface LatencySettings {
  rate: number;
  warmupS: number;
  durationS: number;
  customers: string[];
  sku: string;
  /** Longest wait after the last send for the last confirmations. */
  drainS: number;
}

export interface LatencyDeps {
  api: HttpPool;
  tap: SseTap;
  probe: KafkaProbe | undefined;
  database: PgPool;
  projectionGroup: string;
  projectionUrl: string;
  progress: (line: string) => void;
  cpu: CpuMeter;
  /** Set when the run must stop (Ctrl-C). */
  aborted: () => boolean;
}

const orderBody = (customerId: string, sku: string, quantity: number) =>
  JSON.stringify({ customerId, currency: 'EUR', items: [{ sku, quantity }] });

/** POSTs one order; resolves with its id (or throws with the status and body). */
export async function placeOrder(api: HttpPool, customerId: string, sku: string): Promise<string> {
  const response = await api.request({
    method: 'POST',
    path: '/orders',
    headers: { 'content-type': 'application/json' },
    body: orderBody(customerId, sku, 1),
  });
  const text = await response.body.text();
  if (response.statusCode !== 202) throw new Error(`POST /orders answered ${response.statusCode}: ${text}`);
  return (JSON.parse(text) as { orderId: string }).orderId;
}

async function projectionCounts(url: string): Promise<{ applied: number; batches: number } | undefined> {
  try {
    const response = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(5_000) });
    const stats = (await response.json()) as { consumer?: { applied?: number; batches?: number } };
    return { applied: stats.consumer?.applied ?? 0, batches: stats.consumer?.batches ?? 0 };
  } catch {
    return undefined;
  }
}

/** The feed's highest seq of this projection (to read only the entries a run adds). */
export async function feedHead(database: PgPool, projection: string): Promise<number> {
  const { rows } = await database.query<{ seq: string | null }>(
    `SELECT max(seq) AS seq FROM ${FEED_TABLE} WHERE projection = $1`,
    [projection],
  );
  return Number(rows[0]?.seq ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One rate: warm-up, measured seconds, drain; every order timed from its scheduled send. */
export async function runRate(settings: LatencySettings, deps: LatencyDeps): Promise<LatencyResult> {
  const { rate, warmupS, durationS, customers, sku } = settings;
  const interval = 1000 / rate;
  const warmupCount = Math.round(warmupS * rate);
  const total = warmupCount + Math.round(durationS * rate);
  const byOrder = new Map<string, Seen>();
  const sent: Sent[] = [];
  const errors: Record<string, number> = {};
  const seen = (orderId: string): Seen => {
    let entry = byOrder.get(orderId);
    if (entry === undefined) {
      entry = {};
      byOrder.set(orderId, entry);
    }
    return entry;
  };
  let open = 0;
  let accepted = 0;
  let pendingSeen = 0;
  let confirmedSeen = 0;
  let finished = 0;
  const load = { start: os.loadavg()[0] ?? 0, end: 0, max: os.loadavg()[0] ?? 0 };

  // `pending` = the change of OrderPlaced being applied (its status is `confirmed` when the
  // projection applied the confirmation first); `confirmed` = OrderConfirmed applied.
  deps.tap.onChange = (change, arrivedAt) => {
    const entry = seen(change.orderId);
    const at = Date.parse(change.at);
    if (change.eventType === 'OrderPlaced') {
      if (entry.pending !== undefined) return;
      entry.pending = arrivedAt;
      entry.placedAtWall = at;
      if (entry.sent?.measured) pendingSeen += 1;
    } else if (change.eventType === 'OrderConfirmed') {
      if (entry.confirmed !== undefined) return;
      entry.confirmed = arrivedAt;
      entry.decidedAtWall = at;
      if (entry.sent?.measured) confirmedSeen += 1;
      if (entry.sent) finished += 1;
    } else if (entry.otherStatus === undefined) {
      entry.otherStatus = `${change.status} (${change.eventType})`;
      entry.decidedAtWall = at;
      if (entry.sent) finished += 1;
    }
  };
  if (deps.probe) {
    deps.probe.onRecord = (topic, orderId, arrivedAt) => {
      const entry = seen(orderId);
      if (topic === orderPlacedTopic.name) entry.kafkaPlaced ??= arrivedAt;
      else entry.kafkaConfirmed ??= arrivedAt;
    };
  }

  const before = await projectionCounts(deps.projectionUrl);
  const headBefore = await feedHead(deps.database, deps.projectionGroup);

  const send = (index: number, scheduled: number) => {
    const record: Sent = { index, measured: index >= warmupCount, scheduled, dispatched: performance.now() };
    sent.push(record);
    open += 1;
    const customer = customers[index % customers.length]!;
    deps.api
      .request({
        method: 'POST',
        path: '/orders',
        headers: { 'content-type': 'application/json' },
        body: orderBody(customer, sku, 1 + (index % 3)),
      })
      .then(async (response) => {
        const text = await response.body.text();
        const now = performance.now();
        if (response.statusCode !== 202) throw new Error(`HTTP ${response.statusCode}`);
        record.accepted = now;
        record.orderId = (JSON.parse(text) as { orderId: string }).orderId;
        accepted += 1;
        const entry = seen(record.orderId);
        entry.sent = record;
        if (record.measured) {
          if (entry.pending !== undefined) pendingSeen += 1;
          if (entry.confirmed !== undefined) confirmedSeen += 1;
        }
        if (entry.confirmed !== undefined || entry.otherStatus !== undefined) finished += 1;
      })
      .catch((error: unknown) => {
        const code = (error as { code?: string }).code ?? (error as Error).message;
        record.error = code;
        errors[code] = (errors[code] ?? 0) + 1;
      })
      .finally(() => {
        open -= 1;
      });
  };

  // Progress every 2 s (which part, elapsed / remaining, counts).
  const begin = performance.now() + 20;
  const endOfSends = begin + total * interval;
  let drainStart = 0;
  const report = () => {
    const now = performance.now();
    const elapsed = (now - begin) / 1000;
    const part =
      now < begin + warmupCount * interval
        ? `warm-up ${elapsed.toFixed(0)}/${warmupS} s`
        : now < endOfSends
          ? `measuring ${(elapsed - warmupS).toFixed(0)}/${durationS} s`
          : `draining ${((now - drainStart) / 1000).toFixed(0)}/${settings.drainS} s max`;
    const load1 = os.loadavg()[0] ?? 0;
    load.max = Math.max(load.max, load1);
    deps.progress(
      `[latency ${rate}/s] ${part}: sent ${sent.length}/${total}, 202 ${accepted}, in flight ${open}, errors ${Object.values(errors).reduce((a, b) => a + b, 0)}, SSE events ${deps.tap.events}, load ${load1.toFixed(2)}`,
    );
  };
  const ticker = setInterval(report, 2_000);

  // The open-loop schedule: request i is due at begin + i * interval, whatever happened to the others.
  const cpuStart = deps.cpu.snapshot();
  let cpuEnd: ReturnType<CpuMeter['snapshot']>;
  try {
    await new Promise<void>((resolve) => {
      let next = 0;
      const tick = () => {
        if (deps.aborted()) return resolve();
        const now = performance.now();
        while (next < total && begin + next * interval <= now) {
          send(next, begin + next * interval);
          next += 1;
        }
        if (next >= total) return resolve();
        setTimeout(tick, Math.max(0, Math.min(1, begin + next * interval - now)));
      };
      setTimeout(tick, Math.max(0, begin - performance.now()));
    });
    cpuEnd = deps.cpu.snapshot();

    // Drain: until every sent order is answered and every accepted one decided, or the deadline.
    drainStart = performance.now();
    const deadline = drainStart + settings.drainS * 1000;
    while (performance.now() < deadline && !deps.aborted()) {
      if (open === 0 && finished >= accepted) break;
      await sleep(50);
    }
  } finally {
    clearInterval(ticker);
  }
  const drainSeconds = (performance.now() - drainStart) / 1000;
  report();
  load.end = os.loadavg()[0] ?? 0;
  load.max = Math.max(load.max, load.end);

  // The projection transactions' start times (the feed's created_at) of this run's changes.
  const { rows } = await deps.database.query<{ id: string; eventType: string; ms: number }>(
    `SELECT payload->>'orderId' AS id, payload->>'eventType' AS "eventType",
            (extract(epoch FROM created_at) * 1000)::float8 AS ms
     FROM ${FEED_TABLE} WHERE projection = $1 AND seq > $2`,
    [deps.projectionGroup, headBefore],
  );
  for (const row of rows) {
    const entry = byOrder.get(row.id);
    if (!entry) continue;
    if (row.eventType === 'OrderPlaced') entry.feedPendingWall ??= row.ms;
    else if (row.eventType === 'OrderConfirmed') entry.feedConfirmedWall ??= row.ms;
  }
  const after = await projectionCounts(deps.projectionUrl);

  // performance.now() → wall clock (ms since the epoch), to compare with the services' timestamps.
  const offset = Date.now() - performance.now();
  const wall = (t: number | undefined) => (t === undefined ? undefined : t + offset);
  const diff = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : a - b;

  const http = new Latencies();
  const pending = new Latencies();
  const confirmed = new Latencies();
  const sendLag = new Latencies();
  const measured = sent.filter((s) => s.measured);
  const otherStatus: Record<string, number> = {};
  let unconfirmed = 0;
  let confirmedFirst = 0;
  type Path = { total: number; stages: (number | undefined)[] };
  const pendingPaths: Path[] = [];
  const confirmedPaths: Path[] = [];
  const pendingStageNames = [
    'scheduled → handed to the HTTP client (generator lag)',
    'handed to the client → order-api handler (placedAt)',
    'handler → 202 read by the client',
    'handler → OrderPlaced readable in Kafka',
    'Kafka → projection transaction start (feed created_at)',
    'projection transaction start → SSE pending received',
  ];
  const confirmedStageNames = [
    'scheduled → OrderPlaced readable in Kafka',
    'Kafka OrderPlaced → processor decided (confirmedAt)',
    'decided → OrderConfirmed readable in Kafka (transaction commit)',
    'Kafka OrderConfirmed → projection transaction start',
    'projection transaction start → SSE confirmed received',
  ];
  for (const s of measured) {
    sendLag.record(s.dispatched - s.scheduled);
    if (s.accepted === undefined || s.orderId === undefined) continue;
    http.record(s.accepted - s.scheduled);
    const entry = byOrder.get(s.orderId)!;
    if (entry.otherStatus !== undefined)
      otherStatus[entry.otherStatus] = (otherStatus[entry.otherStatus] ?? 0) + 1;
    if (entry.pending !== undefined && entry.confirmed !== undefined && entry.confirmed < entry.pending)
      confirmedFirst += 1;
    if (entry.pending !== undefined) {
      pending.record(entry.pending - s.scheduled);
      pendingPaths.push({
        total: entry.pending - s.scheduled,
        stages: [
          s.dispatched - s.scheduled,
          diff(entry.placedAtWall, wall(s.dispatched)),
          diff(wall(s.accepted), entry.placedAtWall),
          diff(wall(entry.kafkaPlaced), entry.placedAtWall),
          diff(entry.feedPendingWall, wall(entry.kafkaPlaced)),
          diff(wall(entry.pending), entry.feedPendingWall),
        ],
      });
    }
    if (entry.confirmed !== undefined) {
      confirmed.record(entry.confirmed - s.scheduled);
      confirmedPaths.push({
        total: entry.confirmed - s.scheduled,
        stages: [
          diff(entry.kafkaPlaced, s.scheduled),
          diff(entry.decidedAtWall, wall(entry.kafkaPlaced)),
          diff(wall(entry.kafkaConfirmed), entry.decidedAtWall),
          diff(entry.feedConfirmedWall, wall(entry.kafkaConfirmed)),
          diff(wall(entry.confirmed), entry.feedConfirmedWall),
        ],
      });
    } else if (entry.otherStatus === undefined) {
      unconfirmed += 1;
    }
  }

  const stageRows = (names: string[], paths: Path[]): StageRow[] => {
    const slowest = [...paths]
      .sort((a, b) => b.total - a.total)
      .slice(0, Math.max(1, Math.ceil(paths.length / 100)));
    return names.map((stage, i) => {
      const histogram = new Latencies();
      for (const path of paths) {
        const value = path.stages[i];
        if (value !== undefined) histogram.record(value);
      }
      const tail = slowest
        .map((p) => p.stages[i])
        .filter((v): v is number => v !== undefined)
        .map((v) => Math.max(0, v));
      return {
        stage,
        summary: histogram.summary(),
        tailMean: tail.length === 0 ? undefined : tail.reduce((a, b) => a + b, 0) / tail.length,
      };
    });
  };

  const dispatchedMeasured = measured.map((s) => s.dispatched);
  const span =
    dispatchedMeasured.length > 1
      ? (dispatchedMeasured[dispatchedMeasured.length - 1]! - dispatchedMeasured[0]!) / 1000
      : durationS;
  return {
    rate,
    warmupS,
    durationS,
    scheduled: total - warmupCount,
    sent: measured.length,
    accepted: measured.filter((s) => s.accepted !== undefined).length,
    errors,
    pendingSeen,
    confirmedSeen,
    otherStatus,
    confirmedFirst,
    unconfirmed,
    achievedRate: span > 0 ? (measured.length - 1) / span : 0,
    http: http.summary(),
    pending: pending.summary(),
    confirmed: confirmed.summary(),
    sendLag: sendLag.summary(),
    pendingStages: stageRows(pendingStageNames, pendingPaths),
    confirmedStages: stageRows(confirmedStageNames, confirmedPaths),
    projection:
      before && after
        ? { records: after.applied - before.applied, batches: after.batches - before.batches }
        : undefined,
    loadAverage: load,
    sse: { events: deps.tap.events, controls: [...deps.tap.controls], ended: deps.tap.ended },
    drainSeconds,
    cpu: CpuMeter.between(cpuStart, cpuEnd),
  };
}

/**
 * Puts the product and places orders until one is confirmed on the stream (the processors'
 * catalog has it, every service is warm): up to `timeoutMs`.
 */
export async function waitForFirstConfirmation(
  deps: LatencyDeps,
  sku: string,
  apiUrl: string,
  timeoutMs = 90_000,
): Promise<number> {
  const response = await fetch(`${apiUrl}/catalog/products/${sku}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bench widget', priceCents: 1999, currency: 'EUR', active: true }),
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 202)
    throw new Error(`PUT product answered ${response.status}: ${await response.text()}`);
  const statuses = new Map<string, string>();
  deps.tap.onChange = (change) => {
    if (change.status !== 'pending') statuses.set(change.orderId, change.status);
  };
  const start = performance.now();
  let attempts = 0;
  while (performance.now() - start < timeoutMs && !deps.aborted()) {
    attempts += 1;
    const orderId = await placeOrder(deps.api, 'bench-first-order', sku);
    const sentAt = performance.now();
    while (performance.now() - sentAt < 15_000 && !statuses.has(orderId) && !deps.aborted()) await sleep(20);
    const status = statuses.get(orderId);
    if (status === 'confirmed') return performance.now() - start;
    deps.progress(
      `first order ${orderId}: ${status ?? 'no decision in 15 s'}; trying again (attempt ${attempts})`,
    );
    await sleep(1_000);
  }
  throw new Error(`no order was confirmed within ${timeoutMs / 1000} s`);
}
