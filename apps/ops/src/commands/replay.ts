import {
  groupLag,
  isMessagingError,
  planOffsetReset,
  resetOffsets,
  type OffsetResetPlan,
  type OffsetTarget,
} from '@tideline/messaging';
import { PostgresProjectionStore, setPositions } from '@tideline/projections';
import { CliError, fromMessagingError } from '../cli-error';
import type { CommandContext, Database } from '../context';
import { count, plural, table } from '../format';
import { offsetTarget } from '../options';
import { groupOf } from './groups';
import { withAdmin } from './topics';

/** One partition of a replay: where the group is, where it goes, and what that means. */
export interface ReplayMove {
  partition: number;
  /** The group's position now: the projection's stored position when it has one, else Kafka's committed offset. */
  from: string | null;
  to: string;
  /** Records read again (moving back). */
  reprocess: number;
  /** Records never read (moving forward). */
  skip: number;
}

/** What the projection database says about the group. */
export type ProjectionPositions =
  | { status: 'none' }
  | { status: 'found'; positions: Map<number, string> }
  | { status: 'not-checked'; reason: string };

export interface ReplayPlan {
  groupId: string;
  topic: string;
  target: OffsetTarget;
  moves: ReplayMove[];
  /** Stored projection positions move too (a ProjectionConsumer seeks to them, not to Kafka's offsets). */
  projection: ProjectionPositions;
  reprocess: number;
  skip: number;
}

/** The replay plan from Kafka's reset plan and the projection's stored positions. Pure. */
export function replayPlan(kafka: OffsetResetPlan, projection: ProjectionPositions): ReplayPlan {
  const moves = kafka.partitions.map((p): ReplayMove => {
    const stored = projection.status === 'found' ? projection.positions.get(p.partition) : undefined;
    const from = stored ?? p.from;
    const delta = BigInt(p.to) - BigInt(from ?? p.low);
    return {
      partition: p.partition,
      from,
      to: p.to,
      reprocess: delta < 0n ? Number(-delta) : 0,
      skip: delta > 0n ? Number(delta) : 0,
    };
  });
  return {
    groupId: kafka.groupId,
    topic: kafka.topic,
    target: kafka.target,
    moves,
    projection,
    reprocess: moves.reduce((sum, m) => sum + m.reprocess, 0),
    skip: moves.reduce((sum, m) => sum + m.skip, 0),
  };
}

export function describeTarget(target: OffsetTarget): string {
  switch (target.kind) {
    case 'earliest':
      return 'the earliest record';
    case 'latest':
      return 'the end (latest)';
    case 'timestamp':
      return new Date(target.timestamp).toISOString();
    case 'offsets':
      return target.offsets.map((o) => `${o.partition}:${o.offset}`).join(',');
  }
}

/** The plan as people read it. Pure. */
export function replayLines(plan: ReplayPlan): string[] {
  const lines = [
    `replay of group ${plan.groupId} on ${plan.topic} to ${describeTarget(plan.target)}`,
    ...table(
      ['PARTITION', 'FROM', 'TO', 'EFFECT'],
      plan.moves.map((m) => [
        String(m.partition),
        m.from ?? '-',
        m.to,
        m.reprocess > 0
          ? `reprocess ${count(m.reprocess)}`
          : m.skip > 0
            ? `SKIP ${count(m.skip)}`
            : 'unchanged',
      ]),
    ),
    `total: reprocess ${plural(plan.reprocess, 'record')}${plan.skip > 0 ? `, SKIP ${plural(plan.skip, 'record')} (never processed)` : ''}`,
  ];
  const projection = plan.projection;
  if (projection.status === 'found') {
    lines.push(
      `projection ${plan.groupId}: its positions in PostgreSQL move too (FROM shows them); the events are applied again on top of the current read model (to rebuild it from nothing: tideline projection rebuild)`,
    );
  } else if (projection.status === 'not-checked') {
    lines.push(`projection positions not checked: ${projection.reason}`);
  }
  return lines;
}

const NOT_THERE = new Set(['42P01', '3D000']); // undefined table, unknown database

/** The projection's stored positions on `topic`, if the group is a projection with any. */
export async function projectionPositions(
  database: Database,
  projection: string,
  topic: string,
): Promise<ProjectionPositions> {
  try {
    const store = new PostgresProjectionStore(database.pool, projection, () => Promise.resolve([]));
    const stored = (await store.positions()).filter((p) => p.topic === topic);
    return stored.length === 0
      ? { status: 'none' }
      : { status: 'found', positions: new Map(stored.map((p) => [p.partition, p.nextOffset])) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === '42P01') return { status: 'none' }; // no projection runtime in this database
    const reason = `PostgreSQL at ${redact(database.url)} ${NOT_THERE.has(String(code)) ? 'has no such database' : 'did not answer'}: ${(error as Error).message}`;
    if (database.explicit)
      throw new CliError(`cannot read projection positions: ${reason}`, 'TDL_CLI_DATABASE_UNAVAILABLE');
    return {
      status: 'not-checked',
      reason: `${reason} (set DATABASE_URL if ${projection} is a projection, or it will not replay)`,
    };
  }
}

const redact = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

function refuseActive(plan: OffsetResetPlan): void {
  if (plan.members.length === 0 && (plan.state === 'Empty' || plan.state === 'Dead')) return;
  const n = plan.members.length;
  throw new CliError(
    n === 0
      ? `group ${plan.groupId} is ${plan.state}: it has consumers; stop them before replaying (nothing changed)`
      : `group ${plan.groupId} has ${n} active member${n === 1 ? '' : 's'}: ${plan.members.join(', ')}; stop ${n === 1 ? 'it' : 'them'} before replaying (nothing changed)`,
    'TDL_MSG_GROUP_ACTIVE',
  );
}

/**
 * `replay --group G --topic T --to TARGET`: shows per partition where the group is and where it would go (records
 * to reprocess or skip); with --execute moves the group's committed offsets, and a projection's stored positions.
 * Refuses while the group has members, naming them.
 */
export async function replay(ctx: CommandContext): Promise<void> {
  const groupId = groupOf(ctx);
  const topic = ctx.options.topic ?? '';
  const target = offsetTarget(ctx.options.to ?? '');
  await withAdmin(ctx, async (admin) => {
    const kafkaPlan = await planOffsetReset(admin, { groupId, topic, to: target });
    // An unknown group (a typo) would otherwise get brand-new offsets.
    const lag = await groupLag(admin, groupId, { timeLag: false });
    const reads = new Set([
      ...lag.partitions.map((p) => p.topic),
      ...ctx.topics.filter((t) => t.consumers.includes(groupId)).map((t) => t.name),
    ]);
    if (!reads.has(topic)) {
      throw new CliError(
        `group ${groupId} does not read ${topic}: it has offsets on ${[...reads].join(', ') || 'no topic'}; check --topic (nothing changed)`,
        'TDL_CLI_TOPIC_NOT_READ',
      );
    }
    const projection = await projectionPositions(ctx.database(), groupId, topic);
    const plan = replayPlan(kafkaPlan, projection);
    for (const line of replayLines(plan)) ctx.out.line(line);
    refuseActive(kafkaPlan);
    if (!ctx.execute) {
      ctx.out.line('dry run: nothing changed; add --execute to replay');
      ctx.out.result({ dryRun: true, ...jsonPlan(plan) });
      return;
    }
    let done: OffsetResetPlan;
    try {
      done = await resetOffsets(ctx.kafka(), admin, { groupId, topic, to: target });
    } catch (error) {
      if (isMessagingError(error, 'TDL_MSG_GROUP_ACTIVE'))
        throw fromMessagingError(error, ' (nothing changed)');
      throw error;
    }
    const executed = replayPlan(done, projection);
    if (projection.status === 'found') {
      try {
        await setPositions(
          ctx.database().pool,
          groupId,
          executed.moves.map((m) => ({ topic, partition: m.partition, offset: m.to })),
        );
      } catch (error) {
        throw new CliError(
          `Kafka offsets of ${groupId} moved, but its projection positions in PostgreSQL did not: ${(error as Error).message}; run the same replay again`,
          'TDL_CLI_POSITIONS_NOT_MOVED',
        );
      }
    }
    ctx.out.line(
      `replayed: group ${groupId} reprocesses ${plural(executed.reprocess, 'record')} of ${topic} when it next starts`,
    );
    ctx.out.result({ dryRun: false, ...jsonPlan(executed) });
  });
}

function jsonPlan(plan: ReplayPlan) {
  return {
    ...plan,
    projection:
      plan.projection.status === 'found'
        ? { status: 'found', positions: Object.fromEntries(plan.projection.positions) }
        : plan.projection,
  };
}
