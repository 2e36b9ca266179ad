import { Pool, type PoolConfig } from 'pg';

/**
 * The PostgreSQL part of a process's validated configuration: DATABASE_URL and libs/config's
 * databaseSessionVariables (milliseconds; 0 turns a timeout off).
 */
export interface DatabaseSettings {
  DATABASE_URL: string;
  DATABASE_APPLICATION_NAME: string;
  DATABASE_CONNECT_TIMEOUT_MS: number;
  DATABASE_QUERY_TIMEOUT_MS: number;
  DATABASE_STATEMENT_TIMEOUT_MS: number;
  DATABASE_LOCK_TIMEOUT_MS: number;
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: number;
  DATABASE_KEEPALIVE_INITIAL_DELAY_MS: number;
  DATABASE_TCP_USER_TIMEOUT_MS: number;
}

export interface DatabasePoolOptions {
  /** Most connections. Default 10. */
  max?: number;
  /** An idle connection failed (the pool drops it); without a listener pg would crash the process. */
  onIdleError?: (error: Error) => void;
}

/**
 * The pg pool settings for `settings`. The server-side timeouts travel in the startup message,
 * so they hold from a connection's first statement, also on connections the pool replaces.
 * The server ends a transaction whose client stopped talking by itself: a lost client holds its
 * row locks at most statement + idle-in-transaction (+ tcp user) timeout (see configuration.md).
 */
export function databasePoolConfig(
  settings: DatabaseSettings,
  options: DatabasePoolOptions = {},
): PoolConfig {
  // Sent as `-c name=value` options (also a 0, which pg's own fields would leave out, so "off"
  // is off even where the server or the role sets a default).
  const server = {
    statement_timeout: settings.DATABASE_STATEMENT_TIMEOUT_MS,
    lock_timeout: settings.DATABASE_LOCK_TIMEOUT_MS,
    idle_in_transaction_session_timeout: settings.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    tcp_user_timeout: settings.DATABASE_TCP_USER_TIMEOUT_MS,
  };
  return {
    connectionString: settings.DATABASE_URL,
    max: options.max ?? 10,
    application_name: settings.DATABASE_APPLICATION_NAME,
    connectionTimeoutMillis: settings.DATABASE_CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: settings.DATABASE_KEEPALIVE_INITIAL_DELAY_MS,
    ...(settings.DATABASE_QUERY_TIMEOUT_MS > 0 ? { query_timeout: settings.DATABASE_QUERY_TIMEOUT_MS } : {}),
    options: Object.entries(server)
      .map(([name, ms]) => `-c ${name}=${ms}`)
      .join(' '),
  };
}

/** A pg pool with the settings of databasePoolConfig. */
export function createDatabasePool(settings: DatabaseSettings, options: DatabasePoolOptions = {}): Pool {
  const pool = new Pool(databasePoolConfig(settings, options));
  pool.on('error', options.onIdleError ?? (() => undefined));
  return pool;
}
