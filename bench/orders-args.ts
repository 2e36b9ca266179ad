import { decimalValue, parseFlags, UsageError, type IntegerFlags } from './flags';

export { UsageError } from './flags';

/** Command-line flags of the orders benchmark (bench/orders.bench.ts). */
export interface OrdersBenchOptions {
  /** Open-loop arrival rates of the latency phase, orders per second. */
  rates: number[];
  /** Measured seconds per rate. */
  durationS: number;
  /** Seconds at each rate before the measured ones (discarded). */
  warmupS: number;
  /** Distinct customers the orders are spread over. */
  customers: number;
  /** order-processor instances. */
  processors: number;
  /** Keep-alive connections of the latency phase's HTTP client. */
  latencyConnections: number;
  /** Closed-loop concurrency levels (connections) of the ingest phase. */
  connections: number[];
  /** Measured seconds per ingest run. */
  ingestDurationS: number;
  /** Seconds of load before each ingest run (discarded). */
  ingestWarmupS: number;
  /** Runs per ingest contender and concurrency level, interleaved. */
  ingestRuns: number;
  only: 'latency' | 'ingest' | undefined;
  /** Wait (before starting anything) until the 1-minute load average is below this; 0: do not wait. */
  maxLoad: number;
  /** Longest wait for `maxLoad`, seconds. */
  loadWaitS: number;
  json: boolean;
  /** Write to the catalog topics of the stack the tests use (KAFKA_BROKERS unset) anyway. */
  writeSharedTopics: boolean;
}

export const defaults: OrdersBenchOptions = {
  rates: [200, 1000],
  durationS: 20,
  warmupS: 5,
  customers: 300,
  processors: 2,
  latencyConnections: 128,
  connections: [16, 64],
  ingestDurationS: 10,
  ingestWarmupS: 2,
  ingestRuns: 2,
  only: undefined,
  maxLoad: 1.5,
  loadWaitS: 600,
  json: false,
  writeSharedTopics: false,
};

export const usage = `Usage: npm run bench:orders -- [flags]

End-to-end latency POST /orders → SSE (open loop, fixed arrival rates) and ingest throughput
of POST /orders against a fastify no-op route and a naive one-awaited-send service, with
order-api, order-processor and order-projection as OS processes. With KAFKA_BROKERS unset the
run starts a Kafka broker and a registry of its own (deleted at the end), so it never grows the
topics the tests use; PostgreSQL is DATABASE_URL's (a database of its own, dropped at the end).
Progress on stderr, results (Markdown tables) on stdout.

  --rates R1,R2,...         arrival rates of the latency phase, orders/s (default ${defaults.rates.join(',')})
  --duration-s N            measured seconds per rate (default ${defaults.durationS})
  --warmup-s N              discarded seconds before each rate (default ${defaults.warmupS})
  --customers N             distinct customers (default ${defaults.customers})
  --processors N            order-processor instances (default ${defaults.processors})
  --latency-connections N   keep-alive connections of the open-loop client (default ${defaults.latencyConnections})
  --connections C1,C2,...   ingest concurrency levels, connections (default ${defaults.connections.join(',')})
  --ingest-duration-s N     measured seconds per ingest run (default ${defaults.ingestDurationS})
  --ingest-warmup-s N       discarded seconds of load before each ingest run (default ${defaults.ingestWarmupS})
  --ingest-runs N           runs per ingest contender and level, interleaved (default ${defaults.ingestRuns})
  --only latency|ingest     run one phase only
  --max-load X              first wait until the 1-minute load average is below X; 0: do not wait (default ${defaults.maxLoad})
  --load-wait-s N           wait at most N seconds for that, then start anyway (default ${defaults.loadWaitS})
  --json                    print the results as JSON instead of tables
  --write-shared-topics     run on the stack the tests use (127.0.0.1:9092) instead of a broker of
                            its own, although every order it places stays in its catalog topics
                            (about 0.5 million records with the defaults)
  --help                    this text
`;

const integerFlags: IntegerFlags<OrdersBenchOptions> = {
  '--duration-s': ['durationS', 1, 600],
  '--warmup-s': ['warmupS', 0, 120],
  '--customers': ['customers', 1, 100_000],
  '--processors': ['processors', 1, 6],
  '--latency-connections': ['latencyConnections', 1, 1_024],
  '--ingest-duration-s': ['ingestDurationS', 1, 600],
  '--ingest-warmup-s': ['ingestWarmupS', 0, 120],
  '--ingest-runs': ['ingestRuns', 1, 20],
  '--load-wait-s': ['loadWaitS', 0, 3_600],
};

const listFlags: IntegerFlags<OrdersBenchOptions> = {
  '--rates': ['rates', 1, 20_000],
  '--connections': ['connections', 1, 1_024],
};

/** Parses argv (without node and script); throws UsageError naming the first bad flag. */
export function parseArgs(argv: readonly string[]): OrdersBenchOptions | 'help' {
  return parseFlags(argv, defaults, {
    integers: integerFlags,
    lists: listFlags,
    other(flag, value, options) {
      switch (flag) {
        case '--help':
        case '-h':
          return 'help';
        case '--only': {
          const only = value.take();
          if (only !== 'latency' && only !== 'ingest')
            throw new UsageError(`--only must be latency or ingest, not "${only}"`);
          options.only = only;
          return true;
        }
        case '--max-load':
          options.maxLoad = decimalValue(flag, value.take(), 0, 100);
          return true;
        case '--json':
          value.none();
          options.json = true;
          return true;
        case '--write-shared-topics':
          value.none();
          options.writeSharedTopics = true;
          return true;
        default:
          return false;
      }
    },
  });
}
