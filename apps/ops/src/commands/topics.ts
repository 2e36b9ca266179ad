import {
  applyTopicPlan,
  catalogGroupTopics,
  isMessagingError,
  planTopics,
  type Admin,
  type TopicAction,
  type TopicPlan,
} from '@tideline/messaging';
import { CliError, fromMessagingError } from '../cli-error';
import type { CommandContext } from '../context';
import { positiveInteger } from '../options';

function describe(action: TopicAction): string {
  switch (action.kind) {
    case 'create':
      return `create    ${action.topic} (${action.partitions} partitions, replication factor ${action.replicationFactor}, ${Object.entries(
        action.config,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`;
    case 'add-replicas':
      return `replicate ${action.topic} replication factor ${action.from} → ${action.to}, below the catalog (reassigns ${action.assignments.length} partition${action.assignments.length === 1 ? '' : 's'}; apply waits until the new replicas are in sync)`;
    case 'add-partitions':
      return `grow      ${action.topic} partitions ${action.from} → ${action.to}`;
    case 'alter-config':
      return `configure ${action.topic} ${Object.entries(action.changes)
        .map(
          ([k, c]) =>
            `${k}: ${c.from ?? '(unset)'} → ${c.to}${k === 'min.insync.replicas' && Number(c.from ?? 0) < Number(c.to) ? ' (below the catalog)' : ''}`,
        )
        .join(', ')}`;
    case 'conflict':
      return `CONFLICT  ${action.topic} ${action.reason}`;
    case 'in-sync':
      return `in sync   ${action.topic}`;
  }
}

/** The development override: --replication, else TOPIC_REPLICATION, else none (the catalog's durability). */
function replicationOverride(ctx: CommandContext): { replication: number; source: string } | undefined {
  if (ctx.options.replication !== undefined)
    return {
      replication: positiveInteger('replication', ctx.options.replication, 32),
      source: '--replication',
    };
  if (ctx.config.TOPIC_REPLICATION !== undefined)
    return { replication: ctx.config.TOPIC_REPLICATION, source: 'TOPIC_REPLICATION' };
  return undefined;
}

/** The plan's first lines: the cluster's size and, loudly, what a development override lowered. */
function describeDurability(plan: TopicPlan, source: string | undefined): string[] {
  const { brokers, replication, lowered } = plan.durability;
  const lines = [`cluster   ${brokers} broker${brokers === 1 ? '' : 's'}`];
  if (replication === undefined) return lines;
  if (lowered.length === 0) {
    lines.push(`override  ${source}=${replication} lowers nothing: the catalog's durability applies`);
    return lines;
  }
  for (const { from, to, topics } of lowered) {
    lines.push(
      `OVERRIDE  ${source}=${replication}: replication factor ${from.replicationFactor} → ${to.replicationFactor} on ${topics} topic${topics === 1 ? '' : 's'}, below the catalog: an acknowledged record may be on ${to.replicationFactor === 1 ? 'one broker' : `${to.replicationFactor} brokers`} only (min.insync.replicas stays ${to.minInsyncReplicas}; Kafka requires at most the replicas there are); development clusters only`,
    );
  }
  return lines;
}

/** Runs `work` with a connected admin client; an unreachable Kafka and typed messaging errors become one-line CLI errors. */
export async function withAdmin<T>(ctx: CommandContext, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = ctx.kafka().admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new CliError(
      `Kafka at ${ctx.config.KAFKA_BROKERS.join(',')} is not reachable: ${(error as Error).message}`,
      'TDL_MSG_KAFKA_UNAVAILABLE',
    );
  }
  try {
    return await work(admin);
  } catch (error) {
    throw isMessagingError(error) ? fromMessagingError(error) : error;
  } finally {
    await admin.disconnect();
  }
}

/**
 * `topics plan` (and `topics apply`, which is a dry run unless --execute): the catalog's
 * topics plus each consumer group's retry and dead-letter topics.
 */
export async function topicsPlan(ctx: CommandContext, apply: boolean): Promise<void> {
  const override = replicationOverride(ctx);
  await withAdmin(ctx, async (admin) => {
    const plan = await planTopics(admin, [...ctx.topics, ...catalogGroupTopics(ctx.topics)], {
      replication: override?.replication,
    });
    for (const line of describeDurability(plan, override?.source)) ctx.out.line(line);
    for (const action of plan.actions) ctx.out.line(describe(action));
    if (plan.conflicts.length > 0) {
      ctx.out.result({ applied: false, ...plan });
      throw new CliError(
        `the cluster conflicts with the catalog: ${plan.conflicts.map(describe).join('; ')}`,
        'TDL_MSG_TOPIC_CONFLICT',
      );
    }
    const act = apply && ctx.execute && plan.changes;
    if (act) {
      let reported = 0;
      await applyTopicPlan(admin, plan, {
        onReassignment: (pending) => {
          if (ctx.now() - reported < 10_000) return;
          reported = ctx.now();
          ctx.out.line(`waiting   new replicas of ${pending.length} partition(s) are catching up`);
        },
      });
      ctx.out.line('applied');
    } else if (apply && !ctx.execute && plan.changes) {
      ctx.out.line('dry run: nothing changed; add --execute to apply');
    } else if (!plan.changes) {
      ctx.out.line('the cluster matches the catalog');
    }
    ctx.out.result({ applied: act, ...plan });
  });
}
