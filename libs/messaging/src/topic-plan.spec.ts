import type { ManagedTopic } from './group-topics';
import {
  assignReplicas,
  desiredConfig,
  lowerDurability,
  planAgainst,
  type ClusterSnapshot,
  type ClusterTopic,
} from './topic-plan';

const topic: ManagedTopic = {
  name: 'orders.thing.v1',
  partitions: 3,
  replicationFactor: 3,
  minInsyncReplicas: 2,
  cleanup: 'delete',
  retentionMs: 86_400_000,
};

/** A topic as the cluster has it: `replicas[i]` is partition i's replica list (all in sync). */
function existing(replicas: number[][], config: Record<string, string> = {}): ClusterTopic {
  return {
    partitions: replicas.map((r, partition) => ({ partition, replicas: r, isr: r })),
    config: new Map(Object.entries({ ...desiredConfig(topic), ...config })),
  };
}

const cluster = (brokers: number[], topics: Record<string, ClusterTopic> = {}): ClusterSnapshot => ({
  brokers,
  topics: new Map(Object.entries(topics)),
});

describe('lowerDurability (the development override)', () => {
  it('caps the replication factor and keeps the catalog min.insync.replicas (Kafka caps it at the replicas there are)', () => {
    const production = { replicationFactor: 3, minInsyncReplicas: 2 };
    expect(lowerDurability(production, undefined)).toBe(production);
    expect(lowerDurability(production, 3)).toBe(production);
    expect(lowerDurability(production, 5)).toBe(production);
    expect(lowerDurability(production, 2)).toEqual({ replicationFactor: 2, minInsyncReplicas: 2 });
    expect(lowerDurability(production, 1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 2 });
  });
});

describe('planAgainst', () => {
  it('creates a missing topic with the catalog replication factor and min.insync.replicas', () => {
    const plan = planAgainst(cluster([1, 2, 3]), [topic]);
    expect(plan.actions).toEqual([
      {
        kind: 'create',
        topic: topic.name,
        partitions: 3,
        replicationFactor: 3,
        config: {
          'cleanup.policy': 'delete',
          'retention.ms': '86400000',
          'min.insync.replicas': '2',
          'unclean.leader.election.enable': 'false',
        },
      },
    ]);
    expect(plan.durability).toEqual({ brokers: 3, lowered: [] });
  });

  it('refuses to create a production topic on a cluster with too few brokers, naming the broker count and the override', () => {
    const plan = planAgainst(cluster([1]), [topic]);
    expect(plan.changes).toBe(false);
    expect(plan.conflicts).toEqual([
      {
        kind: 'conflict',
        topic: topic.name,
        reason:
          'cannot be created: needs replication factor 3 and the cluster has 1 broker: add brokers, or for a development cluster choose --replication 1 (TOPIC_REPLICATION=1)',
        missing: true,
      },
    ]);
  });

  it('with an explicit override creates at the lowered durability and reports the lowering', () => {
    const plan = planAgainst(cluster([1]), [topic, { ...topic, name: 'orders.other.v1' }], {
      replication: 1,
    });
    expect(
      plan.actions.map((a) =>
        a.kind === 'create' ? [a.replicationFactor, a.config['min.insync.replicas']] : a.kind,
      ),
    ).toEqual([
      [1, '2'],
      [1, '2'],
    ]);
    expect(plan.durability).toEqual({
      brokers: 1,
      replication: 1,
      lowered: [
        {
          from: { replicationFactor: 3, minInsyncReplicas: 2 },
          to: { replicationFactor: 1, minInsyncReplicas: 2 },
          topics: 2,
        },
      ],
    });
  });

  it('reports a min.insync.replicas below the catalog as a config change', () => {
    const plan = planAgainst(cluster([1, 2, 3]), [topic], {});
    expect(plan.actions[0]?.kind).toBe('create');
    const below = planAgainst(
      cluster([1, 2, 3], {
        [topic.name]: existing(
          [
            [1, 2, 3],
            [2, 3, 1],
            [3, 1, 2],
          ],
          { 'min.insync.replicas': '1' },
        ),
      }),
      [topic],
    );
    expect(below.actions).toEqual([
      { kind: 'alter-config', topic: topic.name, changes: { 'min.insync.replicas': { from: '1', to: '2' } } },
    ]);
  });

  it('plans new replicas for a topic below the catalog replication factor, then its min.insync.replicas', () => {
    const plan = planAgainst(
      cluster([1, 2, 3], { [topic.name]: existing([[1], [2], [3]], { 'min.insync.replicas': '1' }) }),
      [topic],
    );
    expect(plan.conflicts).toEqual([]);
    expect(plan.actions).toEqual([
      {
        kind: 'add-replicas',
        topic: topic.name,
        from: 1,
        to: 3,
        assignments: [
          { partition: 0, replicas: [1, 2, 3] },
          { partition: 1, replicas: [2, 1, 3] },
          { partition: 2, replicas: [3, 1, 2] },
        ],
      },
      { kind: 'alter-config', topic: topic.name, changes: { 'min.insync.replicas': { from: '1', to: '2' } } },
    ]);
  });

  it('reports a replication factor the cluster cannot give', () => {
    const plan = planAgainst(
      cluster([1], { [topic.name]: existing([[1], [1], [1]], { 'min.insync.replicas': '1' }) }),
      [topic],
    );
    expect(plan.actions).toEqual([
      {
        kind: 'conflict',
        topic: topic.name,
        reason:
          "has replication factor 1, below the catalog's 3; needs replication factor 3 and the cluster has 1 broker: add brokers, or for a development cluster choose --replication 1 (TOPIC_REPLICATION=1)",
      },
      { kind: 'alter-config', topic: topic.name, changes: { 'min.insync.replicas': { from: '1', to: '2' } } },
    ]);
  });

  it('leaves a topic with more replicas than the catalog alone', () => {
    const plan = planAgainst(cluster([1, 2, 3, 4]), [{ ...topic, partitions: 1 }]);
    expect(plan.actions[0]?.kind).toBe('create');
    const more = planAgainst(cluster([1, 2, 3, 4], { [topic.name]: existing([[1, 2, 3, 4]]) }), [
      { ...topic, partitions: 1 },
    ]);
    expect(more.actions).toEqual([{ kind: 'in-sync', topic: topic.name }]);
  });

  it('with the override, reports and fixes min.insync.replicas below the catalog on a one-broker development topic', () => {
    const plan = planAgainst(
      cluster([1], { [topic.name]: existing([[1], [1], [1]], { 'min.insync.replicas': '1' }) }),
      [topic],
      { replication: 1 },
    );
    expect(plan.actions).toEqual([
      { kind: 'alter-config', topic: topic.name, changes: { 'min.insync.replicas': { from: '1', to: '2' } } },
    ]);
    const fixed = planAgainst(cluster([1], { [topic.name]: existing([[1], [1], [1]]) }), [topic], {
      replication: 1,
    });
    expect(fixed.actions).toEqual([{ kind: 'in-sync', topic: topic.name }]);
    expect(fixed.changes).toBe(false);
  });

  it('still reports partitions it cannot remove and grows the ones it can', () => {
    const fewer = planAgainst(cluster([1, 2, 3], { [topic.name]: existing([[1, 2, 3]]) }), [topic]);
    expect(fewer.actions).toEqual([{ kind: 'add-partitions', topic: topic.name, from: 1, to: 3 }]);
    const more = planAgainst(
      cluster([1, 2, 3], {
        [topic.name]: existing([
          [1, 2, 3],
          [2, 3, 1],
          [3, 1, 2],
          [1, 2, 3],
        ]),
      }),
      [topic],
    );
    expect(more.conflicts).toHaveLength(1);
  });
});

describe('assignReplicas', () => {
  it('keeps the current replicas first and spreads the new ones over the least loaded brokers', () => {
    const load = new Map([
      [1, 2],
      [2, 0],
      [3, 0],
    ]);
    const assignments = assignReplicas(
      [
        { partition: 0, replicas: [1], isr: [1] },
        { partition: 1, replicas: [1], isr: [1] },
        { partition: 2, replicas: [1, 2, 3], isr: [1, 2, 3] },
      ],
      3,
      [1, 2, 3],
      load,
    );
    expect(assignments).toEqual([
      { partition: 0, replicas: [1, 2, 3] },
      { partition: 1, replicas: [1, 2, 3] },
    ]);
    expect(Object.fromEntries(load)).toEqual({ 1: 2, 2: 2, 3: 2 });
  });
});
