import type { Consumer } from 'kafkajs';
import type { Logger } from './log';

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
  const { GROUP_JOIN, CRASH } = consumer.events;
  consumer.on(GROUP_JOIN, ({ payload }) => {
    onJoin(payload.memberAssignment);
    logger.info(
      { groupId, assignments: payload.memberAssignment, leader: payload.isLeader },
      'joined consumer group',
    );
  });
  consumer.on(CRASH, ({ payload }) => {
    logger.error({ groupId, err: payload.error, restart: payload.restart }, 'consumer crashed');
    if (!payload.restart) onFatal(payload.error);
  });
}
