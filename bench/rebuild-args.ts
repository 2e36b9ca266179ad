import { decimalValue, parseFlags, UsageError, type IntegerFlags } from './flags';

export { UsageError } from './flags';

/** Command-line flags of the rebuild benchmark (bench/rebuild.bench.ts). */
export interface RebuildBenchOptions {
  /** Order events in the benchmark topics (produced once, reused by later runs). */
  events: number;
  /** Events the row-by-row rebuild applies (a prefix of every partition); 0: all of them. */
  rowByRowEvents: number;
  /** Records per store transaction (the projection's MAX_BATCH_RECORDS), both rebuilds. */
  batchRecords: number;
  /** Partitions applied at the same time (PARTITIONS_CONCURRENTLY), both rebuilds. */
  partitionsConcurrently: number;
  /** Also rebuild batched with signature verification off (where the consumer's ceiling is). */
  alsoUnsigned: boolean;
  /** Only the batched rebuild (to profile it); no comparison, no ratio. */
  batchedOnly: boolean;
  /** Wait (before starting) until the 1-minute load average is below this; 0: do not wait. */
  maxLoad: number;
  /** Longest wait for `maxLoad`, seconds. */
  loadWaitS: number;
  /** Delete the benchmark topics at the end (the next run produces them again). */
  dropTopics: boolean;
  json: boolean;
}

export const defaults: RebuildBenchOptions = {
  events: 1_000_000,
  rowByRowEvents: 0,
  batchRecords: 5_000,
  partitionsConcurrently: 3,
  alsoUnsigned: false,
  batchedOnly: false,
  maxLoad: 1.5,
  loadWaitS: 300,
  dropTopics: false,
  json: false,
};

export const usage = `Usage: npm run bench:rebuild -- [flags]

Rebuilds the sales projection (libs/read-models, sales per product per hour) from the order
topics, in one run: (a) with its batched apply and (b) with a row-by-row implementation of the
same projection (one statement per row), both through the real ProjectionConsumer and
PostgresProjectionStore (positions in the same transaction), each into a fresh versioned schema;
then checks both built identical tables. The events are produced once into dedicated
bench.rebuild-… topics and reused by later runs. Local stack only (Kafka 127.0.0.1:9092,
registry 127.0.0.1:8081, PostgreSQL 127.0.0.1:5432). Progress on stderr, results on stdout.

  --events N                  order events in the benchmark topics (default ${defaults.events})
  --row-by-row-events N       events the row-by-row rebuild applies, a prefix of every partition
                              (default: all; the batched rebuild then also runs on that prefix
                              for the comparison)
  --batch-records N           records per transaction, MAX_BATCH_RECORDS (default ${defaults.batchRecords})
  --partitions-concurrently N partitions applied at once, PARTITIONS_CONCURRENTLY (default ${defaults.partitionsConcurrently})
  --also-unsigned             also a batched rebuild with signature verification off
  --batched-only              only the batched rebuild (for profiling: no row-by-row, no comparison)
  --max-load X                wait until the 1-minute load average is below X (default ${defaults.maxLoad}; 0: do not wait)
  --load-wait-s N             longest such wait (default ${defaults.loadWaitS})
  --drop-topics               delete the benchmark topics at the end
  --json                      print the results as JSON instead of Markdown
  --help                      this text
`;

const integerFlags: IntegerFlags<RebuildBenchOptions> = {
  '--events': ['events', 1_000, 20_000_000],
  '--row-by-row-events': ['rowByRowEvents', 0, 20_000_000],
  '--batch-records': ['batchRecords', 1, 50_000],
  '--partitions-concurrently': ['partitionsConcurrently', 1, 100],
  '--load-wait-s': ['loadWaitS', 0, 3_600],
};

/** Parses argv (without node and script); throws a UsageError naming the first bad flag. */
export function parseArgs(argv: readonly string[]): RebuildBenchOptions | 'help' {
  const options = parseFlags(argv, defaults, {
    integers: integerFlags,
    other(flag, value, options) {
      switch (flag) {
        case '--help':
        case '-h':
          return 'help';
        case '--max-load':
          options.maxLoad = decimalValue(flag, value.take(), 0, 100);
          return true;
        case '--also-unsigned':
          value.none();
          options.alsoUnsigned = true;
          return true;
        case '--batched-only':
          value.none();
          options.batchedOnly = true;
          return true;
        case '--drop-topics':
          value.none();
          options.dropTopics = true;
          return true;
        case '--json':
          value.none();
          options.json = true;
          return true;
        default:
          return false;
      }
    },
  });
  if (options !== 'help' && options.rowByRowEvents > options.events)
    throw new UsageError(
      `--row-by-row-events (${options.rowByRowEvents}) must not exceed --events (${options.events})`,
    );
  return options;
}
