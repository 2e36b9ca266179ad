// The PostgreSQL idempotency store against a real PostgreSQL.
import { silentLogger } from '@tideline/messaging';
import { createTestDatabase, eventually, testInfra, uniqueName } from '@tideline/testing';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { IdempotencyStoreError, type ClaimTicket, type CommandIntent } from './idempotency';
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

/** A fresh intent, as a new request mints it. */
function intent(subjectId = uuidv7()): CommandIntent {
  return { subjectId, eventId: uuidv7(), correlationId: uuidv7(), at: Date.now() };
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
  const ticket = ticketOf(await keys.claim(s, 'k1', 'hash-a', intent()));

  expect(await keys.claim(s, 'k1', 'hash-a', intent())).toEqual({ kind: 'in-flight' });
  expect(await keys.claim(s, 'k1', 'hash-b', intent())).toEqual({ kind: 'mismatch' });

  const body = { orderId: 'o-1', links: { self: 'http://x/orders/o-1' }, n: 1.5, ok: true };
  await keys.complete(ticket, { status: 202, body });
  expect(await keys.claim(s, 'k1', 'hash-a', intent())).toEqual({
    kind: 'replay',
    response: { status: 202, body },
  });
  expect(await keys.claim(s, 'k1', 'hash-b', intent())).toEqual({ kind: 'mismatch' });
  expect(await keys.claim(scope(), 'k1', 'hash-b', intent())).toMatchObject({ kind: 'claimed' });
});

it('lets exactly one of many concurrent requests claim a key', async () => {
  const keys = store();
  const s = scope();
  const results = await Promise.all(Array.from({ length: 10 }, () => keys.claim(s, 'k', 'h', intent())));
  expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
  expect(results.filter((r) => r.kind === 'in-flight')).toHaveLength(9);
});

it('frees a released key for the next request', async () => {
  const keys = store();
  const s = scope();
  await keys.release(ticketOf(await keys.claim(s, 'k', 'h', intent())));
  expect(await rowsIn(s)).toBe(0);
  ticketOf(await keys.claim(s, 'k', 'h', intent()));
});

it('lets a claim whose lease ran out (its holder died) be taken over with its intent', async () => {
  const keys = store({ leaseMs: 1 });
  const s = scope();
  const first = intent();
  const abandoned = ticketOf(await keys.claim(s, 'k', 'h', first));
  const takeover = await eventually('the lease to run out', async () => {
    const result = await keys.claim(s, 'k', 'h', intent());
    return result.kind === 'claimed' ? result : undefined;
  });
  // The same event: a retry publishes what the dead holder may have written, not a new order.
  expect(takeover).toMatchObject({ intent: first, resumed: true, ticket: { eventId: first.eventId } });
  expect(takeover.ticket.token).not.toBe(abandoned.token);
  // A different request under the key is still refused: the event may be in the log.
  expect(await keys.claim(s, 'k', 'other', intent())).toEqual({ kind: 'mismatch' });

  await keys.release(abandoned); // a stale holder cannot give the key up
  expect(await rowsIn(s)).toBe(1);
  await keys.complete(takeover.ticket, { status: 202, body: { orderId: first.subjectId } });
  const replay = await store().claim(s, 'k', 'h', intent());
  expect(replay).toEqual({ kind: 'replay', response: { status: 202, body: { orderId: first.subjectId } } });
});

it('keeps the intent of an uncertain key, and a retry takes it over at once', async () => {
  const keys = store();
  const s = scope();
  const first = intent();
  const uncertain = ticketOf(await keys.claim(s, 'k', 'h', first));
  await keys.markUncertain(uncertain);
  const retry = await keys.claim(s, 'k', 'h', intent());
  expect(retry).toMatchObject({ kind: 'claimed', intent: first, resumed: true });
  expect(await keys.claim(s, 'k', 'h', intent())).toEqual({ kind: 'in-flight' });
  if (retry.kind !== 'claimed') throw new Error('not claimed');

  // This attempt fails too and certainly wrote nothing: the key stays, and so do its ids.
  await keys.markUncertain(retry.ticket);
  expect(await rowsIn(s)).toBe(1);
  const again = await keys.claim(s, 'k', 'h', intent());
  expect(again).toMatchObject({ kind: 'claimed', intent: first, resumed: true });
});

it('completes an uncertain key on the late acknowledgement of an earlier attempt', async () => {
  const keys = store();
  const s = scope();
  const first = intent();
  const original = ticketOf(await keys.claim(s, 'k', 'h', first));
  await keys.markUncertain(original);
  const retry = ticketOf(await keys.claim(s, 'k', 'h', intent()));
  await keys.complete(original, { status: 202, body: { orderId: first.subjectId, from: 'late' } });
  // The retry's own completion and its failure change nothing now.
  await keys.complete(retry, { status: 202, body: { from: 'retry' } });
  await keys.markUncertain(retry);
  await keys.release(retry);
  expect(await keys.claim(s, 'k', 'h', intent())).toEqual({
    kind: 'replay',
    response: { status: 202, body: { orderId: first.subjectId, from: 'late' } },
  });
});

it('migrates a table of the shape before intents, keeping its keys', async () => {
  const database = await createTestDatabase('tdl_idem_migrate');
  const old = createIdempotencyPool(database.url, silentLogger);
  try {
    await old.query(`
      CREATE TABLE ${IDEMPOTENCY_TABLE} (
        key text NOT NULL, scope text NOT NULL, request_hash text NOT NULL, status int, body jsonb,
        created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, PRIMARY KEY (scope, key))`);
    await old.query(
      `INSERT INTO ${IDEMPOTENCY_TABLE} VALUES
         ('done', 's', 'h', 202, '{"orderId":"o-1"}', now(), now() + interval '1 hour'),
         ('running', 's', 'h', NULL, NULL, now(), now() + interval '1 hour')`,
    );
    const keys = new PgIdempotencyStore({ pool: old, ttlMs: 60_000, leaseMs: 60_000, logger: silentLogger });
    expect(await keys.claim('s', 'done', 'h', intent())).toEqual({
      kind: 'replay',
      response: { status: 202, body: { orderId: 'o-1' } },
    });
    expect(await keys.claim('s', 'running', 'h', intent())).toEqual({ kind: 'in-flight' });
    const { rows } = await old.query<{ key: string; state: string }>(
      `SELECT key, state FROM ${IDEMPOTENCY_TABLE} ORDER BY key`,
    );
    expect(rows).toEqual([
      { key: 'done', state: 'completed' },
      { key: 'running', state: 'pending' },
    ]);
  } finally {
    await old.end();
    await database.drop();
  }
});

it('ignores expired keys and purges them', async () => {
  const keys = store({ ttlMs: 1 });
  const s = scope();
  await keys.complete(ticketOf(await keys.claim(s, 'old', 'h1', intent())), {
    status: 202,
    body: { first: true },
  });
  const reclaimed = await eventually('the key to expire', async () => {
    const result = await keys.claim(s, 'old', 'h2', intent());
    return result.kind === 'claimed' ? result.ticket : undefined;
  });
  await keys.release(reclaimed);
  await keys.complete(ticketOf(await keys.claim(s, 'older', 'h', intent())), { status: 202, body: {} });
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
    const error = await keys.claim('s', 'k', 'h', intent()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect(error).toMatchObject({ retryable: true, code: 'TDL_API_IDEMPOTENCY_UNAVAILABLE' });
    expect((error as Error).message).toMatch(
      /^PostgreSQL could not create the idempotency table: .*ECONNREFUSED/,
    );
  } finally {
    await dead.end();
  }
});
