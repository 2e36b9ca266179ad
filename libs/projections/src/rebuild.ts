import {
  createProjectionConsumer,
  silentLogger,
  type Kafka,
  type Logger,
  type ProjectionConsumer,
  type RecordSigner,
  type RegistryCodec,
} from '@tideline/messaging';
import type { Pool, PoolClient } from 'pg';
import type { ProjectionDefinition, ProjectionTable } from './definition';
import { ddlFingerprint, ensureProjectionLayout, pointViewsAt, versionSchema } from './layout';
import {
  OFFSETS_TABLE,
  ORIGINS_TABLE,
  PostgresProjectionStore,
  SWITCH_LOCK_KEY_SQL,
  VERSIONS_TABLE,
} from './store';

/** Where a partition is (`topic:partition` → next offset). */
export type Positions = Map<string, bigint>;

/** NOTIFY channel a switch is announced on (payload: JSON `{ projection, from, to }`). */
export const SWITCH_CHANNEL = 'tideline_projection_switch';

export type RebuildPhase = 'backfill' | 'catch-up' | 'switch' | 'retire' | 'done';

export interface RebuildProgress {
  phase: RebuildPhase;
  /** Records the rebuild applied (or skipped past) so far. */
  done: number;
  /** Records between the start of the log and the live projection's position: the work. */
  total: number;
}

export interface TableChecksum {
  table: string;
  rows: number;
  /** Order-independent sum of a 60-bit hash of every row's compared columns. */
  checksum: string;
}

export interface TableComparison {
  table: string;
  live: TableChecksum;
  rebuilt: TableChecksum;
  equal: boolean;
}

export interface RebuildResult {
  projection: string;
  fromVersion: number;
  toVersion: number;
  /** Whether reads and writes now use the new version. */
  switched: boolean;
  comparison: TableComparison[];
  applied: number;
  poisonSkipped: number;
  /** The positions both versions had when they were compared. */
  positions: { topic: string; partition: number; offset: string }[];
  durationMs: number;
}

export interface RebuildOptions {
  /** At least `partitionsConcurrently + 2` connections. */
  pool: Pool;
  kafka: Kafka;
  codec: RegistryCodec;
  signer: RecordSigner;
  definition: ProjectionDefinition;
  /** Records per transaction. Default 5,000. */
  maxBatchRecords?: number;
  /** Partitions applied at the same time. Default 2. */
  partitionsConcurrently?: number;
  /** Longest the live projection is held back while the rebuild applies its last records and compares. Default 30 s. */
  switchTimeoutMs?: number;
  /** Switch even when the rebuilt tables differ from the live ones (the rebuild is meant to fix them). */
  allowDifferences?: boolean;
  onProgress?: (progress: RebuildProgress) => void;
  signal?: AbortSignal;
  logger?: Logger;
}

/** A rebuild that cannot go on; the message is one line for an operator. */
export class RebuildError extends Error {
  constructor(
    message: string,
    readonly result?: RebuildResult,
  ) {
    super(message);
    this.name = 'RebuildError';
  }
}

const slotOf = (topic: string, partition: number) => `${topic}:${partition}`;
const POLL_MS = 200;
/** Records left between the rebuild and the live projection below which the switch starts. */
const SWITCH_GAP = 2_000;
/** How much longer than the switch timeout the switch transaction may sit idle (the catch-up checks in between). */
const SWITCH_IDLE_MARGIN_MS = 10_000;

/** The stored positions of a projection key. */
export async function storedPositions(db: Pool | PoolClient, projection: string): Promise<Positions> {
  const { rows } = await db.query<{ topic: string; partition: number; next_offset: string }>(
    `SELECT topic, partition, next_offset FROM ${OFFSETS_TABLE} WHERE projection = $1`,
    [projection],
  );
  return new Map(rows.map((r) => [slotOf(r.topic, r.partition), BigInt(r.next_offset)]));
}

/** Row count and content checksum of a table's compared columns. */
export async function tableChecksum(
  db: Pool | PoolClient,
  schema: string,
  table: ProjectionTable,
): Promise<TableChecksum> {
  const columns = table.compared.join(', ');
  const { rows } = await db.query<{ rows: string; checksum: string }>(
    `SELECT count(*)::text AS rows,
            coalesce(sum(('x' || substr(md5(ROW(${columns})::text), 1, 15))::bit(60)::bigint), 0)::text AS checksum
     FROM ${schema}.${table.name}`,
  );
  return { table: table.name, rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum };
}

/** Compares every table of two versions. */
export async function compareVersions(
  db: Pool | PoolClient,
  definition: ProjectionDefinition,
  live: string,
  rebuilt: string,
): Promise<TableComparison[]> {
  const result: TableComparison[] = [];
  for (const table of definition.tables) {
    const [a, b] = [await tableChecksum(db, live, table), await tableChecksum(db, rebuilt, table)];
    result.push({
      table: table.name,
      live: a,
      rebuilt: b,
      equal: a.rows === b.rows && a.checksum === b.checksum,
    });
  }
  return result;
}

function sumGap(target: Positions, from: (slot: string) => bigint): number {
  let gap = 0n;
  for (const [slot, limit] of target) {
    const at = from(slot);
    if (limit > at) gap += limit - at;
  }
  return Number(gap);
}

/**
 * A zero-downtime shadow rebuild of a projection:
 *
 * 1. creates version N+1 of its tables in `<schema>_v<N+1>`;
 * 2. applies the log from the earliest offset into it under a new consumer group
 *    (`<name>.rebuild.v<N+1>`), in large batches, without a change feed, up to where the
 *    live projection is, following it while it moves;
 * 3. takes the projection's switch lock (live batches in flight finish, new ones wait), applies
 *    the last records up to exactly the live positions, and compares every table (row counts
 *    and content checksums);
 * 4. when they agree (or `allowDifferences`), points the views at N+1 in the same transaction
 *    and releases the lock: the live consumers continue from the same positions into the new
 *    tables, and the change feed (so every SSE/WebSocket client) goes on without a gap;
 * 5. retires the rebuild's group and positions and drops version N.
 *
 * Queries keep working throughout; the live projection waits only during step 3.
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const started = Date.now();
  const { pool, definition } = options;
  const logger = options.logger ?? silentLogger;
  // The guard, the switch transaction and one per partition applied at once.
  const needed = (options.partitionsConcurrently ?? 2) + 2;
  const max = (pool as Pool & { options?: { max?: number } }).options?.max ?? 10;
  if (max < needed)
    throw new RebuildError(`the rebuild needs a pool of at least ${needed} connections (has ${max})`);
  const live = await ensureProjectionLayout(pool, definition);
  const next = live.version + 1;
  const nextSchema = versionSchema(definition, next);
  const key = `${definition.name}@v${next}`;
  const groupId = `${definition.name}.rebuild.v${next}`;

  // One rebuild per projection at a time: a session lock, released if this process dies.
  const guard = await pool.connect();
  let consumer: ProjectionConsumer | undefined;
  let admin: ReturnType<Kafka['admin']> | undefined;
  try {
    const { rows } = await guard.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(hashtext('tideline-rebuild:' || $1::text)) AS locked`,
      [definition.name],
    );
    if (!rows[0]!.locked) throw new RebuildError(`a rebuild of ${definition.name} is already running`);
    admin = options.kafka.admin();
    await admin.connect();

    // Leftovers of an earlier, interrupted rebuild of the same version.
    await pool.query(`DROP SCHEMA IF EXISTS ${nextSchema} CASCADE`);
    await pool.query(`DELETE FROM ${OFFSETS_TABLE} WHERE projection = $1`, [key]);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await pool.query(`CREATE SCHEMA ${nextSchema}`);
    await pool.query(definition.createTables(nextSchema));
    await pool.query(
      `UPDATE ${VERSIONS_TABLE} SET rebuilding_version = $2, rebuild_started_at = now() WHERE projection = $1`,
      [definition.name, next],
    );
    logger.info({ projection: definition.name, from: live.version, to: next, groupId }, 'rebuild started');

    // Where the rebuild starts: the earliest offset, or the projection's origin when it was
    // started elsewhere (setPositions) — so it recomputes exactly what the live version holds.
    const lows = new Map<string, bigint>();
    for (const topic of definition.topics) {
      for (const p of await admin.fetchTopicOffsets(topic.name))
        lows.set(slotOf(topic.name, p.partition), BigInt(p.low));
    }
    const { rows: origins } = await pool.query<{ topic: string; partition: number; start_offset: string }>(
      `SELECT topic, partition, start_offset FROM ${ORIGINS_TABLE} WHERE projection = $1`,
      [definition.name],
    );
    for (const o of origins) {
      const slot = slotOf(o.topic, o.partition);
      if (BigInt(o.start_offset) > (lows.get(slot) ?? 0n)) lows.set(slot, BigInt(o.start_offset));
    }
    await pool.query(
      `INSERT INTO ${OFFSETS_TABLE} (projection, topic, partition, next_offset)
       SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS s(t, p, o)`,
      [
        key,
        [...lows.keys()].map((slot) => slot.slice(0, slot.lastIndexOf(':'))),
        [...lows.keys()].map((slot) => Number(slot.slice(slot.lastIndexOf(':') + 1))),
        [...lows.values()].map(String),
      ],
    );
    const store = new PostgresProjectionStore(
      pool,
      key,
      (client, batch) => definition.apply(client, batch, nextSchema),
      { feed: false },
    );
    const rebuild = createProjectionConsumer({
      kafka: options.kafka,
      codec: options.codec,
      signer: options.signer,
      groupId,
      topics: definition.topics,
      store,
      maxBatchRecords: options.maxBatchRecords ?? 5_000,
      partitionsConcurrently: options.partitionsConcurrently ?? 2,
      provisionTopics: false,
      deadLetters: false,
      bounded: true,
      logger,
    });
    consumer = rebuild;

    let target = await storedPositions(pool, definition.name);
    const begin = (slot: string) => lows.get(slot) ?? 0n;
    let total = sumGap(target, begin);
    const report = (phase: RebuildPhase) => {
      const done = total - sumGap(target, (slot) => rebuild.appliedPositions().get(slot) ?? begin(slot));
      options.onProgress?.({ phase, done: Math.max(0, done), total });
    };
    rebuild.setLimits(target);
    await rebuild.start();

    // Whether every partition reached its target: by its stored position, or by the group's
    // committed offset (which also moves past transaction markers that end a partition).
    let behind: string[] = [];
    const reached = async (goal: Positions): Promise<boolean> => {
      const applied = rebuild.appliedPositions();
      const open = [...goal].filter(([slot, limit]) => (applied.get(slot) ?? begin(slot)) < limit);
      if (open.length === 0) return true;
      const committed = new Map(
        (await rebuild.progress()).map((p) => [slotOf(p.topic, p.partition), BigInt(p.committed ?? '-1')]),
      );
      const still = open.filter(([slot, limit]) => (committed.get(slot) ?? -1n) < limit);
      behind = still.map(
        ([slot, limit]) =>
          `${slot} at ${applied.get(slot) ?? begin(slot)} (committed ${committed.get(slot) ?? '-'}) of ${limit}`,
      );
      return still.length === 0;
    };
    const abortable = () => {
      if (options.signal?.aborted) throw new RebuildError('rebuild interrupted; nothing switched');
      if (rebuild.status().state === 'crashed')
        throw new RebuildError('the rebuild consumer stopped on a Kafka error; nothing switched');
    };

    // Backfill, then follow the live projection until the gap is small.
    for (let phase: RebuildPhase = 'backfill'; ; phase = 'catch-up') {
      while (!(await reached(target))) {
        abortable();
        report(phase);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      report(phase);
      const now = await storedPositions(pool, definition.name);
      const gap = sumGap(now, (slot) => target.get(slot) ?? begin(slot));
      total += gap;
      target = now;
      rebuild.setLimits(target);
      if (gap <= SWITCH_GAP) break;
    }

    // Switch: hold the live projection, apply its last records, compare, swap.
    const switchTimeoutMs = options.switchTimeoutMs ?? 30_000;
    const client = await pool.connect();
    let result: RebuildResult;
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = ${Math.round(switchTimeoutMs)}`);
      // The switch transaction waits idle while the rebuild applies the last records (at most
      // switchTimeoutMs, see below): the pool's idle-in-transaction timeout must not end it
      // sooner, and a vanished rebuild still releases the switch lock soon after.
      await client.query(
        `SET LOCAL idle_in_transaction_session_timeout = ${Math.round(switchTimeoutMs) + SWITCH_IDLE_MARGIN_MS}`,
      );
      await client.query(`SELECT pg_advisory_xact_lock(${SWITCH_LOCK_KEY_SQL})`, [definition.name]);
      const held = Date.now();
      const final = await storedPositions(client, definition.name);
      total += sumGap(final, (slot) => target.get(slot) ?? begin(slot));
      target = final;
      rebuild.setLimits(target);
      while (!(await reached(target))) {
        abortable();
        if (Date.now() - held > switchTimeoutMs)
          throw new RebuildError(
            `the rebuild did not reach the live projection within ${switchTimeoutMs} ms of holding it (${behind.slice(0, 3).join('; ')}); nothing switched (run again)`,
          );
        report('switch');
        await new Promise((r) => setTimeout(r, 50));
      }
      report('switch');
      const comparison = await compareVersions(client, definition, live.schema, nextSchema);
      const equal = comparison.every((c) => c.equal);
      const status = rebuild.status();
      result = {
        projection: definition.name,
        fromVersion: live.version,
        toVersion: next,
        switched: false,
        comparison,
        applied: status.applied,
        poisonSkipped: status.poisonSkipped,
        positions: [...target].map(([slot, offset]) => {
          const at = slot.lastIndexOf(':');
          return { topic: slot.slice(0, at), partition: Number(slot.slice(at + 1)), offset: String(offset) };
        }),
        durationMs: Date.now() - started,
      };
      if (!equal && !options.allowDifferences) {
        await client.query('ROLLBACK');
        const differing = comparison
          .filter((c) => !c.equal)
          .map((c) => `${c.table} (rows ${c.live.rows} live vs ${c.rebuilt.rows} rebuilt)`);
        throw new RebuildError(
          `rebuilt tables differ from the live ones: ${differing.join(', ')}; nothing switched (${nextSchema} kept for inspection; --allow-differences switches anyway)`,
          result,
        );
      }
      await pointViewsAt(client, definition, next);
      await client.query(
        `UPDATE ${VERSIONS_TABLE} SET live_version = $2, ddl_md5 = $3, switched_at = now(),
           rebuilding_version = NULL, rebuild_started_at = NULL
         WHERE projection = $1`,
        [definition.name, next, ddlFingerprint(definition)],
      );
      await client.query(`SELECT pg_notify($1, $2)`, [
        SWITCH_CHANNEL,
        JSON.stringify({ projection: definition.name, from: live.version, to: next }),
      ]);
      await client.query('COMMIT');
      result = { ...result, switched: true, durationMs: Date.now() - started };
      logger.info(
        { projection: definition.name, from: live.version, to: next, heldMs: Date.now() - held, equal },
        'projection switched to the rebuilt version',
      );
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }

    // Retire the old version and the rebuild's own group and positions.
    options.onProgress?.({ phase: 'retire', done: total, total });
    await rebuild.stop();
    consumer = undefined;
    await admin
      .deleteGroups([groupId])
      .catch((error: unknown) =>
        logger.warn({ groupId, err: error }, 'could not delete the rebuild consumer group'),
      );
    await pool.query(`DELETE FROM ${OFFSETS_TABLE} WHERE projection = $1`, [key]);
    await pool.query(`DROP SCHEMA IF EXISTS ${live.schema} CASCADE`);
    options.onProgress?.({ phase: 'done', done: total, total });
    return { ...result, durationMs: Date.now() - started };
  } finally {
    if (consumer !== undefined) await consumer.stop().catch(() => undefined);
    await pool
      .query(
        `UPDATE ${VERSIONS_TABLE} SET rebuilding_version = NULL, rebuild_started_at = NULL
         WHERE projection = $1 AND rebuilding_version = $2`,
        [definition.name, next],
      )
      .catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await guard
      .query(`SELECT pg_advisory_unlock(hashtext('tideline-rebuild:' || $1::text))`, [definition.name])
      .catch(() => undefined);
    guard.release();
  }
}
