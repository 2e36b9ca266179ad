import type { TopicDescriptor } from '@tideline/contracts';

/** What topic provisioning needs to know about a topic (catalog topics and group topics alike). */
export type ManagedTopic = Pick<TopicDescriptor<unknown>, 'name' | 'partitions' | 'cleanup' | 'retentionMs'>;

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
 * the widest topic the group reads (records keep their key, so per-key order holds).
 */
export function groupTopics(
  groupId: string,
  sourceTopics: readonly Pick<ManagedTopic, 'partitions'>[],
  policy: RetryPolicy = defaultRetryPolicy,
): ManagedTopic[] {
  const partitions = Math.max(1, ...sourceTopics.map((t) => t.partitions));
  return [
    ...policy.delaysMs.map((_, index) => ({
      name: retryTopicName(groupId, index + 1),
      partitions,
      cleanup: 'delete' as const,
      retentionMs: RETRY_RETENTION_MS,
    })),
    {
      name: deadLetterTopicName(groupId),
      partitions,
      cleanup: 'delete' as const,
      retentionMs: DEAD_LETTER_RETENTION_MS,
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
