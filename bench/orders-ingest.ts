// Ingest phase of the orders benchmark: the same closed-loop load (autocannon, N connections,
// one request in flight each) against order-api's POST /orders, a fastify no-op route and a
// naive one-awaited-send service.
import autocannon from 'autocannon';
import os from 'node:os';
import { CpuMeter, type CpuUse } from './orders-cpu';
import { Latencies, type LatencySummary } from './orders-histogram';

export interface IngestTarget {
  id: 'order-api' | 'naive' | 'noop';
  label: string;
  url: string;
}

/** One measured autocannon run. */
export interface IngestRun {
  target: IngestTarget['id'];
  connections: number;
  run: number;
  seconds: number;
  /** 202 answers. */
  accepted: number;
  /** accepted per second. */
  rate: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  load1: number;
  latency: Latencies;
  cpu: CpuUse | undefined;
}

export const INGEST_BODY = JSON.stringify({
  customerId: 'bench-ingest-customer',
  currency: 'EUR',
  items: [
    { sku: 'BENCH-WIDGET', quantity: 2 },
    { sku: 'BENCH-GADGET', quantity: 1 },
  ],
});

let current: autocannon.Instance | undefined;

/** Stops the autocannon run in progress (Ctrl-C). */
export function stopLoad(): void {
  current?.stop();
}

/** `durationS` seconds of closed-loop POST /orders with `connections` connections. */
export async function drive(
  target: IngestTarget,
  connections: number,
  durationS: number,
  onTick?: (elapsedS: number, accepted: number) => void,
): Promise<Omit<IngestRun, 'run' | 'load1' | 'cpu'>> {
  const latency = new Latencies();
  let accepted = 0;
  let non2xx = 0;
  let elapsed = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${target.url}/orders`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: INGEST_BODY,
        connections,
        pipelining: 1,
        duration: durationS,
        timeout: 10,
      },
      (error: Error | null, done: autocannon.Result) => (error ? reject(error) : resolve(done)),
    );
    current = instance;
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode === 202) {
        accepted += 1;
        latency.record(responseTime);
      } else {
        non2xx += 1;
      }
    });
    instance.on('tick', () => {
      elapsed += 1;
      onTick?.(elapsed, accepted);
    });
  }).finally(() => {
    current = undefined;
  });
  return {
    target: target.id,
    connections,
    seconds: result.duration,
    accepted,
    rate: accepted / result.duration,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latency,
  };
}

export interface IngestSettings {
  connections: number[];
  durationS: number;
  warmupS: number;
  runs: number;
}

/**
 * For each run and concurrency level, every target once (warm-up, then measured), the order
 * rotating from run to run so none always goes first.
 */
export async function runIngest(
  targets: IngestTarget[],
  settings: IngestSettings,
  progress: (line: string) => void,
  aborted: () => boolean,
  cpu: CpuMeter,
): Promise<IngestRun[]> {
  const runs: IngestRun[] = [];
  const total = settings.runs * settings.connections.length * targets.length;
  let done = 0;
  const perStep = settings.durationS + settings.warmupS;
  for (let run = 0; run < settings.runs; run += 1) {
    const shift = run % targets.length;
    const order = [...targets.slice(shift), ...targets.slice(0, shift)];
    for (const connections of settings.connections) {
      for (const target of order) {
        if (aborted()) return runs;
        const prefix = `[ingest ${done + 1}/${total}, about ${Math.ceil(((total - done) * perStep) / 60)} min left] ${target.label}, ${connections} connections, run ${run + 1}/${settings.runs}`;
        if (settings.warmupS > 0) {
          progress(`${prefix}: warm-up ${settings.warmupS} s`);
          await drive(target, connections, settings.warmupS);
          if (aborted()) return runs;
        }
        const load1 = os.loadavg()[0] ?? 0;
        const cpuStart = cpu.snapshot();
        const measured = await drive(target, connections, settings.durationS, (elapsed, accepted) => {
          if (elapsed % 5 === 0 && elapsed < settings.durationS)
            progress(
              `${prefix}: ${elapsed}/${settings.durationS} s, ${Math.round(accepted / elapsed)} req/s so far`,
            );
        });
        const used = CpuMeter.between(cpuStart, cpu.snapshot());
        done += 1;
        const p = measured.latency.summary();
        progress(
          `${prefix}: ${Math.round(measured.rate)} req/s, p50 ${p?.p50.toFixed(2)} ms, p99 ${p?.p99.toFixed(2)} ms, non-2xx ${measured.non2xx}, errors ${measured.errors}`,
        );
        runs.push({ ...measured, run: run + 1, load1, cpu: used });
      }
    }
  }
  return runs;
}

export interface IngestRow {
  target: IngestTarget['id'];
  label: string;
  connections: number;
  medianRate: number;
  minRate: number;
  maxRate: number;
  latency: LatencySummary | undefined;
  accepted: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  runs: number;
  /** Average cores by part over the runs. */
  cpu: Record<string, number>;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One row per target and level: median rate over runs, latency over all runs' responses. */
export function summarizeIngest(
  targets: IngestTarget[],
  connections: number[],
  runs: IngestRun[],
): IngestRow[] {
  const rows: IngestRow[] = [];
  for (const level of connections) {
    for (const target of targets) {
      const mine = runs.filter((r) => r.target === target.id && r.connections === level);
      if (mine.length === 0) continue;
      const latency = new Latencies();
      for (const r of mine) latency.add(r.latency);
      const rates = mine.map((r) => r.rate);
      const cpu: Record<string, number> = {};
      const measuredCpu = mine.filter((r) => r.cpu !== undefined);
      for (const r of measuredCpu)
        for (const [part, cores] of Object.entries(r.cpu!.parts))
          cpu[part] = (cpu[part] ?? 0) + cores / measuredCpu.length;
      rows.push({
        target: target.id,
        label: target.label,
        connections: level,
        medianRate: median(rates),
        minRate: Math.min(...rates),
        maxRate: Math.max(...rates),
        latency: latency.summary(),
        accepted: mine.reduce((sum, r) => sum + r.accepted, 0),
        non2xx: mine.reduce((sum, r) => sum + r.non2xx, 0),
        errors: mine.reduce((sum, r) => sum + r.errors, 0),
        timeouts: mine.reduce((sum, r) => sum + r.timeouts, 0),
        runs: mine.length,
        cpu,
      });
    }
  }
  return rows;
}
