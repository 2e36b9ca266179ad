import type { Measurement } from './contenders';

export type Phase = 'consume' | 'produce';

/** A contender's results over all runs. */
export interface ContenderResult {
  id: string;
  phase: Phase;
  label: string;
  runs: Measurement[];
  /** Why it did not run, when it did not. */
  skipped?: string;
  /** Errors of failed runs (the run is left out of the statistics). */
  errors: string[];
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

export interface Target {
  label: string;
  /** ratio = median(numerator) / median(denominator) */
  numerator: string;
  denominator: string;
  /** The ratio must be at least this. */
  atLeast: number;
  /** How to print the ratio and the bar. */
  unit: 'percent' | 'times';
}

export interface TargetResult extends Target {
  ratio: number | undefined;
  met: boolean | undefined;
}

export function evaluate(targets: readonly Target[], results: readonly ContenderResult[]): TargetResult[] {
  const median = (id: string) => summarize((results.find((r) => r.id === id)?.runs ?? []).map((m) => m.rate));
  return targets.map((target) => {
    const numerator = median(target.numerator);
    const denominator = median(target.denominator);
    const ratio = numerator && denominator ? numerator.median / denominator.median : undefined;
    return { ...target, ratio, met: ratio === undefined ? undefined : ratio >= target.atLeast };
  });
}

function formatRatio(value: number, unit: Target['unit']): string {
  return unit === 'percent' ? `${(value * 100).toFixed(0)} %` : `${value.toFixed(1)}×`;
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');

function table(rows: string[][], alignRight: boolean[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row, index) => {
      const line = row
        .map((cell, column) =>
          alignRight[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
        )
        .join('  ')
        .trimEnd();
      return index === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

/** The results as a plain-text table (one line per contender) plus the targets. */
export function renderTable(
  results: readonly ContenderResult[],
  targets: readonly TargetResult[],
  bytesPerRecord: number,
): string {
  const rows: string[][] = [
    ['phase', 'contender', 'median rec/s', 'min', 'max', 'MB/s', 'runs', 'records/run'],
  ];
  for (const result of results) {
    const summary = summarize(result.runs.map((m) => m.rate));
    if (!summary) {
      rows.push([result.phase, result.label, result.skipped ?? 'failed', '', '', '', '0', '']);
      continue;
    }
    rows.push([
      result.phase,
      result.label,
      int(summary.median),
      int(summary.min),
      int(summary.max),
      ((summary.median * bytesPerRecord) / 1e6).toFixed(1),
      `${summary.n}${result.errors.length > 0 ? ` (+${result.errors.length} failed)` : ''}`,
      int(result.runs[0]!.records),
    ]);
  }
  const targetRows: string[][] = [['target', 'required', 'measured', 'result']];
  for (const target of targets) {
    targetRows.push([
      target.label,
      `≥ ${formatRatio(target.atLeast, target.unit)}`,
      target.ratio === undefined ? 'n/a' : formatRatio(target.ratio, target.unit),
      target.met === undefined ? 'not measured' : target.met ? 'MET' : 'MISSED',
    ]);
  }
  return `${table(rows, [false, false, true, true, true, true, true, true])}\n\n${table(targetRows, [false, true, true, false])}\n`;
}
