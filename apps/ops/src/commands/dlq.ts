import {
  DeadLetterRedriver,
  decodeDeadLetterValue,
  readDeadLetters,
  retryTopicName,
  scanDeadLetters,
  summarizeDeadLetters,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterGroup,
  type DeadLetterRecord,
  type DeadLetterScan,
  type RedriveTarget,
} from '@tideline/messaging';
import { CliError } from '../cli-error';
import type { CommandContext } from '../context';
import { count, formatAge, formatTime, plural, table } from '../format';
import { positiveInteger, rate as parseRate, since as parseSince } from '../options';
import { formatDuration } from '../progress';
import { groupOf } from './groups';
import { withAdmin } from './topics';

const DEFAULT_RATE = 100;

function filterOf(ctx: CommandContext): DeadLetterFilter {
  const { topic, fingerprint, since } = ctx.options;
  return {
    topic,
    fingerprint,
    since: since === undefined ? undefined : parseSince(since, ctx.now()),
  };
}

const limitOf = (ctx: CommandContext, fallback: number | undefined): number | undefined =>
  ctx.options.limit === undefined ? fallback : positiveInteger('limit', ctx.options.limit);

/** Reads the group's dead-letter topic with a progress bar. */
async function scan(ctx: CommandContext, filter: DeadLetterFilter): Promise<DeadLetterScan> {
  const groupId = groupOf(ctx);
  const progress = ctx.progress(`scanning ${groupId}.dlt`, 'records');
  try {
    const result = await scanDeadLetters(ctx.kafka(), {
      groupId,
      filter,
      onProgress: (p) => progress.update(p.done, p.total),
    });
    progress.finish(`scanned ${plural(result.read, 'record')} of ${result.deadLetterTopic}`);
    return result;
  } catch (error) {
    progress.clear();
    throw error;
  }
}

function groupLines(groups: readonly DeadLetterGroup[], now: number): string[] {
  return table(
    ['FINGERPRINT', 'TOPIC', 'COUNT', 'FIRST SEEN', 'LAST SEEN', 'ERROR'],
    groups.map((g) => [
      g.fingerprint || '(none)',
      g.topic || '(unknown)',
      count(g.count),
      `${formatAge(now - g.firstSeen)} ago`,
      `${formatAge(now - g.lastSeen)} ago`,
      `${g.errorCode}: ${g.errorMessage}`.slice(0, 160),
    ]),
  );
}

const jsonGroup = (g: DeadLetterGroup) => ({
  ...g,
  firstSeen: new Date(g.firstSeen).toISOString(),
  lastSeen: new Date(g.lastSeen).toISOString(),
});

/** `dlq list --group G`: dead letters not redriven yet, grouped by failure fingerprint. */
export async function dlqList(ctx: CommandContext): Promise<void> {
  const filter = filterOf(ctx);
  const result = await withAdmin(ctx, async () => scan(ctx, filter));
  const groups = summarizeDeadLetters(result.pending);
  const now = ctx.now();
  if (groups.length > 0) for (const line of groupLines(groups, now)) ctx.out.line(line);
  ctx.out.line(
    `${plural(result.pending.length, 'dead letter')} to look at${result.redriven > 0 ? `, ${count(result.redriven)} redriven before` : ''}` +
      (groups[0]
        ? `; look at one: tideline dlq show --group ${result.groupId} --fingerprint ${groups[0].fingerprint}`
        : ''),
  );
  ctx.out.result({
    groupId: result.groupId,
    deadLetterTopic: result.deadLetterTopic,
    pending: result.pending.length,
    redriven: result.redriven,
    groups: groups.map(jsonGroup),
  });
}

function jsonSafe(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'bigint'
        ? v.toString()
        : v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer'
          ? Buffer.from((v as { data: number[] }).data).toString('base64')
          : v,
    ),
  );
}

function letterLines(letter: DeadLetterRecord, decoded: { value: unknown } | { error: string }, now: number) {
  const lines = [
    `dead letter ${letter.partition}:${letter.offset}, dead-lettered ${formatTime(letter.timestamp, now)}`,
    `  original  ${letter.originalTopic || '(unknown)'} partition ${letter.originalPartition ?? '?'} offset ${letter.originalOffset ?? '?'}, key ${letter.key ?? '(none)'}`,
    `  error     ${letter.errorCode}: ${letter.errorMessage}`,
    `            fingerprint ${letter.fingerprint || '(none)'}, ${plural(letter.attempts, 'attempt')}`,
    '  headers',
    ...Object.entries(letter.headers).map(([name, value]) => `    ${name}: ${value}`),
  ];
  if ('error' in decoded) lines.push(`  value     cannot be decoded: ${decoded.error}`);
  else
    lines.push(
      '  value',
      ...JSON.stringify(jsonSafe(decoded.value), null, 2)
        .split('\n')
        .map((l) => `    ${l}`),
    );
  return lines;
}

/** Reads dead letters again with their values; refuses when none match. */
async function withValues(ctx: CommandContext, letters: readonly DeadLetter[]) {
  const shown: { letter: DeadLetterRecord; decoded: { value: unknown } | { error: string } }[] = [];
  await readDeadLetters(ctx.kafka(), {
    groupId: groupOf(ctx),
    letters,
    onLetter: async (letter) => {
      shown.push({ letter, decoded: await decodeDeadLetterValue(ctx.codec(), ctx.topics, letter) });
    },
  });
  return shown;
}

/** `dlq show --group G [filters] [--limit N]`: the oldest matching dead letters (one by default) in full. */
export async function dlqShow(ctx: CommandContext): Promise<void> {
  const limit = limitOf(ctx, 1)!;
  const filter = filterOf(ctx);
  await withAdmin(ctx, async () => {
    const result = await scan(ctx, filter);
    if (result.pending.length === 0) {
      throw new CliError(
        `no dead letter of group ${result.groupId} matches${result.redriven > 0 ? ` (${count(result.redriven)} matching were redriven before)` : ''}`,
        'TDL_CLI_NO_DEAD_LETTER',
      );
    }
    const shown = await withValues(ctx, result.pending.slice(0, limit));
    const now = ctx.now();
    for (const { letter, decoded } of shown)
      for (const line of letterLines(letter, decoded, now)) ctx.out.line(line);
    if (result.pending.length > shown.length)
      ctx.out.line(
        `${plural(result.pending.length - shown.length, 'more dead letter')} match; --limit N shows more`,
      );
    ctx.out.result({
      groupId: result.groupId,
      matching: result.pending.length,
      deadLetters: shown.map(({ letter, decoded }) => ({
        ...letter,
        timestamp: new Date(letter.timestamp).toISOString(),
        value: 'error' in decoded ? null : jsonSafe(decoded.value),
        ...('error' in decoded ? { decodeError: decoded.error } : {}),
        rawValue: letter.value?.toString('base64') ?? null,
      })),
    });
  });
}

function targetOf(ctx: CommandContext): { target: RedriveTarget; topic: string } {
  const topic = ctx.options.topic ?? '';
  const tier = ctx.options['to-retry'];
  if (tier === undefined) return { target: { kind: 'original' }, topic };
  const n = positiveInteger('to-retry', tier, 100);
  return { target: { kind: 'retry', tier: n }, topic: retryTopicName(groupOf(ctx), n) };
}

/**
 * `dlq redrive --group G --topic T [filters] [--limit N] [--rate R] [--to-retry N]`: moves matching dead letters
 * back to T (or the group's retry tier N), at most R per second, each exactly once (a marker in the dead-letter
 * topic, written in the same transaction, keeps the next run from moving it again). A dry run without --execute.
 */
export async function dlqRedrive(ctx: CommandContext): Promise<void> {
  const groupId = groupOf(ctx);
  const filter = filterOf(ctx);
  const limit = limitOf(ctx, undefined);
  const perSecond = ctx.options.rate === undefined ? DEFAULT_RATE : parseRate(ctx.options.rate);
  const { target, topic: targetTopic } = targetOf(ctx);
  await withAdmin(ctx, async (admin) => {
    const existing = new Set(await admin.listTopics());
    if (!existing.has(filter.topic ?? ''))
      throw new CliError(`topic ${filter.topic} does not exist (nothing changed)`, 'TDL_MSG_UNKNOWN_TOPIC');
    if (target.kind === 'retry' && !existing.has(targetTopic)) {
      throw new CliError(
        `group ${groupId} has no retry tier ${target.tier}: ${targetTopic} does not exist (nothing changed)`,
        'TDL_MSG_UNKNOWN_TOPIC',
      );
    }
    // Opening first fences any other redrive of the group, so the scan sees all it committed.
    const redriver = ctx.execute ? await DeadLetterRedriver.open(ctx.kafka(), groupId) : undefined;
    try {
      const result = await scan(ctx, filter);
      const chosen = result.pending.slice(0, limit);
      const groups = summarizeDeadLetters(chosen);
      const now = ctx.now();
      if (groups.length > 0) for (const line of groupLines(groups, now)) ctx.out.line(line);
      const others = ctx.topics.find((t) => t.name === filter.topic)?.consumers.filter((g) => g !== groupId);
      const summary = {
        groupId,
        topic: filter.topic,
        target: targetTopic,
        ratePerSecond: perSecond,
        matching: result.pending.length,
        alreadyRedriven: result.redriven,
        groups: groups.map(jsonGroup),
      };
      if (chosen.length === 0) {
        ctx.out.line(
          `nothing to redrive${result.redriven > 0 ? `: the ${plural(result.redriven, 'matching dead letter')} were redriven before` : ''}`,
        );
        ctx.out.result({ ...summary, dryRun: !ctx.execute, redriven: 0 });
        return;
      }
      if (target.kind === 'original' && others && others.length > 0) {
        ctx.out.line(
          `note: ${filter.topic} is also read by ${others.join(', ')}, which will see these records again (same event ids); --to-retry 1 reaches only ${groupId}`,
        );
      }
      const eta = formatDuration((chosen.length / perSecond) * 1000);
      if (!redriver) {
        ctx.out.line(
          `dry run: would redrive ${plural(chosen.length, 'dead letter')} to ${targetTopic} at up to ${perSecond}/s (about ${eta}); add --execute to redrive`,
        );
        ctx.out.result({ ...summary, dryRun: true, redriven: 0, wouldRedrive: chosen.length });
        return;
      }
      const progress = ctx.progress(`redriving to ${targetTopic}`, 'records');
      let moved;
      let committed = 0;
      try {
        moved = await redriver.redrive(chosen, {
          target,
          ratePerSecond: perSecond,
          onProgress: (p) => {
            committed = p.redriven;
            progress.update(p.redriven, p.total);
          },
        });
      } catch (error) {
        progress.clear();
        const message = error instanceof Error ? error.message : String(error);
        throw new CliError(
          `redrive stopped: ${message}; ${plural(committed, 'dead letter')} redriven before it (committed); run it again to redrive the rest`,
          'TDL_CLI_REDRIVE_STOPPED',
        );
      }
      progress.finish(`redrove ${plural(moved.redriven, 'dead letter')} to ${targetTopic}`);
      const left = result.pending.length - moved.redriven;
      if (left > 0) ctx.out.line(`${plural(left, 'matching dead letter')} left (--limit)`);
      ctx.out.result({ ...summary, dryRun: false, redriven: moved.redriven, byTopic: moved.byTopic });
    } finally {
      await redriver?.close();
    }
  });
}
