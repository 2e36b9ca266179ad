import { metricsEnabled } from '@tideline/observability';
import type { Consumer, Kafka } from 'kafkajs';
import type { RegistryCodec } from './codec';
import { assignedPartitions, rebalances } from './instrumentation';
import type { Logger } from './log';
import { Publisher } from './publisher';
import type { RecordSigner } from './signing';

/** Resolves true when `work` settles within `deadlineMs`, false when the deadline comes first. */
export async function settlesWithin(work: Promise<unknown>, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), deadlineMs);
  });
  try {
    return await Promise.race([work.then(() => true as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Logs a kafkajs consumer's group membership and crashes; `onJoin` gets each new assignment,
 * `onFatal` the error of a crash kafkajs does not restart from.
 */
export function watchGroup(
  consumer: Consumer,
  {
    groupId,
    logger,
    onJoin,
    onFatal,
  }: {
    groupId: string;
    logger: Logger;
    onJoin: (assignments: Record<string, number[]>) => void;
    onFatal: (error: Error) => void;
  },
): void {
  const { GROUP_JOIN, CRASH, REBALANCING } = consumer.events;
  consumer.on(REBALANCING, () => {
    logger.info({ groupId }, 'group rebalancing: partitions are being reassigned');
  });
  consumer.on(GROUP_JOIN, ({ payload }) => {
    onJoin(payload.memberAssignment);
    const partitions = Object.values(payload.memberAssignment).reduce((sum, list) => sum + list.length, 0);
    if (metricsEnabled()) {
      rebalances.inc({ group: groupId });
      assignedPartitions.set({ group: groupId }, partitions);
    }
    logger.info(
      { groupId, assignments: payload.memberAssignment, partitions, leader: payload.isLeader },
      'joined consumer group',
    );
  });
  consumer.on(CRASH, ({ payload }) => {
    logger.error({ groupId, err: payload.error, restart: payload.restart }, 'consumer crashed');
    if (!payload.restart) onFatal(payload.error);
  });
}

/** A kafkajs group consumer with the runtime's settings. */
export function createGroupConsumer(
  kafka: Kafka,
  options: {
    groupId: string;
    sessionTimeoutMs?: number | undefined;
    heartbeatIntervalMs?: number | undefined;
  },
): Consumer {
  return kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
    // Java's fetch.max.wait.ms: an idle long poll returns within 0.5 s, so stop() is quick.
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
  });
}

/** The publisher a consumer forwards failed records with: the given one, or its own (`owned`: close it on stop). */
export function forwardingPublisher(options: {
  kafka: Kafka;
  codec: RegistryCodec;
  signer: RecordSigner;
  groupId: string;
  publisher?: Publisher | undefined;
  service?: string | undefined;
}): { publisher: Publisher; owned: boolean } {
  if (options.publisher) return { publisher: options.publisher, owned: false };
  const { kafka, codec, signer } = options;
  return {
    publisher: new Publisher({ kafka, codec, signer, service: options.service ?? options.groupId }),
    owned: true,
  };
}
