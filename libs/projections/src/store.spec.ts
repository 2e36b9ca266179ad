import { isTransientPgError } from './store';

it('tells unavailable-database errors from bad-record errors', () => {
  expect(isTransientPgError({ code: '40P01' })).toBe(true); // deadlock
  expect(isTransientPgError({ code: '40001' })).toBe(true); // serialization
  expect(isTransientPgError({ code: '57P01' })).toBe(true); // admin shutdown
  expect(isTransientPgError({ code: '08006' })).toBe(true); // connection failure
  expect(isTransientPgError({ code: 'ECONNREFUSED' })).toBe(true);
  expect(isTransientPgError(new Error('Connection terminated unexpectedly'))).toBe(true);
  // The timeouts of the projection pool (createDatabasePool) say "try again", never "bad record".
  expect(isTransientPgError({ code: '57014' })).toBe(true); // statement_timeout
  expect(isTransientPgError({ code: '55P03' })).toBe(true); // lock_timeout
  expect(isTransientPgError({ code: '25P03' })).toBe(true); // idle_in_transaction_session_timeout
  expect(isTransientPgError(new Error('Query read timeout'))).toBe(true); // query_timeout
  expect(isTransientPgError(new Error('Connection terminated due to connection timeout'))).toBe(true);
  expect(isTransientPgError({ code: '57P04' })).toBe(false); // database dropped
  expect(isTransientPgError({ code: '23505' })).toBe(false); // unique violation
  expect(isTransientPgError({ code: '22P02' })).toBe(false); // invalid input
  expect(isTransientPgError(new RangeError('order mismatch'))).toBe(false);
  expect(isTransientPgError(undefined)).toBe(false);
});
