import { databaseSessionVariables, loadConfig } from './index';
import { problemsFor } from './test-support/problems';

const shape = databaseSessionVariables('order-projection');

describe('database session variables', () => {
  it('default to bounded timeouts and the service name', () => {
    expect(loadConfig(shape, {})).toEqual({
      DATABASE_APPLICATION_NAME: 'order-projection',
      DATABASE_CONNECT_TIMEOUT_MS: 10_000,
      DATABASE_QUERY_TIMEOUT_MS: 25_000,
      DATABASE_STATEMENT_TIMEOUT_MS: 20_000,
      DATABASE_LOCK_TIMEOUT_MS: 10_000,
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 10_000,
      DATABASE_KEEPALIVE_INITIAL_DELAY_MS: 10_000,
      DATABASE_TCP_USER_TIMEOUT_MS: 10_000,
    });
  });

  it('accept 0 (off) for the timeouts PostgreSQL can turn off', () => {
    const config = loadConfig(shape, {
      DATABASE_QUERY_TIMEOUT_MS: '0',
      DATABASE_STATEMENT_TIMEOUT_MS: '0',
      DATABASE_LOCK_TIMEOUT_MS: '0',
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '0',
      DATABASE_TCP_USER_TIMEOUT_MS: '0',
    });
    expect(config.DATABASE_STATEMENT_TIMEOUT_MS).toBe(0);
  });

  it('list every bad variable at once', () => {
    const problems = problemsFor(shape, {
      DATABASE_APPLICATION_NAME: 'x'.repeat(64),
      DATABASE_CONNECT_TIMEOUT_MS: '0',
      DATABASE_LOCK_TIMEOUT_MS: '5s',
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '-1',
      DATABASE_KEEPALIVE_INITIAL_DELAY_MS: '1e4',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'DATABASE_APPLICATION_NAME',
      'DATABASE_CONNECT_TIMEOUT_MS',
      'DATABASE_LOCK_TIMEOUT_MS',
      'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS',
      'DATABASE_KEEPALIVE_INITIAL_DELAY_MS',
    ]);
  });

  it('refuse a client query timeout that would fire before the server statement timeout', () => {
    expect(
      problemsFor(shape, { DATABASE_QUERY_TIMEOUT_MS: '30000', DATABASE_STATEMENT_TIMEOUT_MS: '30000' }),
    ).toEqual([
      'DATABASE_QUERY_TIMEOUT_MS: must be greater than DATABASE_STATEMENT_TIMEOUT_MS (30000) or 0, so the server\'s timeout fires first (got "30000")',
    ]);
    expect(problemsFor(shape, { DATABASE_STATEMENT_TIMEOUT_MS: '60000' })).toHaveLength(1); // the default 25 s
    expect(
      loadConfig(shape, { DATABASE_QUERY_TIMEOUT_MS: '0', DATABASE_STATEMENT_TIMEOUT_MS: '60000' }),
    ).toBeDefined();
  });
});
