import {
  createDatabasePool,
  ensureProjectionLayout,
  liveVersion,
  RebuildError,
  rebuildProjection,
  storedPositions,
  tableChecksum,
  type ProjectionDefinition,
  type RebuildPhase,
  type RebuildResult,
} from '@tideline/projections';
import { topicWatermarks } from '@tideline/messaging';
import { projectionDefinitions } from '@tideline/read-models';
import type { Pool } from 'pg';
import { CliError, usageError } from '../cli-error';
import type { CommandContext } from '../context';
import { count, table } from '../format';
import { withAdmin } from './topics';

const PHASE_LABEL: Record<RebuildPhase, string> = {
  backfill: 'rebuilding',
  'catch-up': 'catching up',
  switch: 'switching',
  retire: 'retiring',
  done: 'done',
};

/** The projection a command names (its positional argument), under the instance name `--group` (default: its own). */
function projectionOf(ctx: CommandContext): ProjectionDefinition {
  const name = ctx.args[0];
  const known = Object.keys(projectionDefinitions);
  if (name === undefined)
    throw usageError(`name the projection (${known.join(' or ')}); see tideline --help`);
  const definition = projectionDefinitions[name];
  if (definition === undefined) throw usageError(`unknown projection "${name}"; known: ${known.join(', ')}`);
  const group = ctx.options.group;
  return group === undefined ? definition : { ...definition, name: group };
}

/** The database pool, or a one-line error naming DATABASE_URL when it does not answer. */
async function database(ctx: CommandContext) {
  const db = ctx.database();
  try {
    await db.pool.query('SELECT 1');
  } catch (error) {
    throw new CliError(
      `cannot reach PostgreSQL at DATABASE_URL (${db.url}): ${(error as Error).message}`,
      'TDL_CLI_DATABASE_UNAVAILABLE',
    );
  }
  return db.pool;
}

/** The live version, or a one-line error when the projection never ran against this database. */
async function liveVersionOf(ctx: CommandContext, pool: Pool, definition: ProjectionDefinition) {
  const live = await liveVersion(pool, definition).catch(() => undefined);
  if (live === undefined)
    throw new CliError(
      `projection ${definition.name} has no tables in ${ctx.database().url}; has it ever run? (--group names another instance)`,
      'TDL_CLI_PROJECTION_NOT_FOUND',
    );
  return live;
}

interface PartitionPosition {
  topic: string;
  partition: number;
  position: string | null;
  end: string;
  lag: number;
}

async function positionsWithEnds(
  ctx: CommandContext,
  definition: ProjectionDefinition,
): Promise<PartitionPosition[]> {
  const pool = await database(ctx);
  const stored = await storedPositions(pool, definition.name);
  const ends = await withAdmin(ctx, async (admin) =>
    Promise.all(
      definition.topics.map(async (topic) => ({
        topic: topic.name,
        offsets: await topicWatermarks(admin, topic.name),
      })),
    ),
  );
  return ends.flatMap(({ topic, offsets }) =>
    offsets.map((p) => {
      const position = stored.get(`${topic}:${p.partition}`);
      return {
        topic,
        partition: p.partition,
        position: position === undefined ? null : String(position),
        end: String(p.high),
        lag: Number(p.high - (position ?? p.low)),
      };
    }),
  );
}

/** `projection status <name>`: live version, tables, positions and lag, a rebuild in progress. */
export async function projectionStatus(ctx: CommandContext): Promise<void> {
  const definition = projectionOf(ctx);
  const pool = await database(ctx);
  const live = await liveVersionOf(ctx, pool, definition);
  const tables = [];
  for (const t of definition.tables) tables.push(await tableChecksum(pool, definition.schema, t));
  const partitions = await positionsWithEnds(ctx, definition);
  ctx.out.line(`projection   ${definition.name}`);
  ctx.out.line(
    `live         version ${live.version} (${live.schema}), since ${live.switchedAt.toISOString()}`,
  );
  ctx.out.line(
    `tables       ${live.ddlMatches ? 'created by this code' : 'DIFFER from what this code creates: rebuild to change them'}`,
  );
  ctx.out.line(
    `rebuild      ${live.rebuildingVersion === null ? 'none running' : `version ${live.rebuildingVersion} since ${live.rebuildStartedAt?.toISOString()}`}`,
  );
  ctx.out.line('');
  for (const line of table(
    ['TABLE', 'ROWS'],
    tables.map((t) => [`${definition.schema}.${t.table}`, count(t.rows)]),
  ))
    ctx.out.line(line);
  ctx.out.line('');
  for (const line of table(
    ['TOPIC', 'PARTITION', 'POSITION', 'END', 'LAG'],
    partitions.map((p) => [p.topic, String(p.partition), p.position ?? '-', p.end, count(p.lag)]),
  ))
    ctx.out.line(line);
  ctx.out.result({
    projection: definition.name,
    live,
    tables: tables.map(({ table: name, rows }) => ({ table: name, rows })),
    partitions,
    lag: partitions.reduce((sum, p) => sum + p.lag, 0),
  });
}

function comparisonLines(result: RebuildResult): string[] {
  return table(
    ['TABLE', 'LIVE ROWS', 'REBUILT ROWS', 'CHECKSUM'],
    result.comparison.map((c) => [
      c.table,
      count(c.live.rows),
      count(c.rebuilt.rows),
      c.equal ? 'equal' : 'DIFFERENT',
    ]),
  );
}

/** `projection rebuild <name>`: the plan, or (with --execute) the zero-downtime shadow rebuild. */
export async function projectionRebuild(ctx: CommandContext): Promise<void> {
  const definition = projectionOf(ctx);
  const pool = await database(ctx);
  const live = await liveVersionOf(ctx, pool, definition);
  if (live.rebuildingVersion !== null)
    throw new CliError(
      `a rebuild of ${definition.name} (version ${live.rebuildingVersion}) started at ${live.rebuildStartedAt?.toISOString()} is still marked running`,
      'TDL_CLI_REBUILD_RUNNING',
    );
  const partitions = await positionsWithEnds(ctx, definition);
  const records = partitions.reduce((sum, p) => sum + Number(p.position ?? 0), 0);
  if (!ctx.execute) {
    ctx.out.line(
      `would rebuild ${definition.name}: version ${live.version} → ${live.version + 1} (${definition.schema}_v${live.version + 1})`,
    );
    ctx.out.line(
      `  replaying up to ${count(records)} records of ${definition.topics.map((t) => t.name).join(', ')} from their start`,
    );
    ctx.out.line(
      `  under group ${definition.name}.rebuild.v${live.version + 1}; queries and streams keep working;`,
    );
    ctx.out.line(
      '  then it holds the live projection for seconds, compares every table and switches, and drops the old version',
    );
    if (!live.ddlMatches)
      ctx.out.line('  the code creates different tables than the live ones: expect differences');
    ctx.out.line('dry run: nothing changed; add --execute to rebuild');
    ctx.out.result({
      projection: definition.name,
      execute: false,
      fromVersion: live.version,
      toVersion: live.version + 1,
      records,
      ddlMatches: live.ddlMatches,
    });
    return;
  }

  const progress = ctx.progress(`rebuilding ${definition.name}`, 'records');
  // Its own pool: the rebuild holds a guard and a switch connection besides its writers.
  const rebuildPool = createDatabasePool({ ...ctx.config, DATABASE_URL: ctx.database().url }, { max: 6 });
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.once('SIGINT', interrupt);
  let phase: RebuildPhase = 'backfill';
  let result: RebuildResult;
  try {
    await ensureProjectionLayout(pool, definition);
    result = await rebuildProjection({
      pool: rebuildPool,
      kafka: ctx.kafka(),
      codec: ctx.codec(),
      signer: ctx.signer(),
      definition,
      allowDifferences: ctx.options['allow-differences'] === true,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.phase !== phase) phase = p.phase;
        progress.update(p.done, p.total);
      },
    });
  } catch (error) {
    progress.clear();
    if (error instanceof RebuildError) {
      if (error.result) for (const line of comparisonLines(error.result)) ctx.out.line(line);
      throw new CliError(error.message, 'TDL_CLI_REBUILD_FAILED');
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', interrupt);
    await rebuildPool.end().catch(() => undefined);
  }
  progress.finish(
    `${PHASE_LABEL[phase]}: rebuilt ${definition.name} from ${count(result.applied)} records, switched to version ${result.toVersion}`,
  );
  for (const line of comparisonLines(result)) ctx.out.line(line);
  if (result.poisonSkipped > 0)
    ctx.out.line(
      `${count(result.poisonSkipped)} records could not be decoded or verified and were skipped (as live did)`,
    );
  ctx.out.result(result);
}
