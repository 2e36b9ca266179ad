import { parseFlags, UsageError, type IntegerFlags } from './flags';

export { UsageError } from './flags';

/** Command-line flags of the messaging benchmark. */
export interface BenchOptions {
  /** Records pre-filled once and consumed by every consume contender in every run. */
  records: number;
  /** Records each batching produce contender (publish(), sendBatch, ProducerPerformance) writes per run. */
  produceRecords: number;
  /** Records the one-awaited-send contender writes per run (it is slow; its rate is what counts). */
  sendRecords: number;
  runs: number;
  /** Concurrent publish() callers. */
  concurrency: number;
  /** Publisher linger (ms); undefined keeps the runtime's default. */
  lingerMs: number | undefined;
  /** Publisher maxBatchSize, also the raw sendBatch request size. */
  maxBatchSize: number;
  /** kafkajs partitionsConsumedConcurrently for the runtime and the raw consumer. */
  partitionsConcurrently: number;
  partitions: number;
  only: 'consume' | 'produce' | undefined;
  java: boolean;
  /** Also measure the runtime with signing off. */
  signingOff: boolean;
  json: boolean;
}

export const defaults: BenchOptions = {
  records: 200_000,
  produceRecords: 50_000,
  sendRecords: 3_000,
  runs: 5,
  concurrency: 1_000,
  lingerMs: undefined,
  maxBatchSize: 1_000,
  partitionsConcurrently: 3,
  partitions: 6,
  only: undefined,
  java: true,
  signingOff: false,
  json: false,
};

export const usage = `Usage: npm run bench:messaging -- [flags]

Benchmarks the Tideline messaging runtime against raw kafkajs and Kafka's own perf tools,
on the local broker (127.0.0.1:9092) and registry (127.0.0.1:8081). Progress on stderr,
results on stdout.

  --records N               records pre-filled once and consumed per contender and run (default ${defaults.records})
  --produce-records N       records per run for publish(), sendBatch, ProducerPerformance (default ${defaults.produceRecords})
  --send-records N          records per run for one awaited send per message (default ${defaults.sendRecords})
  --runs N                  runs per contender, interleaved (default ${defaults.runs})
  --concurrency N           concurrent publish() callers (default ${defaults.concurrency})
  --linger-ms N             Publisher lingerMs (default: the runtime's default, 2)
  --max-batch-size N        Publisher maxBatchSize and raw sendBatch size (default ${defaults.maxBatchSize})
  --partitions-concurrently N  runtime partitionsConcurrently = kafkajs partitionsConsumedConcurrently (default ${defaults.partitionsConcurrently})
  --partitions N            partitions of every benchmark topic (default ${defaults.partitions})
  --only consume|produce    run one half only
  --no-java                 skip ConsumerPerformance and ProducerPerformance
  --signing-off             also measure the runtime with signing off
  --json                    print the results as JSON instead of a table
  --help                    this text
`;

const integerFlags: IntegerFlags<BenchOptions> = {
  '--records': ['records', 1, 10_000_000],
  '--produce-records': ['produceRecords', 1, 10_000_000],
  '--send-records': ['sendRecords', 1, 1_000_000],
  '--runs': ['runs', 1, 50],
  '--concurrency': ['concurrency', 1, 100_000],
  '--linger-ms': ['lingerMs', 0, 10_000],
  '--max-batch-size': ['maxBatchSize', 1, 100_000],
  '--partitions-concurrently': ['partitionsConcurrently', 1, 1_000],
  '--partitions': ['partitions', 1, 1_000],
};

/** Parses argv (without node and script); throws UsageError naming the first bad flag. */
export function parseArgs(argv: readonly string[]): BenchOptions | 'help' {
  return parseFlags(argv, defaults, {
    integers: integerFlags,
    other(flag, value, options) {
      switch (flag) {
        case '--help':
        case '-h':
          return 'help';
        case '--only': {
          const only = value.take();
          if (only !== 'consume' && only !== 'produce')
            throw new UsageError(`--only must be consume or produce, not "${only}"`);
          options.only = only;
          return true;
        }
        case '--no-java':
          value.none();
          options.java = false;
          return true;
        case '--signing-off':
          value.none();
          options.signingOff = true;
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
}
