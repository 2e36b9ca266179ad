// Markdown tables of the orders benchmark (readable in a terminal, pasted into docs/benchmarks.md).
import type { LatencySummary } from './orders-histogram';
import type { IngestRow } from './orders-ingest';
import type { LatencyResult, StageRow } from './orders-latency';

export interface TargetResult {
  label: string;
  required: string;
  measured: string;
  met: boolean | undefined;
  /** A number for information, without a target. */
  info?: boolean;
}

/** Milliseconds with a sensible number of digits. */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

export const int = (value: number) => Math.round(value).toLocaleString('en-US');

function escape(cell: string): string {
  return cell.replaceAll('|', '\\|');
}

/** A Markdown table; `right` marks right-aligned columns. */
export function markdownTable(header: string[], rows: string[][], right: boolean[]): string {
  const all = [header, ...rows].map((row) => row.map(escape));
  const widths = header.map((_, c) => Math.max(3, ...all.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (right[c] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join('\n');
}

const percentiles = (s: LatencySummary | undefined) =>
  s ? [ms(s.p50), ms(s.p90), ms(s.p99), ms(s.p999), ms(s.max)] : ['n/a', 'n/a', 'n/a', 'n/a', 'n/a'];

export function latencyTable(results: readonly LatencyResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    for (const [label, summary] of [
      ['POST → HTTP 202', r.http],
      ['POST → SSE `pending`', r.pending],
      ['POST → SSE `confirmed`', r.confirmed],
    ] as const) {
      rows.push([`${int(r.rate)}`, label, summary ? int(summary.count) : '0', ...percentiles(summary)]);
    }
  }
  return markdownTable(
    [
      'orders/s',
      'measured from the scheduled send to',
      'orders',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
    ],
    rows,
    [true, false, true, true, true, true, true, true],
  );
}

export function countsTable(results: readonly LatencyResult[]): string {
  const rows = results.map((r) => {
    const errors = Object.entries(r.errors)
      .map(([code, n]) => `${n} ${code}`)
      .join(', ');
    const other = Object.entries(r.otherStatus)
      .map(([status, n]) => `${n} ${status}`)
      .join(', ');
    const perBatch =
      r.projection && r.projection.batches > 0
        ? (r.projection.records / r.projection.batches).toFixed(1)
        : 'n/a';
    return [
      int(r.rate),
      r.achievedRate.toFixed(0),
      int(r.sent),
      int(r.accepted),
      errors === '' ? '0' : errors,
      int(r.pendingSeen),
      int(r.confirmedSeen),
      int(r.confirmedFirst),
      other === '' ? '0' : other,
      int(r.unconfirmed),
      perBatch,
      `${r.loadAverage.start.toFixed(2)} → ${r.loadAverage.end.toFixed(2)} (max ${r.loadAverage.max.toFixed(2)})`,
    ];
  });
  return markdownTable(
    [
      'orders/s',
      'achieved',
      'sent',
      '202',
      'errors',
      'SSE pending seen',
      'SSE confirmed seen',
      'confirmed before placed',
      'other status',
      'not confirmed in time',
      'records / projection batch',
      '1-min load',
    ],
    rows,
    [true, true, true, true, false, true, true, true, false, true, true, false],
  );
}

export function stageTable(stages: readonly StageRow[]): string {
  return markdownTable(
    ['stage', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean in slowest 1 % ms'],
    stages.map((s) => [
      s.stage,
      ms(s.summary?.p50),
      ms(s.summary?.p90),
      ms(s.summary?.p99),
      ms(s.summary?.max),
      ms(s.tailMean),
    ]),
    [false, true, true, true, true, true],
  );
}

export function ingestTable(rows: readonly IngestRow[]): string {
  return markdownTable(
    [
      'contender',
      'connections',
      'req/s (median)',
      'min–max',
      'p50 ms',
      'p99 ms',
      'max ms',
      'non-2xx',
      'errors',
      'runs',
    ],
    rows.map((r) => [
      r.label,
      String(r.connections),
      int(r.medianRate),
      `${int(r.minRate)}–${int(r.maxRate)}`,
      ms(r.latency?.p50),
      ms(r.latency?.p99),
      ms(r.latency?.max),
      int(r.non2xx),
      int(r.errors + r.timeouts),
      String(r.runs),
    ]),
    [false, true, true, true, true, true, true, true, true, true],
  );
}

export function targetTable(targets: readonly TargetResult[]): string {
  return markdownTable(
    ['target', 'required', 'measured', 'result'],
    targets.map((t) => [
      t.label,
      t.required,
      t.measured,
      t.info ? '' : t.met === undefined ? 'not measured' : t.met ? 'MET' : 'MISSED',
    ]),
    [false, true, true, false],
  );
}

/** The issue's targets: p99 POST → SSE ≤ 50 ms at 200 orders/s; order-api ≥ 3× the naive service. */
export function evaluateTargets(
  latency: readonly LatencyResult[],
  ingest: readonly IngestRow[],
): TargetResult[] {
  const targets: TargetResult[] = [];
  const at200 = latency.find((r) => r.rate === 200);
  for (const [path, summary] of [
    ['pending', at200?.pending],
    ['confirmed', at200?.confirmed],
  ] as const) {
    targets.push({
      label: `p99 POST → SSE \`${path}\` at 200 orders/s`,
      required: '≤ 50 ms',
      measured: summary ? `${ms(summary.p99)} ms` : 'n/a',
      met: summary ? summary.p99 <= 50 && (at200?.unconfirmed ?? 0) === 0 : undefined,
    });
  }
  const levels = [...new Set(ingest.map((r) => r.connections))];
  for (const level of levels) {
    const api = ingest.find((r) => r.target === 'order-api' && r.connections === level);
    const naive = ingest.find((r) => r.target === 'naive' && r.connections === level);
    const noop = ingest.find((r) => r.target === 'noop' && r.connections === level);
    const ratio = api && naive && naive.medianRate > 0 ? api.medianRate / naive.medianRate : undefined;
    targets.push({
      label: `order-api / naive service, ${level} connections`,
      required: '≥ 3.0×',
      measured: ratio === undefined ? 'n/a' : `${ratio.toFixed(1)}×`,
      met: ratio === undefined ? undefined : ratio >= 3,
    });
    const ceiling = api && noop && noop.medianRate > 0 ? api.medianRate / noop.medianRate : undefined;
    targets.push({
      label: `order-api / fastify no-op, ${level} connections`,
      required: 'no target',
      measured: ceiling === undefined ? 'n/a' : `${(ceiling * 100).toFixed(0)} %`,
      met: undefined,
      info: true,
    });
  }
  return targets;
}

/** Cores used by each part (rows) in each column; parts under 0.01 cores everywhere are left out. */
export function cpuTable(columns: { label: string; parts: Record<string, number> | undefined }[]): string {
  const order = [
    'order-api',
    'order-processor (all instances)',
    'order-projection',
    'ingest server: naive',
    'ingest server: noop',
    'benchmark process (load generator, SSE, Kafka probe)',
    'Kafka broker',
    'schema registry',
    'PostgreSQL (all its processes)',
    'other processes (other engineers, short-lived ones)',
  ];
  const names = new Set<string>();
  for (const column of columns) for (const name of Object.keys(column.parts ?? {})) names.add(name);
  const parts = [
    ...order.filter((n) => names.has(n)),
    ...[...names].filter((n) => !order.includes(n)),
  ].filter((name) => columns.some((c) => (c.parts?.[name] ?? 0) >= 0.01));
  const rows = parts.map((name) => [name, ...columns.map((c) => (c.parts?.[name] ?? 0).toFixed(2))]);
  rows.push([
    '**all (of 2 cores)**',
    ...columns.map((c) =>
      Object.values(c.parts ?? {})
        .reduce((a, b) => a + b, 0)
        .toFixed(2),
    ),
  ]);
  return markdownTable(['cores used by', ...columns.map((c) => c.label)], rows, [
    false,
    ...columns.map(() => true),
  ]);
}
