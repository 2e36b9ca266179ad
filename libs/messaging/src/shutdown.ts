import type { Logger } from './log';
import { silentLogger } from './log';

export interface ShutdownOptions {
  /** How long `stop` may take before the process exits anyway. Default 10 s. */
  deadlineMs?: number;
  signals?: readonly NodeJS.Signals[];
  logger?: Logger;
  /** For tests; defaults to process.exit. */
  exit?: (code: number) => void;
}

/**
 * On the first SIGTERM/SIGINT runs `stop` (stop fetching, finish in-flight work, commit,
 * leave the group) and exits 0, or 1 when it failed or passed the deadline. A second signal
 * exits at once with 130. Returns a function that removes the handlers.
 */
export function exitOnSignal(stop: () => Promise<unknown>, options: ShutdownOptions = {}): () => void {
  const { deadlineMs = 10_000, signals = ['SIGTERM', 'SIGINT'], logger = silentLogger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without finishing in-flight work');
      exit(130);
      return;
    }
    stopping = true;
    logger.info({ signal, deadlineMs }, 'shutting down: finishing in-flight work');
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown passed its deadline: exiting');
      exit(1);
    }, deadlineMs);
    deadline.unref();
    stop().then(
      () => {
        clearTimeout(deadline);
        logger.info({}, 'shutdown complete');
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
