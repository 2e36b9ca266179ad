import * as hdr from 'hdr-histogram-js';

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** An HDR histogram of latencies, recorded in microseconds, read in milliseconds. */
export class Latencies {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });

  /** Records `ms` (negative values, from clocks with 1 ms resolution, count as 0). */
  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    this.histogram.recordValue(Math.max(1, Math.min(3_600_000_000, Math.round(ms * 1000))));
  }

  add(other: Latencies): void {
    this.histogram.add(other.histogram);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary | undefined {
    const h = this.histogram;
    if (h.totalCount === 0) return undefined;
    const at = (percentile: number) => h.getValueAtPercentile(percentile) / 1000;
    return {
      count: h.totalCount,
      mean: h.mean / 1000,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: h.maxValue / 1000,
    };
  }
}
