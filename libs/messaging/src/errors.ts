/**
 * Every error this library throws. Codes are stable strings, listed with their fix in
 * docs/reference/errors.md; a retired code is never reused. `retryable` tells the
 * runtime whether trying again can help.
 */
export const messagingErrorCodes = {
  TDL_MSG_DECODE_FAILED: {
    retryable: false,
    summary: 'record bytes are not a valid Confluent-framed Avro value',
  },
  TDL_MSG_UNKNOWN_SCHEMA_ID: {
    retryable: false,
    summary: 'the record names a schema id the registry does not know',
  },
  TDL_MSG_SCHEMA_MISMATCH: {
    retryable: false,
    summary: "the writer's schema cannot be read with the reader's schema",
  },
  TDL_MSG_ENCODE_INVALID: { retryable: false, summary: 'the value does not match the topic schema' },
  TDL_MSG_SCHEMA_NOT_REGISTERED: {
    retryable: false,
    summary: 'the local schema is not registered under the subject',
  },
  TDL_MSG_SCHEMA_INCOMPATIBLE: { retryable: false, summary: 'the registry refused a schema as incompatible' },
  TDL_MSG_REGISTRY_REJECTED: {
    retryable: false,
    summary: 'the schema registry refused a request (bad schema, auth, limits)',
  },
  TDL_MSG_REGISTRY_UNAVAILABLE: { retryable: true, summary: 'the schema registry did not answer' },
  TDL_MSG_KAFKA_UNAVAILABLE: { retryable: true, summary: 'Kafka did not answer' },
  TDL_MSG_TOPIC_CONFLICT: {
    retryable: false,
    summary: 'a topic exists with settings that cannot be changed in place',
  },
} as const;

export type MessagingErrorCode = keyof typeof messagingErrorCodes;

export class MessagingError extends Error {
  readonly retryable: boolean;

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

  readonly details: Record<string, unknown>;
}

export function isMessagingError(error: unknown, code?: MessagingErrorCode): error is MessagingError {
  return error instanceof MessagingError && (code === undefined || error.code === code);
}
