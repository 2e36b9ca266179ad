/** One metric family of a scrape, as parse-prometheus-text-format (prom2json's shape) gives it. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[];
}

// The package ships no types (and is CommonJS): typed here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheusTextFormat = require('parse-prometheus-text-format') as (text: string) => MetricFamily[];

/** One sample line: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Every sample line with its labels. parse-prometheus-text-format folds a labelled histogram's
 * series into one and drops their labels, so samples are read from the lines themselves.
 */
function samplesOf(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(LABEL))
      labels[name!] = value!.replace(/\\(["\\])/g, '$1').replace(/\\n/g, '\n');
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** A parsed `/metrics` answer. */
export class Scrape {
  readonly samples: Sample[];

  constructor(
    readonly text: string,
    readonly families: MetricFamily[],
  ) {
    this.samples = samplesOf(text);
  }

  family(name: string): MetricFamily | undefined {
    return this.families.find((f) => f.name === name);
  }

  /**
   * The values of the series named `name` whose labels include `labels`; for a histogram
   * `name`, its `_count` series.
   */
  values(name: string, labels: Record<string, string> = {}): number[] {
    const series = this.family(name)?.type === 'HISTOGRAM' ? `${name}_count` : name;
    return this.samples
      .filter(
        (s) => s.name === series && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
      )
      .map((s) => s.value);
  }

  /** The sum of `values` (0 when none match). */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.values(name, labels).reduce((total, value) => total + value, 0);
  }

  /** Every distinct value each label name takes, across all series. */
  labelValues(): Map<string, Set<string>> {
    const seen = new Map<string, Set<string>>();
    for (const sample of this.samples)
      for (const [label, value] of Object.entries(sample.labels))
        seen.set(label, (seen.get(label) ?? new Set()).add(value));
    return seen;
  }
}

/**
 * GETs `<baseUrl>/metrics` and parses it with a Prometheus text-format parser; fails when the
 * answer is not 200 in the text format, a family lacks HELP or TYPE, or a line is no sample.
 */
export async function scrapeMetrics(baseUrl: string): Promise<Scrape> {
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  if (response.status !== 200)
    throw new Error(`GET /metrics answered ${response.status}: ${text.slice(0, 300)}`);
  if (!/^text\/plain; version=0\.0\.4/.test(response.headers.get('content-type') ?? ''))
    throw new Error(
      `GET /metrics is ${response.headers.get('content-type')}, not the Prometheus text format`,
    );
  const families = parsePrometheusTextFormat(text);
  for (const family of families) {
    if (!text.includes(`# HELP ${family.name} `) || !text.includes(`# TYPE ${family.name} `))
      throw new Error(`metric ${family.name} has no HELP or TYPE line`);
  }
  return new Scrape(text, families);
}
