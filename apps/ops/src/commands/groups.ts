import {
  everyGroupLag,
  groupLag,
  listConsumerGroups,
  type GroupLag,
  type GroupLagSummary,
  type PartitionLag,
} from '@tideline/messaging';
import { CliError } from '../cli-error';
import type { CommandContext } from '../context';
import { count, formatAge, plural, table } from '../format';
import { withAdmin } from './topics';

/** The --group of a command that requires it (the CLI checks required options before running). */
export const groupOf = (ctx: CommandContext): string => ctx.options.group ?? '';

/** `groups list`: every consumer group with its state and member count. */
export async function groupsList(ctx: CommandContext): Promise<void> {
  const groups = await withAdmin(ctx, (admin) => listConsumerGroups(admin));
  for (const line of table(
    ['GROUP', 'STATE', 'MEMBERS'],
    groups.map((g) => [g.groupId, g.state, String(g.members)]),
  ))
    ctx.out.line(line);
  if (groups.length === 0) ctx.out.line('no consumer groups');
  ctx.out.result({ groups });
}

function memberLines(lag: GroupLag): string[] {
  if (lag.members.length === 0) return ['members    none (the group is not running)'];
  return lag.members.map((m, index) => {
    const assigned = Object.entries(m.assignments)
      .map(([topic, partitions]) => `${topic} [${partitions.join(',')}]`)
      .join(', ');
    return `${index === 0 ? 'members   ' : '          '} ${m.clientId} (${m.host}): ${assigned || 'no partitions'}`;
  });
}

/** Lag per topic: records and the oldest unconsumed record's age. */
function topicTotals(partitions: readonly PartitionLag[]) {
  const totals = new Map<string, { offsetLag: number; timeLagMs: number | null }>();
  for (const p of partitions) {
    const total = totals.get(p.topic) ?? { offsetLag: 0, timeLagMs: p.timeLagMs === null ? null : 0 };
    total.offsetLag += p.offsetLag;
    if (total.timeLagMs !== null && p.timeLagMs !== null)
      total.timeLagMs = Math.max(total.timeLagMs, p.timeLagMs);
    totals.set(p.topic, total);
  }
  return totals;
}

function partitionTable(partitions: readonly PartitionLag[], withTime: boolean): string[] {
  const header = ['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG', ...(withTime ? ['TIME LAG'] : [])];
  return table(
    header,
    partitions.map((p) => [
      p.topic,
      String(p.partition),
      p.committed ?? '-',
      p.high,
      count(p.offsetLag),
      ...(withTime ? [p.offsetLag === 0 ? '-' : formatAge(p.timeLagMs ?? 0)] : []),
    ]),
  );
}

/** `groups describe --group G`: state, members and their assignments, committed offsets. */
export async function groupsDescribe(ctx: CommandContext): Promise<void> {
  const lag = await withAdmin(ctx, (admin) => groupLag(admin, groupOf(ctx), { timeLag: false }));
  ctx.out.line(`group      ${lag.groupId}`);
  ctx.out.line(`state      ${lag.state}`);
  for (const line of memberLines(lag)) ctx.out.line(line);
  ctx.out.line('');
  for (const line of partitionTable(lag.partitions, false)) ctx.out.line(line);
  ctx.out.result({ ...lag, partitions: lag.partitions.map(({ timeLagMs: _, ...p }) => p) });
}

/** The lines of `groups lag` without --group: one row per group, the most behind first. Pure. */
export function everyGroupLines(groups: readonly GroupLagSummary[], topic?: string): string[] {
  if (groups.length === 0)
    return [topic === undefined ? 'no consumer groups' : `no consumer group reads ${topic}`];
  const rows = groups.map((g) => {
    const topics = [...new Set(g.partitions.map((p) => p.topic))];
    return [
      g.groupId,
      g.state,
      String(g.members.length),
      g.offsetLag === null ? '-' : count(g.offsetLag),
      g.offsetLag === null || g.offsetLag === 0 || g.timeLagMs === null ? '-' : formatAge(g.timeLagMs),
      g.offsetLag === null
        ? `no committed offsets${topics.length > 0 ? ` (assigned ${topics.join(', ')})` : ''}`
        : topics.join(', '),
    ];
  });
  const behind = groups.filter((g) => (g.offsetLag ?? 0) > 0);
  const unmeasured = groups.filter((g) => g.offsetLag === null).length;
  const records = behind.reduce((sum, g) => sum + (g.offsetLag ?? 0), 0);
  return [
    ...table(['GROUP', 'STATE', 'MEMBERS', 'LAG', 'TIME LAG', 'TOPICS'], rows),
    '',
    `${plural(groups.length, 'group')}: ${behind.length} behind${behind.length > 0 ? ` (${plural(records, 'record')} in all)` : ''}${unmeasured > 0 ? `, ${unmeasured} with no committed offsets` : ''}`,
  ];
}

/** `groups lag` without --group: every group's lag, the most behind first. */
async function everyGroup(ctx: CommandContext): Promise<void> {
  const topic = ctx.options.topic;
  const groups = await withAdmin(ctx, (admin) => everyGroupLag(admin, { now: ctx.now(), topic }));
  for (const line of everyGroupLines(groups, topic)) ctx.out.line(line);
  ctx.out.result({
    groups: groups.map((g) => ({
      groupId: g.groupId,
      state: g.state,
      protocolType: g.protocolType,
      members: g.members.length,
      offsetLag: g.offsetLag,
      timeLagMs: g.timeLagMs,
      topics: Object.fromEntries(topicTotals(g.partitions)),
      partitions: g.partitions,
    })),
  });
}

/** `groups lag [--group G] [--topic T]`: offset lag and time lag per partition and per topic, or of every group. */
export async function groupsLag(ctx: CommandContext): Promise<void> {
  if (ctx.options.group === undefined) return everyGroup(ctx);
  const lag = await withAdmin(ctx, (admin) => groupLag(admin, groupOf(ctx), { now: ctx.now() }));
  const topic = ctx.options.topic;
  const partitions = topic === undefined ? lag.partitions : lag.partitions.filter((p) => p.topic === topic);
  if (topic !== undefined && partitions.length === 0) {
    const topics = [...new Set(lag.partitions.map((p) => p.topic))];
    throw new CliError(
      `group ${lag.groupId} has no offsets on ${topic}; it reads ${topics.length > 0 ? topics.join(', ') : 'nothing yet'}`,
      'TDL_CLI_TOPIC_NOT_READ',
    );
  }
  for (const line of partitionTable(partitions, true)) ctx.out.line(line);
  const totals = topicTotals(partitions);
  ctx.out.line('');
  for (const [name, total] of totals) {
    ctx.out.line(
      `${name}: ${plural(total.offsetLag, 'record')} behind${total.offsetLag > 0 ? `, oldest unconsumed ${formatAge(total.timeLagMs ?? 0)} old` : ''}`,
    );
  }
  if (lag.members.length === 0) ctx.out.line(`group ${lag.groupId} has no members: nothing consumes now`);
  ctx.out.result({
    groupId: lag.groupId,
    state: lag.state,
    members: lag.members,
    partitions,
    topics: Object.fromEntries(totals),
  });
}
