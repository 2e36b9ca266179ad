import { z } from 'zod';
import { integer } from './variables';

const DAY_MS = 86_400_000;

/**
 * How a process talks to PostgreSQL besides where (DATABASE_URL): the timeouts that keep a
 * lost connection from holding locks or stalling a partition for hours, TCP keepalive, and the
 * name the server shows in pg_stat_activity. Every value is in milliseconds; where 0 is allowed
 * it turns the timeout off (PostgreSQL's own meaning). See docs/reference/configuration.md for
 * the bound these give on how long a row lock outlives a vanished client.
 */
export function databaseSessionVariables(applicationName: string) {
  return {
    /** pg_stat_activity.application_name: tells instances and tools apart (e.g. in pg_locks joins). */
    DATABASE_APPLICATION_NAME: z
      .string()
      .regex(/^[\x20-\x7e]{1,63}$/, 'must be 1-63 printable ASCII characters')
      .default(applicationName),
    /** Longest wait for a new connection (TCP, TLS and authentication). */
    DATABASE_CONNECT_TIMEOUT_MS: integer(10_000, 100, 600_000),
    /**
     * Client side: a query without an answer for this long fails and its connection is dropped.
     * Below the consumer's default session timeout (30 s): a batch stuck on a cut connection
     * fails before its instance stops heartbeating.
     */
    DATABASE_QUERY_TIMEOUT_MS: integer(25_000, 0, DAY_MS),
    /** Server side: a statement running longer is cancelled. */
    DATABASE_STATEMENT_TIMEOUT_MS: integer(20_000, 0, DAY_MS),
    /** Server side: a statement waiting longer for a lock fails (and is retried later). */
    DATABASE_LOCK_TIMEOUT_MS: integer(10_000, 0, DAY_MS),
    /** Server side: a session idle inside a transaction for longer is ended, releasing its locks. */
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: integer(10_000, 0, DAY_MS),
    /** Client side: TCP keepalive probes start after the connection was idle this long. */
    DATABASE_KEEPALIVE_INITIAL_DELAY_MS: integer(10_000, 1_000, DAY_MS),
    /** Server side (tcp_user_timeout): data unacknowledged by the client for this long ends the session. */
    DATABASE_TCP_USER_TIMEOUT_MS: integer(10_000, 0, DAY_MS),
  };
}

/** The validated values of databaseSessionVariables. */
export type DatabaseSessionConfig = z.infer<z.ZodObject<ReturnType<typeof databaseSessionVariables>>>;

const wholeNumber = (raw: string | undefined, fallback: number) =>
  raw === undefined ? fallback : /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : undefined;

/**
 * The client's query timeout must leave the server's statement timeout room to fire first: a
 * statement the server cancels fails with its reason and keeps the connection; one the client
 * gives up on costs the connection and says only "timeout".
 */
export function databaseTimeoutProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  const query = wholeNumber(env['DATABASE_QUERY_TIMEOUT_MS'], 25_000);
  const statement = wholeNumber(env['DATABASE_STATEMENT_TIMEOUT_MS'], 20_000);
  if (query === undefined || statement === undefined || query === 0 || statement === 0) return [];
  return query > statement
    ? []
    : [
        `DATABASE_QUERY_TIMEOUT_MS: must be greater than DATABASE_STATEMENT_TIMEOUT_MS (${statement}) or 0, so the server's timeout fires first (got "${query}")`,
      ];
}
