import type { Admin, ITopicConfig } from 'kafkajs';
import { MessagingError, kafkaErrorType, kafkaUnavailable } from './errors';
import { groupTopics, type GroupSource, type ManagedTopic, type RetryPolicy } from './group-topics';
import {
  planAgainst,
  type ClusterSnapshot,
  type ClusterTopic,
  type Durability,
  type PlanOptions,
  type TopicAction,
  type TopicPlan,
} from './topic-plan';

export { desiredConfig } from './topic-plan';
export type { DurabilityReport, PlanOptions, TopicAction, TopicPlan } from './topic-plan';

const TOPIC = 2; // ConfigResourceTypes.TOPIC
const DYNAMIC_TOPIC_CONFIG = 1; // ConfigSource

/** The cluster's live brokers, and the partitions and configs of those of `names` that exist. */
async function snapshot(admin: Admin, names: readonly string[]): Promise<ClusterSnapshot> {
  const existing = new Set(await admin.listTopics());
  const present = [...new Set(names)].filter((name) => existing.has(name));
  const { brokers } = await admin.describeCluster();
  if (present.length === 0) return { brokers: brokers.map((b) => b.nodeId), topics: new Map() };
  const metadata = await admin.fetchTopicMetadata({ topics: present });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((name) => ({ type: TOPIC, name })),
  });
  const configs = new Map(
    described.resources.map((r) => [
      r.resourceName,
      new Map(r.configEntries.map((e) => [e.configName, e.configValue])),
    ]),
  );
  const topics = new Map<string, ClusterTopic>(
    metadata.topics.map((t) => [
      t.name,
      {
        partitions: t.partitions.map((p) => ({ partition: p.partitionId, replicas: p.replicas, isr: p.isr })),
        config: configs.get(t.name) ?? new Map(),
      },
    ]),
  );
  return { brokers: brokers.map((b) => b.nodeId), topics };
}

/** Compares the catalog's topics with the cluster. Changes nothing. */
export async function planTopics(
  admin: Admin,
  topics: readonly ManagedTopic[],
  options: PlanOptions = {},
): Promise<TopicPlan> {
  try {
    return planAgainst(
      await snapshot(
        admin,
        topics.map((t) => t.name),
      ),
      topics,
      options,
    );
  } catch (error) {
    throw kafkaUnavailable(error);
  }
}

export interface ApplyOptions {
  /** How long to wait for new replicas to catch up (default 10 minutes). */
  reassignmentTimeoutMs?: number;
  /** Called while new replicas catch up, with the partitions still copying. */
  onReassignment?: (pending: { topic: string; partition: number }[]) => void;
}

function byKind<K extends TopicAction['kind']>(
  plan: TopicPlan,
  kind: K,
): Extract<TopicAction, { kind: K }>[] {
  return plan.actions.filter((a): a is Extract<TopicAction, { kind: K }> => a.kind === kind);
}

/**
 * Waits until every reassigned partition has exactly its new replicas, all in sync. The
 * copy runs in Kafka; a timeout leaves it running there.
 */
async function awaitReplicas(
  admin: Admin,
  moves: Extract<TopicAction, { kind: 'add-replicas' }>[],
  { reassignmentTimeoutMs = 600_000, onReassignment }: ApplyOptions,
): Promise<void> {
  const deadline = Date.now() + reassignmentTimeoutMs;
  for (;;) {
    const metadata = await admin.fetchTopicMetadata({ topics: moves.map((m) => m.topic) });
    const pending = moves.flatMap((move) => {
      const partitions = metadata.topics.find((t) => t.name === move.topic)?.partitions ?? [];
      return move.assignments
        .filter(({ partition, replicas }) => {
          const state = partitions.find((p) => p.partitionId === partition);
          return (
            state === undefined ||
            state.replicas.length !== replicas.length ||
            replicas.some((r) => !state.replicas.includes(r) || !state.isr.includes(r))
          );
        })
        .map(({ partition }) => ({ topic: move.topic, partition }));
    });
    if (pending.length === 0) return;
    onReassignment?.(pending);
    if (Date.now() > deadline) {
      throw new MessagingError(
        'TDL_MSG_REASSIGNMENT_INCOMPLETE',
        `new replicas of ${pending.length} partition(s) (${pending
          .slice(0, 5)
          .map((p) => `${p.topic}-${p.partition}`)
          .join(
            ', ',
          )}${pending.length > 5 ? ', …' : ''}) are not in sync after ${Math.round(reassignmentTimeoutMs / 1000)} s; Kafka goes on copying: run \`tideline topics apply --execute\` again later`,
        { details: { pending } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Creates topics and waits until every partition has a leader in the metadata the cluster
 * answers with. kafkajs's own `waitForLeaders` retries only LEADER_NOT_AVAILABLE; on a cluster
 * of several brokers, one that has not seen the new topic yet answers UNKNOWN_TOPIC_OR_PARTITION
 * and kafkajs fails although the topics were created. Both mean "not yet" here, until `timeoutMs`.
 */
export async function createTopicsAndWait(
  admin: Admin,
  topics: ITopicConfig[],
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  await admin.createTopics({ waitForLeaders: false, topics });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: described } = await admin.fetchTopicMetadata({ topics: names });
      const led = described.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (led && described.length === names.length) return;
    } catch (error) {
      const type = kafkaErrorType(error);
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw error;
    }
    if (Date.now() >= deadline)
      throw new MessagingError(
        'TDL_MSG_KAFKA_UNAVAILABLE',
        `created ${names.join(', ')}, but not every partition had a leader after ${timeoutMs} ms`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Applies a plan made by planTopics. Refuses a plan with conflicts. New replicas come first
 * (a partition reassignment, waited for until they are in sync), so min.insync.replicas is
 * raised only once the copies exist and new partitions get the raised replication factor.
 */
export async function applyTopicPlan(
  admin: Admin,
  plan: TopicPlan,
  options: ApplyOptions = {},
): Promise<void> {
  if (plan.conflicts.length > 0) {
    const reasons = plan.conflicts.map((c) => (c.kind === 'conflict' ? `${c.topic} ${c.reason}` : c.topic));
    throw new MessagingError('TDL_MSG_TOPIC_CONFLICT', `cannot apply the topic plan: ${reasons.join('; ')}`);
  }
  try {
    const creates = byKind(plan, 'create');
    if (creates.length > 0) {
      await createTopicsAndWait(
        admin,
        creates.map((a) => ({
          topic: a.topic,
          numPartitions: a.partitions,
          replicationFactor: a.replicationFactor,
          configEntries: Object.entries(a.config).map(([name, value]) => ({ name, value })),
        })),
      );
    }
    const moves = byKind(plan, 'add-replicas');
    if (moves.length > 0) {
      await admin.alterPartitionReassignments({
        topics: moves.map((m) => ({ topic: m.topic, partitionAssignment: m.assignments })),
      });
      await awaitReplicas(admin, moves, options);
    }
    const growth = byKind(plan, 'add-partitions');
    if (growth.length > 0) {
      await admin.createPartitions({ topicPartitions: growth.map((a) => ({ topic: a.topic, count: a.to })) });
    }
    for (const alter of byKind(plan, 'alter-config')) {
      // Non-incremental alterConfigs replaces the topic's whole override set: send the full desired set.
      const current = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: TOPIC, name: alter.topic }],
      });
      const overrides = Object.fromEntries(
        (current.resources[0]?.configEntries ?? [])
          .filter((e) => !e.isDefault && !e.readOnly && (e.configSource as number) === DYNAMIC_TOPIC_CONFIG)
          .map((e) => [e.configName, e.configValue]),
      );
      for (const [name, change] of Object.entries(alter.changes)) overrides[name] = change.to;
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: TOPIC,
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
 * What a service may fix on its own at start: missing topics, partitions and configs. Moving
 * replicas is left to `tideline topics apply` (an operator's step, reported by `topics plan`),
 * and so is raising min.insync.replicas of a topic that waits for them: while new replicas copy,
 * Kafka counts them in the partition's replicas, so a higher min ISR would refuse acks=all
 * writes until they are in sync (apply raises it once they are).
 */
function serviceShare(plan: TopicPlan): TopicPlan {
  const waiting = new Set(byKind(plan, 'add-replicas').map((a) => a.topic));
  const actions = plan.actions.flatMap((action): TopicAction[] => {
    if (action.kind === 'add-replicas') return [];
    if (action.kind !== 'alter-config' || !waiting.has(action.topic)) return [action];
    const { 'min.insync.replicas': _waits, ...changes } = action.changes;
    return Object.keys(changes).length > 0 ? [{ ...action, changes }] : [];
  });
  return { ...plan, actions, conflicts: [] };
}

/**
 * Creates or fixes `topics` until the cluster matches (conflicts on existing topics left
 * alone), retrying a few times: right after a creation the cluster's metadata can lag ("does
 * not host this topic-partition"), and several instances starting at once race to create the
 * same topics. A topic that cannot be created (too few brokers) is an error.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly ManagedTopic[],
  {
    attempts = 5,
    backoffMs = 500,
    replication,
  }: { attempts?: number; backoffMs?: number } & PlanOptions = {},
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const plan = await planTopics(admin, topics, { replication });
      const missing = plan.conflicts.filter((c) => c.kind === 'conflict' && c.missing);
      if (missing.length > 0) {
        throw new MessagingError(
          'TDL_MSG_TOPIC_CONFLICT',
          missing.map((c) => (c.kind === 'conflict' ? `${c.topic} ${c.reason}` : c.topic)).join('; '),
        );
      }
      const share = serviceShare(plan);
      if (share.actions.some((a) => a.kind !== 'in-sync' && a.kind !== 'conflict'))
        await applyTopicPlan(admin, share);
      return;
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoffMs * attempt));
    }
  }
}

/** The replication factor (fewest replicas of a partition) and min.insync.replicas of each existing topic of `names`. */
export async function topicDurability(
  admin: Admin,
  names: readonly string[],
): Promise<Map<string, Durability>> {
  try {
    const { topics } = await snapshot(admin, names);
    return new Map(
      [...topics].map(([name, topic]) => [
        name,
        {
          replicationFactor: Math.min(...topic.partitions.map((p) => p.replicas.length)),
          minInsyncReplicas: Number(topic.config.get('min.insync.replicas') ?? 1),
        },
      ]),
    );
  } catch (error) {
    throw kafkaUnavailable(error);
  }
}

/**
 * Provisions a consumer group's retry and dead-letter topics with the durability its source
 * topics have on the cluster (they hold the same records): as `tideline topics apply` made
 * them, with or without a development override, so a service needs no setting of its own.
 * A source that does not exist yet counts with the catalog's durability.
 */
export async function ensureGroupTopics(
  admin: Admin,
  groupId: string,
  sources: readonly (GroupSource & { name: string })[],
  policy?: RetryPolicy,
): Promise<void> {
  const actual = await topicDurability(
    admin,
    sources.map((s) => s.name),
  );
  await ensureTopics(
    admin,
    groupTopics(
      groupId,
      sources.map((source) => ({ ...source, ...actual.get(source.name) })),
      policy,
    ),
  );
}
