// The projection store and change feed against the real PostgreSQL.
import type { ProjectionBatch, ProjectionRecord } from '@tideline/messaging';
import { eventually, testInfra, uniqueName } from '@tideline/testing';
import { Pool } from 'pg';
import { ChangeFeed, type FeedEntry } from './feed';
import { migrate, MigrationError } from './migrations';
import { migrateRuntime, PostgresProjectionStore, SWITCH_LOCK_KEY_SQL } from './store';

const pool = new Pool({ connectionString: testInfra().databaseUrl, max: 8 });
const table = uniqueName('applied').replace(/[^a-z0-9_]/gi, '_');

const record = (offset: number, key = 'k'): ProjectionRecord => ({
  eventId: `event-${offset}`,
  eventType: 'Test',
  correlationId: 'c',
  causationId: undefined,
  producer: 'test',
  producedAt: '',
  traceparent: undefined,
  topic: 't',
  partition: 0,
  offset: String(offset),
  timestamp: 0,
  key,
  value: { n: offset },
  headers: {},
});

/** A store whose effect inserts one row per record and publishes one feed change per record. */
function storeFor(projection: string) {
  return new PostgresProjectionStore(pool, projection, async (client, batch) => {
    for (const r of batch.records)
      await client.query(`INSERT INTO ${table} (projection, offset_) VALUES ($1, $2)`, [
        projection,
        r.offset,
      ]);
    return batch.records.map((r) => ({ keys: [`key:${r.key}`], payload: { offset: r.offset } }));
  });
}

const batch = (from: number, to: number, keys: string[] = []): ProjectionBatch => ({
  topic: 't',
  partition: 0,
  from: String(from),
  to: String(to),
  records: Array.from({ length: to - from }, (_, i) => record(from + i, keys[i] ?? 'k')),
});

const applied = async (projection: string) =>
  (
    await pool.query<{ offset_: string }>(
      `SELECT offset_ FROM ${table} WHERE projection = $1 ORDER BY offset_::int`,
      [projection],
    )
  ).rows.map((r) => Number(r.offset_));

beforeAll(async () => {
  await migrateRuntime(pool);
  await migrateRuntime(pool); // idempotent
  await pool.query(`CREATE TABLE ${table} (projection text NOT NULL, offset_ text NOT NULL)`);
});
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.end();
});

describe('PostgresProjectionStore', () => {
  it("holds a batch back while the projection's switch lock is held (a rebuild swapping tables)", async () => {
    const projection = uniqueName('proj');
    const store = storeFor(projection);
    const rebuild = await pool.connect();
    let done = false;
    try {
      await rebuild.query('BEGIN');
      await rebuild.query(`SELECT pg_advisory_xact_lock(${SWITCH_LOCK_KEY_SQL})`, [projection]);
      const applying = store.apply(batch(0, 2)).then((ok) => {
        done = true;
        return ok;
      });
      await eventually('the batch to wait for the switch lock', async () => {
        const { rows } = await pool.query(
          `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()`,
        );
        return rows.length > 0 ? true : undefined;
      });
      expect(done).toBe(false);
      expect(await applied(projection)).toEqual([]);
      await rebuild.query('COMMIT');
      expect(await applying).toBe(true);
      expect(await applied(projection)).toEqual([0, 1]);
    } finally {
      await rebuild.query('ROLLBACK').catch(() => undefined);
      rebuild.release();
    }
  });

  it('stores the position with the effects and refuses a batch whose start is not the stored position', async () => {
    const projection = uniqueName('proj');
    const store = storeFor(projection);
    expect(await store.position('t', 0)).toBeUndefined();
    expect(await store.apply(batch(0, 3))).toBe(true);
    expect(await store.position('t', 0)).toBe('3');
    // A redelivery (or a zombie instance) applying 0..3 again changes nothing.
    expect(await store.apply(batch(0, 3))).toBe(false);
    expect(await store.apply(batch(2, 4))).toBe(false);
    expect(await applied(projection)).toEqual([0, 1, 2]);
    expect(await store.apply(batch(3, 5))).toBe(true);
    expect(await applied(projection)).toEqual([0, 1, 2, 3, 4]);
    expect((await store.positions()).map((p) => [p.topic, p.partition, p.nextOffset])).toEqual([
      ['t', 0, '5'],
    ]);
  });

  it('lets exactly one of two concurrent writers of a partition apply a batch', async () => {
    const projection = uniqueName('proj');
    const store = storeFor(projection);
    await store.apply(batch(0, 1));
    const results = await Promise.all([
      store.apply(batch(1, 3)),
      store.apply(batch(1, 3)),
      store.apply(batch(1, 3)),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await applied(projection)).toEqual([0, 1, 2]);
  });

  it('rolls the position back with the effects when the effect fails', async () => {
    const projection = uniqueName('proj');
    const failing = new PostgresProjectionStore(pool, projection, async (client) => {
      await client.query(`INSERT INTO ${table} (projection, offset_) VALUES ($1, 'x')`, [projection]);
      throw new Error('effect failed');
    });
    await expect(failing.apply(batch(0, 2))).rejects.toThrow('effect failed');
    expect(await failing.position('t', 0)).toBeUndefined();
    expect(await applied(projection)).toEqual([]);
    expect(failing.isTransient(new Error('effect failed'))).toBe(false);
  });

  it('moves the position alone for a batch without records', async () => {
    const projection = uniqueName('proj');
    const store = storeFor(projection);
    expect(await store.apply({ topic: 't', partition: 0, from: '0', to: '7', records: [] })).toBe(true);
    expect(await store.position('t', 0)).toBe('7');
  });
});

describe('ChangeFeed', () => {
  it('delivers every committed change once, in commit order, from concurrent writers of different partitions', async () => {
    const projection = uniqueName('proj');
    const store = storeFor(projection);
    const feed = new ChangeFeed({ pool, projection, pollIntervalMs: 200 });
    const seen: FeedEntry[] = [];
    feed.subscribe((entries) => seen.push(...entries));
    await feed.start();
    try {
      const writers = [0, 1, 2, 3].map(async (partition) => {
        for (let from = 0; from < 20; from += 4) {
          const b = batch(from, from + 4);
          expect(await store.apply({ ...b, partition })).toBe(true);
        }
      });
      await Promise.all(writers);
      await eventually('80 feed entries', () => (seen.length >= 80 ? true : undefined), {
        timeoutMs: 10_000,
      });
      expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      expect(feed.head).toBe(80);
      // Resuming after an id gives exactly the rest, by key too.
      expect((await feed.since(75, undefined)).map((e) => e.seq)).toEqual([76, 77, 78, 79, 80]);
      expect(await feed.since(80, undefined)).toEqual([]);
      expect((await feed.since(0, 'key:k', 3)).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(await feed.since(0, 'key:other')).toEqual([]);
      expect(await feed.oldest()).toBe(1);
    } finally {
      await feed.stop();
    }
  });

  it('starts at the current end, and prunes old entries', async () => {
    const projection = uniqueName('proj');
    const store = storeFor(projection);
    await store.apply(batch(0, 2));
    const feed = new ChangeFeed({ pool, projection, pollIntervalMs: 200 });
    const seen: number[] = [];
    feed.subscribe((entries) => seen.push(...entries.map((e) => e.seq)));
    await feed.start();
    try {
      expect(feed.head).toBe(2);
      await store.apply(batch(2, 3));
      await eventually('the new entry', () => (seen.length > 0 ? true : undefined), { timeoutMs: 5_000 });
      expect(seen).toEqual([3]);
      await pool.query(
        `UPDATE tideline_change_feed SET created_at = now() - interval '2 days' WHERE projection = $1 AND seq < 3`,
        [projection],
      );
      expect(await feed.prune(24 * 3_600_000)).toBe(2);
      expect(await feed.oldest()).toBe(3);
    } finally {
      await feed.stop();
    }
  });
});

describe('migrate', () => {
  const scope = () => uniqueName('scope');

  it('applies each migration once, in version order, and reports the current version', async () => {
    const name = scope();
    const t = `${table}_m`;
    const migrations = [
      { version: 2, name: 'add column', sql: `ALTER TABLE ${t} ADD COLUMN b int` },
      { version: 1, name: 'create', sql: `CREATE TABLE ${t} (a int)` },
    ];
    try {
      expect((await migrate(pool, name, migrations)).applied.map((m) => m.version)).toEqual([1, 2]);
      expect(await migrate(pool, name, migrations)).toEqual({ applied: [], current: 2 });
      await pool.query(`INSERT INTO ${t} (a, b) VALUES (1, 2)`);
    } finally {
      await pool.query(`DROP TABLE IF EXISTS ${t}`);
    }
  });

  it('runs concurrent starts one at a time', async () => {
    const name = scope();
    const t = `${table}_c`;
    const migrations = [{ version: 1, name: 'create', sql: `CREATE TABLE ${t} (a int)` }];
    try {
      const results = await Promise.all([1, 2, 3].map(() => migrate(pool, name, migrations)));
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, 1]);
    } finally {
      await pool.query(`DROP TABLE IF EXISTS ${t}`);
    }
  });

  it('refuses a changed migration, an unknown applied version, and a failing one (rolled back)', async () => {
    const name = scope();
    await migrate(pool, name, [{ version: 1, name: 'noop', sql: 'SELECT 1' }]);
    await expect(migrate(pool, name, [{ version: 1, name: 'noop', sql: 'SELECT 2' }])).rejects.toThrow(
      /migration 1 \(noop\) was changed after it was applied/,
    );
    await expect(migrate(pool, name, [])).rejects.toThrow(
      /has migration 1 \(noop\), which this release does not know/,
    );
    const failing = migrate(pool, name, [
      { version: 1, name: 'noop', sql: 'SELECT 1' },
      { version: 2, name: 'broken', sql: 'SELECT * FROM no_such_table_anywhere' },
    ]);
    await expect(failing).rejects.toBeInstanceOf(MigrationError);
    await expect(failing).rejects.toThrow(/migration 2 \(broken\) failed/);
    expect(await migrate(pool, name, [{ version: 1, name: 'noop', sql: 'SELECT 1' }])).toEqual({
      applied: [],
      current: 1,
    });
  });
});
