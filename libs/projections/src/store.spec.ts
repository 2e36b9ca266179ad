import { isTransientPgError } from './store';

it('tells unavailable-database errors from bad-record errors', () => {
  expect(isTransientPgError({ code: '40P01' })).toBe(true); // deadlock
  expect(isTransientPgError({ code: '40001' })).toBe(true); // serialization
  expect(isTransientPgError({ code: '57P01' })).toBe(true); // admin shutdown
  expect(isTransientPgError({ code: '08006' })).toBe(true); // connection failure
  expect(isTransientPgError({ code: 'ECONNREFUSED' })).toBe(true);
  expect(isTransientPgError(new Error('Connection terminated unexpectedly'))).toBe(true);
  expect(isTransientPgError({ code: '23505' })).toBe(false); // unique violation
  expect(isTransientPgError({ code: '22P02' })).toBe(false); // invalid input
  expect(isTransientPgError(new RangeError('order mismatch'))).toBe(false);
  expect(isTransientPgError(undefined)).toBe(false);
});
