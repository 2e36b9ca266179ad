import {
  applyTopicPlan,
  catalogGroupTopics,
  isMessagingError,
  planTopics,
  type Admin,
  type TopicAction,
} from '@tideline/messaging';
import { CliError } from '../cli-error';
import type { CommandContext } from '../context';

function describe(action: TopicAction): string {
  switch (action.kind) {
    case 'create':
      return `create    ${action.topic} (${action.partitions} partitions, ${Object.entries(action.config)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`;
    case 'add-partitions':
      return `grow      ${action.topic} partitions ${action.from} → ${action.to}`;
    case 'alter-config':
      return `configure ${action.topic} ${Object.entries(action.changes)
        .map(([k, c]) => `${k}: ${c.from ?? '(unset)'} → ${c.to}`)
        .join(', ')}`;
    case 'conflict':
      return `CONFLICT  ${action.topic} ${action.reason}`;
    case 'in-sync':
      return `in sync   ${action.topic}`;
  }
}

/** Runs `work` with a connected admin client; an unreachable Kafka and typed messaging errors become one-line CLI errors. */
export async function withAdmin<T>(ctx: CommandContext, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = ctx.kafka().admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new CliError(
      `Kafka at ${ctx.config.KAFKA_BROKERS.join(',')} is not reachable: ${(error as Error).message}`,
    );
  }
  try {
    return await work(admin);
  } catch (error) {
    throw isMessagingError(error) ? new CliError(error.message) : error;
  } finally {
    await admin.disconnect();
  }
}

/**
 * `topics plan` (and `topics apply`, which is a dry run unless --execute): the catalog's
 * topics plus each consumer group's retry and dead-letter topics.
 */
export async function topicsPlan(ctx: CommandContext, apply: boolean): Promise<void> {
  await withAdmin(ctx, async (admin) => {
    const plan = await planTopics(admin, [...ctx.topics, ...catalogGroupTopics(ctx.topics)]);
    for (const action of plan.actions) ctx.out.line(describe(action));
    if (plan.conflicts.length > 0) {
      ctx.out.result({ applied: false, ...plan });
      throw new CliError(
        `the cluster conflicts with the catalog: ${plan.conflicts.map(describe).join('; ')}`,
      );
    }
    const act = apply && ctx.execute && plan.changes;
    if (act) {
      await applyTopicPlan(admin, plan);
      ctx.out.line('applied');
    } else if (apply && !ctx.execute && plan.changes) {
      ctx.out.line('dry run: nothing changed; add --execute to apply');
    } else if (!plan.changes) {
      ctx.out.line('the cluster matches the catalog');
    }
    ctx.out.result({ applied: act, ...plan });
  });
}
