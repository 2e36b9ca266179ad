import {
  databaseSessionVariables,
  databaseUrl,
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
import { salesTopics } from '@tideline/read-models';
import { telemetryVariables } from '@tideline/observability';
import { z } from 'zod';

const READ_TOPICS = [salesTopics.confirmed, salesTopics.rejected, salesTopics.cancelled].map((t) => t.name);
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * `catalog-topic=topic-to-read` pairs, comma-separated: read a copy of a topic under another
 * name (a test's private topics, a side-by-side environment). Empty: the catalog's topics.
 */
const sourceTopics = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    const renames = new Map<string, string>();
    const pairs = raw
      .split(',')
      .map((pair) => pair.trim())
      .filter((pair) => pair !== '');
    for (const [index, pair] of pairs.entries()) {
      const [from, to, ...rest] = pair.split('=').map((part) => part.trim());
      const problem =
        to === undefined || rest.length > 0
          ? `entry ${index + 1} ("${pair}") is not catalog-topic=topic`
          : !READ_TOPICS.includes(from!)
            ? `entry ${index + 1}: ${from} is not a topic the sales projection reads (${READ_TOPICS.join(', ')})`
            : !TOPIC_NAME.test(to)
              ? `entry ${index + 1}: "${to}" is not a topic name (letters, digits, ".", "_", "-")`
              : renames.has(from!)
                ? `entry ${index + 1} renames ${from} a second time`
                : undefined;
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      else renames.set(from!, to!);
    }
    return renames;
  });

export const salesProjectionVariables = {
  PORT: port(3003),
  HOST: host,
  ...infrastructureVariables,
  DATABASE_URL: databaseUrl,
  ...databaseSessionVariables('sales-projection'),
  ...signingVariables,
  LOG_LEVEL: logLevel,
  ...telemetryVariables,
  /** The consumer group, and the name the projection's positions are kept under. */
  GROUP_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be letters, digits, ".", "_" or "-"')
    .default('sales-projection'),
  SOURCE_TOPICS: sourceTopics,
  /** Partitions applied at the same time (each in its own transaction). */
  PARTITIONS_CONCURRENTLY: integer(3, 1, 100),
  /** Most records applied in one PostgreSQL transaction (the backfill's batch size). */
  MAX_BATCH_RECORDS: integer(2_000, 1, 50_000),
  /** Whether /readyz waits until the backfill reached the topic ends seen at start. */
  READY_AFTER_BACKFILL: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('true')
    .transform((raw) => raw === 'true'),
  SESSION_TIMEOUT_MS: sessionTimeoutMs,
  DATABASE_POOL_SIZE: integer(10, 2, 100),
  SHUTDOWN_TIMEOUT_MS: integer(20_000, 1_000, 600_000),
};

/** The only place sales-projection reads the environment. */
export function loadSalesProjectionConfig(env: Env) {
  return loadConfig(salesProjectionVariables, env);
}

export type SalesProjectionConfig = ReturnType<typeof loadSalesProjectionConfig>;
