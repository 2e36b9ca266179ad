import type { Metric } from 'prom-client';
import { metricsRegistry } from './metrics';

type Labels = Record<string, string>;

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

/**
 * A metric whose children are bound to their label values once: recording is an array or
 * field update. prom-client's own children hash their labels on every call (about a
 * microsecond each), which is too much on a per-record path. Scraped like any other metric.
 */
abstract class BoundMetric<Child> {
  private readonly children = new Map<string, { labels: Labels; child: Child }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {}

  abstract readonly type: 'counter' | 'histogram';
  protected abstract create(): Child;
  protected abstract values(labels: Labels, child: Child): MetricValue[];

  /** The child for these label values (made once; keep it for the hot path). */
  labels(labels: Labels): Child {
    const key = this.labelNames.map((name) => labels[name] ?? '').join('\u0000');
    let entry = this.children.get(key);
    if (entry === undefined) {
      entry = {
        labels: Object.fromEntries(this.labelNames.map((name) => [name, labels[name] ?? ''])),
        child: this.create(),
      };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  /** What prom-client's registry formats. */
  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: 'sum' as const,
      values: [...this.children.values()].flatMap(({ labels, child }) => this.values(labels, child)),
    };
  }

  reset(): void {
    this.children.clear();
  }
}

export interface CounterChild {
  inc(by?: number): void;
}

class BoundCounter extends BoundMetric<CounterChild & { value: number }> {
  readonly type = 'counter';

  protected create() {
    const child = {
      value: 0,
      inc(by = 1) {
        child.value += by;
      },
    };
    return child;
  }

  protected values(labels: Labels, child: { value: number }): MetricValue[] {
    return [{ labels, value: child.value }];
  }
}

export interface HistogramChild {
  observe(value: number): void;
}

class BoundHistogram extends BoundMetric<HistogramChild & { counts: number[]; sum: number }> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  protected create() {
    const buckets = this.buckets;
    const child = {
      counts: new Array<number>(buckets.length + 1).fill(0),
      sum: 0,
      observe(value: number) {
        let index = 0;
        while (index < buckets.length && value > buckets[index]!) index += 1;
        child.counts[index]! += 1;
        child.sum += value;
      },
    };
    return child;
  }

  protected values(labels: Labels, child: { counts: number[]; sum: number }): MetricValue[] {
    const values: MetricValue[] = [];
    let cumulative = 0;
    for (const [index, count] of child.counts.entries()) {
      cumulative += count;
      const le = index < this.buckets.length ? String(this.buckets[index]) : '+Inf';
      values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
    }
    values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
    values.push({ labels, value: cumulative, metricName: `${this.name}_count` });
    return values;
  }
}

function registered<T>(name: string, make: () => T): T {
  const existing = metricsRegistry.getSingleMetric(name) as unknown as T | undefined;
  if (existing !== undefined) return existing;
  const metric = make();
  metricsRegistry.registerMetric(metric as unknown as Metric);
  return metric;
}

/** A counter for per-record paths: `labels({...})` once, then `inc()` costs a field update. */
export function boundCounter(config: { name: string; help: string; labelNames: readonly string[] }): {
  labels(labels: Labels): CounterChild;
} {
  return registered(config.name, () => new BoundCounter(config.name, config.help, config.labelNames));
}

/** A histogram for per-record paths: `labels({...})` once, then `observe()` costs a bucket scan. */
export function boundHistogram(config: {
  name: string;
  help: string;
  labelNames: readonly string[];
  buckets: readonly number[];
}): { labels(labels: Labels): HistogramChild } {
  return registered(
    config.name,
    () => new BoundHistogram(config.name, config.help, config.labelNames, config.buckets),
  );
}
