import { isMessagingError } from '@tideline/messaging';
import type { DependencyUnavailable } from '@tideline/http';
import { IdempotencyStoreError } from './idempotency';

/** Dependencies that can come back: the caller should retry (and nothing was published). */
function unavailableCode(error: unknown): string | undefined {
  if (isMessagingError(error) && error.retryable) return error.code;
  if (error instanceof IdempotencyStoreError) return error.code;
  return undefined;
}

/** A publish timeout after the record was handed to the producer: the outcome is unknown (details.sent). */
function mayHaveBeenWritten(error: unknown): boolean {
  return isMessagingError(error, 'TDL_MSG_PUBLISH_TIMEOUT') && error.details['sent'] !== false;
}

/**
 * Kafka, the schema registry or PostgreSQL did not answer: @tideline/http's error handler
 * answers 503 with Retry-After, saying whether the event may have been written.
 */
export function dependencyUnavailable(error: unknown): DependencyUnavailable | undefined {
  const code = unavailableCode(error);
  if (code === undefined) return undefined;
  return {
    code,
    detail: mayHaveBeenWritten(error)
      ? 'Kafka did not acknowledge the event in time; it may or may not have been written. Consumers deduplicate by event id.'
      : 'A dependency (Kafka, the schema registry or PostgreSQL) did not answer; nothing was published. Retry.',
  };
}
