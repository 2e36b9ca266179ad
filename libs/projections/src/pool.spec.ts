import { databasePoolConfig, type DatabaseSettings } from './pool';

const settings: DatabaseSettings = {
  DATABASE_URL: 'postgres://u@db:5432/tideline',
  DATABASE_APPLICATION_NAME: 'order-projection',
  DATABASE_CONNECT_TIMEOUT_MS: 10_000,
  DATABASE_QUERY_TIMEOUT_MS: 35_000,
  DATABASE_STATEMENT_TIMEOUT_MS: 30_000,
  DATABASE_LOCK_TIMEOUT_MS: 10_000,
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 10_000,
  DATABASE_KEEPALIVE_INITIAL_DELAY_MS: 10_000,
  DATABASE_TCP_USER_TIMEOUT_MS: 10_000,
};

it('sets every timeout, keepalive and the application name', () => {
  expect(databasePoolConfig(settings, { max: 4 })).toEqual({
    connectionString: 'postgres://u@db:5432/tideline',
    max: 4,
    application_name: 'order-projection',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    query_timeout: 35_000,
    options:
      '-c statement_timeout=30000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=10000 -c tcp_user_timeout=10000',
  });
});

it('sends a server timeout of 0 (off) instead of leaving it to a server default, and no client query timeout', () => {
  const config = databasePoolConfig({
    ...settings,
    DATABASE_QUERY_TIMEOUT_MS: 0,
    DATABASE_STATEMENT_TIMEOUT_MS: 0,
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 0,
  });
  expect(config.query_timeout).toBeUndefined();
  expect(config.max).toBe(10);
  expect(config.options).toBe(
    '-c statement_timeout=0 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=0 -c tcp_user_timeout=10000',
  );
});
