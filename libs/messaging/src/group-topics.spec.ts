import { allTopics } from '@tideline/contracts';
import { desiredConfig } from './topic-admin';
import {
  catalogGroupTopics,
  deadLetterTopicName,
  defaultRetryPolicy,
  groupTopics,
  retryTopicName,
  type ManagedTopic,
} from './group-topics';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('group topic names', () => {
  it('names the n-th retry tier <group>.retry.<n>, counting from 1', () => {
    expect(retryTopicName('order-processor', 1)).toBe('order-processor.retry.1');
    expect(retryTopicName('order-processor', 3)).toBe('order-processor.retry.3');
  });

  it('names the dead-letter topic <group>.dlt', () => {
    expect(deadLetterTopicName('order-projection')).toBe('order-projection.dlt');
  });
});

describe('groupTopics', () => {
  it('creates one retry topic per default delay (1 s, 10 s, 60 s) and a dead-letter topic', () => {
    expect(defaultRetryPolicy.delaysMs).toEqual([1_000, 10_000, 60_000]);
    expect(groupTopics('g', [{ partitions: 4 }]).map((t) => t.name)).toEqual([
      'g.retry.1',
      'g.retry.2',
      'g.retry.3',
      'g.dlt',
    ]);
  });

  it('creates one retry topic per delay of a custom policy, in order', () => {
    const topics = groupTopics('g', [{ partitions: 2 }], { delaysMs: [500, 5_000] });
    expect(topics.map((t) => t.name)).toEqual(['g.retry.1', 'g.retry.2', 'g.dlt']);
  });

  it('creates only the dead-letter topic when the policy has no delays', () => {
    expect(groupTopics('g', [{ partitions: 2 }], { delaysMs: [] }).map((t) => t.name)).toEqual(['g.dlt']);
  });

  it('gives every topic as many partitions as the widest source topic', () => {
    const topics = groupTopics('g', [{ partitions: 3 }, { partitions: 12 }, { partitions: 6 }]);
    expect(topics.map((t) => t.partitions)).toEqual([12, 12, 12, 12]);
  });

  it('gives one partition when the group reads no topic', () => {
    expect(groupTopics('g', []).map((t) => t.partitions)).toEqual([1, 1, 1, 1]);
  });

  const production = { replicationFactor: 3, minInsyncReplicas: 2 };

  it('gives them the durability of the most durable topic the group reads, production durability when none says', () => {
    const durability = (sources: Parameters<typeof groupTopics>[1]) =>
      groupTopics('g', sources).map((t) => [t.replicationFactor, t.minInsyncReplicas]);
    expect(
      durability([
        { partitions: 1, replicationFactor: 1, minInsyncReplicas: 1 },
        { partitions: 1, replicationFactor: 3, minInsyncReplicas: 2 },
      ]),
    ).toEqual(Array(4).fill([3, 2]));
    expect(durability([{ partitions: 1, replicationFactor: 1, minInsyncReplicas: 1 }])).toEqual(
      Array(4).fill([1, 1]),
    );
    expect(durability([{ partitions: 1 }])).toEqual(Array(4).fill([3, 2]));
  });

  it('keeps retry records for 7 days and dead letters for 30 days, with delete cleanup and room for 2 MiB records', () => {
    const topics = groupTopics('g', [{ partitions: 1 }]);
    const room = { maxMessageBytes: 2 * 1024 * 1024 };
    expect(topics).toEqual<ManagedTopic[]>([
      {
        name: 'g.retry.1',
        partitions: 1,
        ...production,
        cleanup: 'delete',
        retentionMs: 7 * DAY_MS,
        ...room,
      },
      {
        name: 'g.retry.2',
        partitions: 1,
        ...production,
        cleanup: 'delete',
        retentionMs: 7 * DAY_MS,
        ...room,
      },
      {
        name: 'g.retry.3',
        partitions: 1,
        ...production,
        cleanup: 'delete',
        retentionMs: 7 * DAY_MS,
        ...room,
      },
      { name: 'g.dlt', partitions: 1, ...production, cleanup: 'delete', retentionMs: 30 * DAY_MS, ...room },
    ]);
    expect(desiredConfig(topics[3]!)['max.message.bytes']).toBe(String(2 * 1024 * 1024));
  });

  it('uses delete cleanup even when a source topic is compacted', () => {
    const topics = groupTopics('g', [{ partitions: 3, cleanup: 'compact' } as ManagedTopic]);
    expect(topics.every((t) => t.cleanup === 'delete')).toBe(true);
  });
});

describe('catalogGroupTopics over the real catalog', () => {
  const topics = catalogGroupTopics(allTopics);

  it('yields retry and dead-letter topics for every consumer group with the widest partition count', () => {
    expect(topics.map((t) => [t.name, t.partitions])).toEqual([
      ['order-processor.retry.1', 6],
      ['order-processor.retry.2', 6],
      ['order-processor.retry.3', 6],
      ['order-processor.dlt', 6],
      ['order-projection.retry.1', 6],
      ['order-projection.retry.2', 6],
      ['order-projection.retry.3', 6],
      ['order-projection.dlt', 6],
      ['sales-projection.retry.1', 6],
      ['sales-projection.retry.2', 6],
      ['sales-projection.retry.3', 6],
      ['sales-projection.dlt', 6],
    ]);
  });

  it('sizes order-processor by its widest topic, not its 3-partition product topic', () => {
    const read = allTopics.filter((t) => t.consumers.includes('order-processor')).map((t) => t.partitions);
    expect(Math.min(...read)).toBe(3);
    expect(topics.find((t) => t.name === 'order-processor.dlt')?.partitions).toBe(Math.max(...read));
  });

  it('lists each topic once and none that clashes with a catalog topic', () => {
    const names = topics.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    const catalog = new Set(allTopics.map((t) => t.name));
    expect(names.filter((name) => catalog.has(name))).toEqual([]);
  });

  it('follows a custom retry policy', () => {
    const custom = catalogGroupTopics(allTopics, { delaysMs: [30_000] });
    expect(custom.map((t) => t.name)).toEqual([
      'order-processor.retry.1',
      'order-processor.dlt',
      'order-projection.retry.1',
      'order-projection.dlt',
      'sales-projection.retry.1',
      'sales-projection.dlt',
    ]);
  });

  it('yields nothing for topics nobody consumes', () => {
    expect(catalogGroupTopics(allTopics.map((t) => ({ ...t, consumers: [] })))).toEqual([]);
  });
});
