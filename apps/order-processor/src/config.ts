import {
  host,
  infrastructureVariables,
  integer,
  loadConfig,
  logLevel,
  port,
  sessionTimeoutMs,
  signingVariables,
  type Env,
} from '@tideline/config';
import { telemetryVariables } from '@tideline/observability';
import { z } from 'zod';

export const processorVariables = {
  ...infrastructureVariables,
  ...signingVariables,
  LOG_LEVEL: logLevel,
  ...telemetryVariables,
  /** Health, readiness and metrics (`/metrics`) HTTP port. */
  PORT: port(3001),
  HOST: host,
  GROUP_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be letters, digits, ".", "_" or "-"')
    .default('order-processor'),
  /** Orders over this total (minor units) are rejected with TOTAL_OVER_LIMIT. */
  MAX_ORDER_TOTAL_CENTS: integer(100_000_00, 1, Number.MAX_SAFE_INTEGER),
  /** Retry delays for an order whose products are not (yet) in the catalog. */
  RETRY_DELAYS_MS: z
    .string()
    .default('1000,10000,60000')
    .transform((raw) => raw.split(',').map((part) => Number(part.trim())))
    .pipe(z.array(z.number().int().min(0, 'each delay must be ≥ 0 ms')).min(1, 'needs at least one delay')),
  SESSION_TIMEOUT_MS: sessionTimeoutMs,
  /**
   * transaction.timeout.ms of the per-partition transactional producers: Kafka aborts a
   * transaction open longer (a paused process) and fences its producer, which is then rebuilt.
   * At most the brokers' transaction.max.timeout.ms (15 min by default).
   */
  TRANSACTION_TIMEOUT_MS: integer(10_000, 1_000, 900_000),
  PARTITIONS_CONCURRENTLY: integer(3, 1, 100),
  SHUTDOWN_TIMEOUT_MS: integer(20_000, 1_000, 600_000),
};

/** The only place order-processor reads the environment. */
export function loadProcessorConfig(env: Env) {
  return loadConfig(processorVariables, env);
}

export type ProcessorConfig = ReturnType<typeof loadProcessorConfig>;
