import { testInfra, uniqueName } from '@tideline/testing';
import { Pool } from 'pg';
import { claimEvent, ensureProcessedEventsTable, processOnce, pruneProcessedEvents } from './idempotency';

const pool = new Pool({ connectionString: testInfra().databaseUrl, max: 4 });
const effects = uniqueName('effects').replace(/[^a-z0-9_]/gi, '_');

beforeAll(async () => {
  await ensureProcessedEventsTable(pool);
  await ensureProcessedEventsTable(pool); // idempotent
  await pool.query(`CREATE TABLE ${effects} (event_id text NOT NULL)`);
});
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${effects}`);
  await pool.end();
});

const count = async (eventId: string) =>
  Number(
    (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${effects} WHERE event_id = $1`, [eventId]))
      .rows[0]!.n,
  );

it('applies an effect once however often the event is delivered', async () => {
  const group = uniqueName('group');
  const eventId = uniqueName('event');
  const apply = () =>
    processOnce(pool, group, eventId, async (client) => {
      await client.query(`INSERT INTO ${effects} (event_id) VALUES ($1)`, [eventId]);
    });
  expect(await apply()).toBe(true);
  expect(await apply()).toBe(false);
  expect(await count(eventId)).toBe(1);
  // Another group has its own claims.
  expect(await processOnce(pool, uniqueName('other'), eventId, () => Promise.resolve())).toBe(true);
});

it('applies concurrent deliveries of one event once', async () => {
  const group = uniqueName('group');
  const eventId = uniqueName('event');
  const results = await Promise.all(
    Array.from({ length: 4 }, () =>
      processOnce(pool, group, eventId, async (client) => {
        await client.query(`INSERT INTO ${effects} (event_id) VALUES ($1)`, [eventId]);
      }),
    ),
  );
  expect(results.filter(Boolean)).toHaveLength(1);
  expect(await count(eventId)).toBe(1);
});

it('keeps no claim when the effect fails, so the redelivery applies it', async () => {
  const group = uniqueName('group');
  const eventId = uniqueName('event');
  await expect(
    processOnce(pool, group, eventId, async (client) => {
      await client.query(`INSERT INTO ${effects} (event_id) VALUES ($1)`, [eventId]);
      throw new Error('downstream failed');
    }),
  ).rejects.toThrow('downstream failed');
  expect(await count(eventId)).toBe(0);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    expect(await claimEvent(client, group, eventId)).toBe(true);
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  expect(await processOnce(pool, group, eventId, () => Promise.resolve())).toBe(true);
});

it('prunes claims older than a cut-off', async () => {
  const group = uniqueName('group');
  await processOnce(pool, group, 'old', () => Promise.resolve());
  await pool.query(
    `UPDATE tideline_processed_events SET processed_at = now() - interval '40 days' WHERE consumer_group = $1`,
    [group],
  );
  await processOnce(pool, group, 'new', () => Promise.resolve());
  expect(await pruneProcessedEvents(pool, 30 * 24 * 3600 * 1000)).toBeGreaterThanOrEqual(1);
  const { rows } = await pool.query(
    `SELECT event_id FROM tideline_processed_events WHERE consumer_group = $1`,
    [group],
  );
  expect(rows.map((r: { event_id: string }) => r.event_id)).toEqual(['new']);
});
