import {
  apiKeys,
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
import { telemetryVariables } from '@tideline/observability';
import { parseAllowedOrigins } from '@tideline/realtime';
import { z } from 'zod';

export const projectionVariables = {
  PORT: port(3002),
  HOST: host,
  ...infrastructureVariables,
  DATABASE_URL: databaseUrl,
  ...databaseSessionVariables('order-projection'),
  ...signingVariables,
  LOG_LEVEL: logLevel,
  ...telemetryVariables,
  /** The consumer group, and the name the projection's positions and change feed are kept under. */
  GROUP_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be letters, digits, ".", "_" or "-"')
    .default('order-projection'),
  /** Partitions applied at the same time (each in its own transaction). */
  PARTITIONS_CONCURRENTLY: integer(3, 1, 100),
  /** Most records applied in one PostgreSQL transaction. */
  MAX_BATCH_RECORDS: integer(500, 1, 10_000),
  /**
   * Keys a client must present (Authorization: Bearer <key> or X-API-Key) for every query,
   * stream and /stats, comma-separated, 16+ characters each. Empty: the read side is open to
   * anyone (the process says so when it starts). /healthz, /readyz, /metrics and /docs stay open.
   */
  API_KEYS: apiKeys,
  /**
   * Browser origins besides the projection's own whose pages may open its streams (SSE and
   * WebSocket), comma-separated (`https://app.example.com,http://localhost:5173`), or `*` for
   * any. A request with another Origin gets 403; one without an Origin header is not affected.
   */
  STREAM_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((raw, context) => {
      try {
        return parseAllowedOrigins(raw);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Live-stream connections (SSE and WebSocket together) one instance holds; more get 503 with Retry-After. */
  STREAM_MAX_CONNECTIONS: integer(10_000, 1, 1_000_000),
  /**
   * Live-stream connections one client (remote address) holds; more get 429 with Retry-After.
   * 0: no per-client bound (behind a proxy that does not pass the client's address, every client shares the proxy's).
   */
  STREAM_MAX_CONNECTIONS_PER_CLIENT: integer(100, 0, 1_000_000),
  /** Most history events one stream subscription replays; a resume from further back gets a `reset` and goes on from now. */
  STREAM_MAX_REPLAY_EVENTS: integer(10_000, 1, 10_000_000),
  /** A stream client with more unsent bytes than this is dropped (and told to resume). */
  STREAM_MAX_BUFFERED_BYTES: integer(1024 * 1024, 1024, 256 * 1024 * 1024),
  /** Change-feed entries older than this are pruned; a resume from before gets a `reset`. */
  FEED_RETENTION_HOURS: integer(24 * 7, 1, 24 * 365),
  /** Longest `timeout` a read-your-writes GET may ask for. */
  MAX_WAIT_MS: integer(30_000, 0, 300_000),
  SESSION_TIMEOUT_MS: sessionTimeoutMs,
  /** /readyz turns ready once the read model is at most this many records behind after start. */
  READY_MAX_LAG: integer(1_000, 0, 100_000_000),
  DATABASE_POOL_SIZE: integer(10, 2, 100),
  /**
   * Connections for client reads (queries, read-your-writes, stream history), apart from the
   * projection's own: a read waits at most DATABASE_CONNECT_TIMEOUT_MS for one, then gets 503.
   */
  DATABASE_READ_POOL_SIZE: integer(10, 1, 100),
  SHUTDOWN_TIMEOUT_MS: integer(20_000, 1_000, 600_000),
};

/** The only place order-projection reads the environment. */
export function loadProjectionConfig(env: Env) {
  return loadConfig(projectionVariables, env);
}

export type ProjectionConfig = ReturnType<typeof loadProjectionConfig>;
