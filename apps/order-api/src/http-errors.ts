import { isMessagingError } from '@tideline/messaging';
import type { DependencyUnavailable } from '@tideline/http';
import { IdempotencyStoreError } from './idempotency';

/** Dependencies that can come back: the caller should retry (and nothing was published). */
function unavailableCode(error: unknown): string | undefined {
  if (isMessagingError(error) && error.retryable) return error.code;
  if (error instanceof IdempotencyStoreError) return error.code;
  return undefined;
}

/**
 * Kafka, the schema registry or PostgreSQL did not answer: @tideline/http's error handler
 * answers 503 with Retry-After. An unknown outcome (the record was sent) never gets here:
 * `accept` answers it with the outcome-unknown problem, which names the event.
 */
export function dependencyUnavailable(error: unknown): DependencyUnavailable | undefined {
  const code = unavailableCode(error);
  if (code === undefined) return undefined;
  return {
    code,
    detail:
      'A dependency (Kafka, the schema registry or PostgreSQL) did not answer; nothing was published. Retry.',
  };
}
