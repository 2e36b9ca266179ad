import type { Admin } from 'kafkajs';
import { MessagingError, kafkaUnavailable } from './errors';
import type { ManagedTopic } from './group-topics';

/** The topic-level configs Tideline manages; anything else on a topic is left alone. */
export function desiredConfig(topic: ManagedTopic): Record<string, string> {
  return {
    'cleanup.policy': topic.cleanup,
    'retention.ms':
      topic.cleanup === 'compact' || topic.retentionMs === null ? '-1' : String(topic.retentionMs),
    ...(topic.maxMessageBytes === undefined ? {} : { 'max.message.bytes': String(topic.maxMessageBytes) }),
  };
}

export type TopicAction =
  | { kind: 'create'; topic: string; partitions: number; config: Record<string, string> }
  | { kind: 'add-partitions'; topic: string; from: number; to: number }
  | { kind: 'alter-config'; topic: string; changes: Record<string, { from: string | undefined; to: string }> }
  | { kind: 'conflict'; topic: string; reason: string }
  | { kind: 'in-sync'; topic: string };

export interface TopicPlan {
  actions: TopicAction[];
  /** True when applying would change something. */
  changes: boolean;
  /** Differences that cannot be applied in place (e.g. fewer partitions). */
  conflicts: TopicAction[];
}

/** Compares the catalog's topics with the cluster. Changes nothing. */
export async function planTopics(admin: Admin, topics: readonly ManagedTopic[]): Promise<TopicPlan> {
  try {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((topic) => existing.has(topic.name));
    const metadata =
      present.length > 0
        ? await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) })
        : { topics: [] };
    const partitionCounts = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
    const described =
      present.length > 0
        ? await admin.describeConfigs({
            includeSynonyms: false,
            resources: present.map((t) => ({ type: 2 /* ConfigResourceTypes.TOPIC */, name: t.name })),
          })
        : { resources: [] };
    const configs = new Map(
      described.resources.map((r) => [
        r.resourceName,
        new Map(r.configEntries.map((e) => [e.configName, e.configValue])),
      ]),
    );

    const actions: TopicAction[] = [];
    for (const topic of topics) {
      const wanted = desiredConfig(topic);
      if (!existing.has(topic.name)) {
        actions.push({ kind: 'create', topic: topic.name, partitions: topic.partitions, config: wanted });
        continue;
      }
      const count = partitionCounts.get(topic.name) ?? 0;
      if (count > topic.partitions) {
        actions.push({
          kind: 'conflict',
          topic: topic.name,
          reason: `has ${count} partitions, the catalog says ${topic.partitions}; Kafka cannot remove partitions`,
        });
      } else if (count < topic.partitions) {
        actions.push({ kind: 'add-partitions', topic: topic.name, from: count, to: topic.partitions });
      }
      const current = configs.get(topic.name) ?? new Map<string, string>();
      const changes: Record<string, { from: string | undefined; to: string }> = {};
      for (const [name, value] of Object.entries(wanted)) {
        if (current.get(name) !== value) changes[name] = { from: current.get(name), to: value };
      }
      if (Object.keys(changes).length > 0) actions.push({ kind: 'alter-config', topic: topic.name, changes });
      if (count === topic.partitions && Object.keys(changes).length === 0)
        actions.push({ kind: 'in-sync', topic: topic.name });
    }
    const conflicts = actions.filter((a) => a.kind === 'conflict');
    return {
      actions,
      conflicts,
      changes: actions.some((a) => a.kind !== 'in-sync' && a.kind !== 'conflict'),
    };
  } catch (error) {
    throw kafkaUnavailable(error);
  }
}

/** Applies a plan made by planTopics. Refuses a plan with conflicts. */
export async function applyTopicPlan(admin: Admin, plan: TopicPlan): Promise<void> {
  if (plan.conflicts.length > 0) {
    const reasons = plan.conflicts.map((c) => (c.kind === 'conflict' ? `${c.topic} ${c.reason}` : c.topic));
    throw new MessagingError('TDL_MSG_TOPIC_CONFLICT', `cannot apply the topic plan: ${reasons.join('; ')}`);
  }
  try {
    const creates = plan.actions.flatMap((a) => (a.kind === 'create' ? [a] : []));
    if (creates.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: creates.map((a) => ({
          topic: a.topic,
          numPartitions: a.partitions,
          configEntries: Object.entries(a.config).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    const growth = plan.actions.flatMap((a) => (a.kind === 'add-partitions' ? [a] : []));
    if (growth.length > 0) {
      await admin.createPartitions({ topicPartitions: growth.map((a) => ({ topic: a.topic, count: a.to })) });
    }
    const alters = plan.actions.flatMap((a) => (a.kind === 'alter-config' ? [a] : []));
    for (const alter of alters) {
      // Non-incremental alterConfigs replaces the topic's whole override set: send the full desired set.
      const current = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: alter.topic }],
      });
      const overrides = Object.fromEntries(
        (current.resources[0]?.configEntries ?? [])
          .filter(
            (e) => !e.isDefault && !e.readOnly && (e.configSource as number) === 1 /* DYNAMIC_TOPIC_CONFIG */,
          )
          .map((e) => [e.configName, e.configValue]),
      );
      for (const [name, change] of Object.entries(alter.changes)) overrides[name] = change.to;
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: 2,
            name: alter.topic,
            configEntries: Object.entries(overrides).map(([name, value]) => ({ name, value })),
          },
        ],
      });
    }
  } catch (error) {
    throw kafkaUnavailable(error);
  }
}

/**
 * Creates or fixes `topics` until the cluster matches (conflicts left alone), retrying a
 * few times: right after a creation the cluster's metadata can lag ("does not host this
 * topic-partition"), and several instances starting at once race to create the same topics.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly ManagedTopic[],
  { attempts = 5, backoffMs = 500 }: { attempts?: number; backoffMs?: number } = {},
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const plan = await planTopics(admin, topics);
      if (plan.changes) await applyTopicPlan(admin, { ...plan, conflicts: [] });
      return;
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoffMs * attempt));
    }
  }
}
