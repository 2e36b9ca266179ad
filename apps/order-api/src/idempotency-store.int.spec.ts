// The PostgreSQL idempotency store against a real PostgreSQL.
import { silentLogger } from '@tideline/messaging';
import { eventually, testInfra, uniqueName } from '@tideline/testing';
import pg from 'pg';
import { IdempotencyStoreError, type ClaimTicket } from './idempotency';
import { createIdempotencyPool, IDEMPOTENCY_TABLE, PgIdempotencyStore } from './idempotency-store';

const pool = createIdempotencyPool(testInfra().databaseUrl, silentLogger);
const scopes: string[] = [];

function store(options: { ttlMs?: number; leaseMs?: number } = {}): PgIdempotencyStore {
  return new PgIdempotencyStore({
    pool,
    ttlMs: options.ttlMs ?? 60_000,
    leaseMs: options.leaseMs ?? 60_000,
    logger: silentLogger,
  });
}

/** A scope of this test alone; its rows are deleted afterwards. */
function scope(): string {
  const name = uniqueName('key:test POST /orders');
  scopes.push(name);
  return name;
}

function ticketOf(result: Awaited<ReturnType<PgIdempotencyStore['claim']>>): ClaimTicket {
  expect(result.kind).toBe('claimed');
  if (result.kind !== 'claimed') throw new Error('not claimed');
  return result.ticket;
}

async function rowsIn(scopeName: string): Promise<number> {
  const result = await pool.query(`SELECT count(*)::int AS n FROM ${IDEMPOTENCY_TABLE} WHERE scope = $1`, [
    scopeName,
  ]);
  return (result.rows[0] as { n: number }).n;
}

afterAll(async () => {
  await pool.query(`DELETE FROM ${IDEMPOTENCY_TABLE} WHERE scope = ANY($1)`, [scopes]);
  await pool.end();
});

it('creates its table once, however many instances start together', async () => {
  await Promise.all([store().init(), store().init(), store().init()]);
  const result = await pool.query(`SELECT to_regclass($1) AS name`, [IDEMPOTENCY_TABLE]);
  expect((result.rows[0] as { name: string }).name).toBe(IDEMPOTENCY_TABLE);
  await expect(store().ping()).resolves.toBeUndefined();
});

it('claims a key once, answers in-flight and mismatch, then replays the stored response', async () => {
  const keys = store();
  const s = scope();
  const ticket = ticketOf(await keys.claim(s, 'k1', 'hash-a'));

  expect(await keys.claim(s, 'k1', 'hash-a')).toEqual({ kind: 'in-flight' });
  expect(await keys.claim(s, 'k1', 'hash-b')).toEqual({ kind: 'mismatch' });

  const body = { orderId: 'o-1', links: { self: 'http://x/orders/o-1' }, n: 1.5, ok: true };
  await keys.complete(ticket, { status: 202, body });
  expect(await keys.claim(s, 'k1', 'hash-a')).toEqual({ kind: 'replay', response: { status: 202, body } });
  expect(await keys.claim(s, 'k1', 'hash-b')).toEqual({ kind: 'mismatch' });
  expect(await keys.claim(scope(), 'k1', 'hash-b')).toMatchObject({ kind: 'claimed' });
});

it('lets exactly one of many concurrent requests claim a key', async () => {
  const keys = store();
  const s = scope();
  const results = await Promise.all(Array.from({ length: 10 }, () => keys.claim(s, 'k', 'h')));
  expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
  expect(results.filter((r) => r.kind === 'in-flight')).toHaveLength(9);
});

it('frees a released key for the next request', async () => {
  const keys = store();
  const s = scope();
  await keys.release(ticketOf(await keys.claim(s, 'k', 'h')));
  expect(await rowsIn(s)).toBe(0);
  ticketOf(await keys.claim(s, 'k', 'h'));
});

it('lets a claim whose lease ran out be taken over, and ignores its late completion', async () => {
  const keys = store({ leaseMs: 1 });
  const s = scope();
  const abandoned = ticketOf(await keys.claim(s, 'k', 'h'));
  const takeover = await eventually('the lease to run out', async () => {
    const result = await keys.claim(s, 'k', 'h');
    return result.kind === 'claimed' ? result.ticket : undefined;
  });
  expect(takeover.token).not.toBe(abandoned.token);

  await keys.complete(abandoned, { status: 202, body: { from: 'abandoned' } });
  await keys.release(abandoned);
  expect(await rowsIn(s)).toBe(1);
  await keys.complete(takeover, { status: 202, body: { from: 'takeover' } });
  const replay = await store().claim(s, 'k', 'h');
  expect(replay).toEqual({ kind: 'replay', response: { status: 202, body: { from: 'takeover' } } });
});

it('ignores expired keys and purges them', async () => {
  const keys = store({ ttlMs: 1 });
  const s = scope();
  await keys.complete(ticketOf(await keys.claim(s, 'old', 'h1')), { status: 202, body: { first: true } });
  const reclaimed = await eventually('the key to expire', async () => {
    const result = await keys.claim(s, 'old', 'h2');
    return result.kind === 'claimed' ? result.ticket : undefined;
  });
  await keys.release(reclaimed);
  await keys.complete(ticketOf(await keys.claim(s, 'older', 'h')), { status: 202, body: {} });
  await eventually('expired keys to be purged', async () => {
    await keys.purgeExpired();
    return (await rowsIn(s)) === 0 ? true : undefined;
  });
  expect(await rowsIn(s)).toBe(0);
});

it('reports an unreachable PostgreSQL as a retryable IdempotencyStoreError', async () => {
  const dead = new pg.Pool({
    connectionString: 'postgres://postgres@127.0.0.1:9/nowhere',
    connectionTimeoutMillis: 1000,
  });
  const keys = new PgIdempotencyStore({ pool: dead, ttlMs: 1000, leaseMs: 1000, logger: silentLogger });
  try {
    const error = await keys.claim('s', 'k', 'h').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect(error).toMatchObject({ retryable: true, code: 'TDL_API_IDEMPOTENCY_UNAVAILABLE' });
    expect((error as Error).message).toMatch(
      /^PostgreSQL could not create the idempotency table: .*ECONNREFUSED/,
    );
  } finally {
    await dead.end();
  }
});
