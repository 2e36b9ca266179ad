// The topic plan: how the cluster differs from the catalog, computed from a snapshot of the
// cluster (topic-admin.ts reads it and applies the plan). Pure, so every rule is unit-tested.
import type { ManagedTopic } from './group-topics';

/** The topic-level configs Tideline manages; anything else on a topic is left alone. */
export function desiredConfig(topic: ManagedTopic): Record<string, string> {
  return {
    'cleanup.policy': topic.cleanup,
    'retention.ms':
      topic.cleanup === 'compact' || topic.retentionMs === null ? '-1' : String(topic.retentionMs),
    'min.insync.replicas': String(topic.minInsyncReplicas),
    // Never elect an out-of-sync replica leader: that would drop acknowledged records.
    'unclean.leader.election.enable': 'false',
    ...(topic.maxMessageBytes === undefined ? {} : { 'max.message.bytes': String(topic.maxMessageBytes) }),
  };
}

export interface Durability {
  replicationFactor: number;
  minInsyncReplicas: number;
}

/**
 * A topic's durability under a development override of `replication` copies: the replication
 * factor at most `replication`; min.insync.replicas stays the catalog's. Kafka requires at most
 * as many in-sync copies as a partition has replicas (its effective min ISR), so on one broker a
 * write needs that broker, and the topic's settings are the production ones but for the copies.
 */
export function lowerDurability(durability: Durability, replication: number | undefined): Durability {
  if (replication === undefined || replication >= durability.replicationFactor) return durability;
  return { replicationFactor: replication, minInsyncReplicas: durability.minInsyncReplicas };
}

export interface PartitionState {
  partition: number;
  replicas: readonly number[];
  isr: readonly number[];
}

export interface ClusterTopic {
  partitions: readonly PartitionState[];
  /** The effective value of each config (the topic's own, else the broker's default). */
  config: ReadonlyMap<string, string>;
}

/** What planning reads from the cluster: its live brokers and the managed topics that exist. */
export interface ClusterSnapshot {
  brokers: readonly number[];
  topics: ReadonlyMap<string, ClusterTopic>;
}

export interface ReplicaAssignment {
  partition: number;
  replicas: number[];
}

export type TopicAction =
  | {
      kind: 'create';
      topic: string;
      partitions: number;
      replicationFactor: number;
      config: Record<string, string>;
    }
  | {
      kind: 'add-replicas';
      topic: string;
      from: number;
      to: number;
      /** The new replica list of every partition that gains replicas (its current ones first). */
      assignments: ReplicaAssignment[];
    }
  | { kind: 'add-partitions'; topic: string; from: number; to: number }
  | { kind: 'alter-config'; topic: string; changes: Record<string, { from: string | undefined; to: string }> }
  | {
      kind: 'conflict';
      topic: string;
      reason: string;
      /** The topic does not exist and cannot be created as the catalog says. */
      missing?: boolean;
    }
  | { kind: 'in-sync'; topic: string };

export interface DurabilityReport {
  /** Live brokers of the cluster. */
  brokers: number;
  /** The override (`--replication` / TOPIC_REPLICATION) the plan was made with, if any. */
  replication?: number;
  /** Each distinct lowering the override caused: the catalog's durability, what was planned, how many topics. */
  lowered: { from: Durability; to: Durability; topics: number }[];
}

export interface TopicPlan {
  actions: TopicAction[];
  /** True when applying would change something. */
  changes: boolean;
  /** Differences that cannot be applied in place (e.g. fewer partitions, too few brokers). */
  conflicts: TopicAction[];
  durability: DurabilityReport;
}

export interface PlanOptions {
  /** A development override: at most this many replicas (see lowerDurability). */
  replication?: number | undefined;
}

const brokerWord = (n: number) => `${n} broker${n === 1 ? '' : 's'}`;

function unmet(needed: number, brokers: number): string {
  return (
    `needs replication factor ${needed} and the cluster has ${brokerWord(brokers)}: add brokers` +
    (brokers > 0
      ? `, or for a development cluster choose --replication ${brokers} (TOPIC_REPLICATION=${brokers})`
      : '')
  );
}

/**
 * Replica lists that give every partition `to` replicas: its current replicas first (the
 * leader stays preferred), then the least loaded brokers (replicas of the planned topics,
 * those planned so far included), ties broken by rotating with the partition number.
 */
export function assignReplicas(
  partitions: readonly PartitionState[],
  to: number,
  brokers: readonly number[],
  load: Map<number, number>,
): ReplicaAssignment[] {
  const sorted = [...brokers].sort((a, b) => a - b);
  const assignments: ReplicaAssignment[] = [];
  for (const state of partitions) {
    if (state.replicas.length >= to) continue;
    const replicas = [...state.replicas];
    while (replicas.length < to) {
      const candidates = sorted
        .map((broker, index) => ({ broker, index }))
        .filter(({ broker }) => !replicas.includes(broker));
      if (candidates.length === 0) break;
      const rotation = (index: number) => (index - state.partition + sorted.length * 1000) % sorted.length;
      candidates.sort(
        (a, b) =>
          (load.get(a.broker) ?? 0) - (load.get(b.broker) ?? 0) || rotation(a.index) - rotation(b.index),
      );
      const chosen = (candidates[0] as { broker: number }).broker;
      replicas.push(chosen);
      load.set(chosen, (load.get(chosen) ?? 0) + 1);
    }
    assignments.push({ partition: state.partition, replicas });
  }
  return assignments;
}

/** Compares `topics` with the cluster snapshot. */
export function planAgainst(
  cluster: ClusterSnapshot,
  topics: readonly ManagedTopic[],
  options: PlanOptions = {},
): TopicPlan {
  const brokers = cluster.brokers.length;
  const load = new Map<number, number>();
  for (const topic of cluster.topics.values())
    for (const partition of topic.partitions)
      for (const replica of partition.replicas) load.set(replica, (load.get(replica) ?? 0) + 1);
  const lowered = new Map<string, { from: Durability; to: Durability; topics: number }>();

  const actions: TopicAction[] = [];
  for (const topic of topics) {
    const catalog = {
      replicationFactor: topic.replicationFactor,
      minInsyncReplicas: topic.minInsyncReplicas,
    };
    const target = lowerDurability(catalog, options.replication);
    if (target !== catalog) {
      const key = JSON.stringify([catalog, target]);
      const entry = lowered.get(key) ?? { from: catalog, to: target, topics: 0 };
      entry.topics += 1;
      lowered.set(key, entry);
    }
    const wanted = desiredConfig({ ...topic, ...target });
    const current = cluster.topics.get(topic.name);

    if (current === undefined) {
      if (target.replicationFactor > brokers) {
        actions.push({
          kind: 'conflict',
          topic: topic.name,
          reason: `cannot be created: ${unmet(target.replicationFactor, brokers)}`,
          missing: true,
        });
      } else {
        actions.push({
          kind: 'create',
          topic: topic.name,
          partitions: topic.partitions,
          replicationFactor: target.replicationFactor,
          config: wanted,
        });
      }
      continue;
    }

    const before = actions.length;
    const count = current.partitions.length;
    const replication = Math.min(...current.partitions.map((p) => p.replicas.length));
    if (replication < target.replicationFactor) {
      if (target.replicationFactor > brokers) {
        actions.push({
          kind: 'conflict',
          topic: topic.name,
          reason: `has replication factor ${replication}, below the catalog's ${target.replicationFactor}; ${unmet(target.replicationFactor, brokers)}`,
        });
      } else {
        actions.push({
          kind: 'add-replicas',
          topic: topic.name,
          from: replication,
          to: target.replicationFactor,
          assignments: assignReplicas(current.partitions, target.replicationFactor, cluster.brokers, load),
        });
      }
    }
    if (count > topic.partitions) {
      actions.push({
        kind: 'conflict',
        topic: topic.name,
        reason: `has ${count} partitions, the catalog says ${topic.partitions}; Kafka cannot remove partitions`,
      });
    } else if (count < topic.partitions) {
      actions.push({ kind: 'add-partitions', topic: topic.name, from: count, to: topic.partitions });
    }
    const changes: Record<string, { from: string | undefined; to: string }> = {};
    for (const [name, value] of Object.entries(wanted)) {
      if (current.config.get(name) !== value) changes[name] = { from: current.config.get(name), to: value };
    }
    if (Object.keys(changes).length > 0) actions.push({ kind: 'alter-config', topic: topic.name, changes });
    if (actions.length === before) actions.push({ kind: 'in-sync', topic: topic.name });
  }
  const conflicts = actions.filter((a) => a.kind === 'conflict');
  return {
    actions,
    conflicts,
    changes: actions.some((a) => a.kind !== 'in-sync' && a.kind !== 'conflict'),
    durability: {
      brokers,
      ...(options.replication !== undefined ? { replication: options.replication } : {}),
      lowered: [...lowered.values()],
    },
  };
}
