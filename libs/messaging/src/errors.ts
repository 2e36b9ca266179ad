/**
 * Every error this library throws. Codes are stable strings, described with their fix in
 * docs/reference/errors.md (a test keeps the two in step); a retired code is never reused. `retryable` tells the
 * runtime whether trying again can help.
 */
export const messagingErrorCodes = {
  TDL_MSG_DECODE_FAILED: { retryable: false },
  TDL_MSG_UNKNOWN_SCHEMA_ID: { retryable: false },
  TDL_MSG_SCHEMA_MISMATCH: { retryable: false },
  TDL_MSG_ENCODE_INVALID: { retryable: false },
  TDL_MSG_SCHEMA_NOT_REGISTERED: { retryable: false },
  TDL_MSG_SCHEMA_INCOMPATIBLE: { retryable: false },
  TDL_MSG_REGISTRY_REJECTED: { retryable: false },
  TDL_MSG_REGISTRY_UNAVAILABLE: { retryable: true },
  TDL_MSG_KAFKA_UNAVAILABLE: { retryable: true },
  TDL_MSG_TOPIC_CONFLICT: { retryable: false },
  TDL_MSG_PUBLISH_TIMEOUT: { retryable: true },
  TDL_MSG_PUBLISH_REJECTED: { retryable: false },
  TDL_MSG_PUBLISHER_CLOSED: { retryable: false },
  TDL_MSG_SIGNATURE_MISSING: { retryable: false },
  TDL_MSG_SIGNATURE_INVALID: { retryable: false },
  TDL_MSG_SIGNATURE_UNKNOWN_KEY: { retryable: false },
  TDL_MSG_EVENT_TYPE_MISMATCH: { retryable: false },
  TDL_MSG_HANDLER_FAILED: { retryable: true },
  TDL_MSG_GROUP_ACTIVE: { retryable: false },
  TDL_MSG_UNKNOWN_GROUP: { retryable: false },
  TDL_MSG_UNKNOWN_TOPIC: { retryable: false },
  TDL_MSG_INVALID_OFFSET_SPEC: { retryable: false },
  TDL_MSG_REDRIVE_FENCED: { retryable: false },
  TDL_MSG_READ_STALLED: { retryable: true },
  TDL_MSG_HEADER_INVALID: { retryable: false },
  TDL_MSG_KEY_INVALID: { retryable: false },
  TDL_MSG_VALUE_MISSING: { retryable: false },
  TDL_MSG_REASSIGNMENT_INCOMPLETE: { retryable: true },
  TDL_MSG_PRODUCER_FENCED: { retryable: true },
  TDL_MSG_TRANSACTION_TIMEOUT: { retryable: true },
} as const;

export type MessagingErrorCode = keyof typeof messagingErrorCodes;

export class MessagingError extends Error {
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(
    readonly code: MessagingErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'MessagingError';
    this.retryable = messagingErrorCodes[code].retryable;
    this.details = options.details ?? {};
  }
}

/** An admin call that failed for a reason of Kafka's, not the caller's: Kafka did not answer. */
export function kafkaUnavailable(error: unknown): MessagingError {
  if (error instanceof MessagingError) return error;
  return new MessagingError(
    'TDL_MSG_KAFKA_UNAVAILABLE',
    `Kafka did not answer: ${(error as Error).message}`,
    {
      cause: error,
    },
  );
}

/** The kafkajs error type (e.g. `UNKNOWN_TOPIC_OR_PARTITION`) of an error or of one of its causes. */
export function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = current.cause ?? (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}

export function isMessagingError(error: unknown, code?: MessagingErrorCode): error is MessagingError {
  return error instanceof MessagingError && (code === undefined || error.code === code);
}
