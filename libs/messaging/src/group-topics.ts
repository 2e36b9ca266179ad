import type { TopicDescriptor } from '@tideline/contracts';

/** What topic provisioning needs to know about a topic (catalog topics and group topics alike). */
export type ManagedTopic = Pick<
  TopicDescriptor<unknown>,
  'name' | 'partitions' | 'cleanup' | 'retentionMs' | 'replicationFactor' | 'minInsyncReplicas'
> & {
  /** max.message.bytes, when the topic needs more than the broker's default. */
  maxMessageBytes?: number;
};

/** A topic a group reads, as far as its retry and dead-letter topics are sized from it. */
export type GroupSource = Pick<ManagedTopic, 'partitions'> &
  Partial<Pick<ManagedTopic, 'replicationFactor' | 'minInsyncReplicas'>>;

/** Production durability (schemas/catalog.yaml's defaults), for a group whose sources do not say. */
const DEFAULT_REPLICATION_FACTOR = 3;
const DEFAULT_MIN_INSYNC_REPLICAS = 2;

export interface RetryPolicy {
  /** Delay before each retry; one retry topic per entry. Default 1 s, 10 s, 60 s. */
  delaysMs: readonly number[];
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  delaysMs: Object.freeze([1_000, 10_000, 60_000]),
});

const DAY_MS = 24 * 60 * 60 * 1000;
const RETRY_RETENTION_MS = 7 * DAY_MS;
const DEAD_LETTER_RETENTION_MS = 30 * DAY_MS;
/**
 * Retry and dead-letter records are their source record plus the failure headers (~2 KB), so
 * their topics take 2 MiB: a record at the broker's default limit (1 MiB) still gets its dead letter.
 */
export const GROUP_TOPIC_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

/** `<group>.retry.<n>` (n from 1): the n-th retry tier of a consumer group. */
export function retryTopicName(groupId: string, tier: number): string {
  return `${groupId}.retry.${tier}`;
}

/** `<group>.dlt`: where the group's records go when retrying cannot help. */
export function deadLetterTopicName(groupId: string): string {
  return `${groupId}.dlt`;
}

/**
 * The retry and dead-letter topics of a consumer group. They have as many partitions as
 * the widest topic the group reads (records keep their key, so per-key order holds), and
 * the durability of its most durable one: they hold the same records.
 */
export function groupTopics(
  groupId: string,
  sourceTopics: readonly GroupSource[],
  policy: RetryPolicy = defaultRetryPolicy,
): ManagedTopic[] {
  const partitions = Math.max(1, ...sourceTopics.map((t) => t.partitions));
  const strongest = (pick: (t: GroupSource) => number | undefined, fallback: number) => {
    const known = sourceTopics.map(pick).filter((n): n is number => n !== undefined);
    return known.length > 0 ? Math.max(...known) : fallback;
  };
  const durability = {
    replicationFactor: strongest((t) => t.replicationFactor, DEFAULT_REPLICATION_FACTOR),
    minInsyncReplicas: strongest((t) => t.minInsyncReplicas, DEFAULT_MIN_INSYNC_REPLICAS),
  };
  return [
    ...policy.delaysMs.map((_, index) => ({
      name: retryTopicName(groupId, index + 1),
      partitions,
      ...durability,
      cleanup: 'delete' as const,
      retentionMs: RETRY_RETENTION_MS,
      maxMessageBytes: GROUP_TOPIC_MAX_MESSAGE_BYTES,
    })),
    {
      name: deadLetterTopicName(groupId),
      partitions,
      ...durability,
      cleanup: 'delete' as const,
      retentionMs: DEAD_LETTER_RETENTION_MS,
      maxMessageBytes: GROUP_TOPIC_MAX_MESSAGE_BYTES,
    },
  ];
}

/** Every consumer group's retry and dead-letter topics, from the catalog's `consumers` lists. */
export function catalogGroupTopics(
  topics: readonly TopicDescriptor<unknown>[],
  policy: RetryPolicy = defaultRetryPolicy,
): ManagedTopic[] {
  const groups = new Map<string, TopicDescriptor<unknown>[]>();
  for (const topic of topics) {
    for (const group of topic.consumers) groups.set(group, [...(groups.get(group) ?? []), topic]);
  }
  return [...groups].flatMap(([group, sources]) => groupTopics(group, sources, policy));
}
