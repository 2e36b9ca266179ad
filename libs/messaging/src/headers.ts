import type { IHeaders } from 'kafkajs';

/**
 * Record header names. Identity headers follow the CloudEvents Kafka binding (binary mode,
 * `ce_` prefix) so generic tooling can read them; Tideline's own headers use `tdl-`.
 */
export const HEADER = {
  specVersion: 'ce_specversion',
  eventId: 'ce_id',
  eventType: 'ce_type',
  producer: 'ce_source',
  producedAt: 'ce_time',
  contentType: 'content-type',
  correlationId: 'tdl-correlation-id',
  causationId: 'tdl-causation-id',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  signature: 'tdl-signature',
  signatureKeyId: 'tdl-signature-key-id',
  // Added when a record moves to a retry or dead-letter topic.
  group: 'tdl-consumer-group',
  originalTopic: 'tdl-original-topic',
  originalPartition: 'tdl-original-partition',
  originalOffset: 'tdl-original-offset',
  originalTimestamp: 'tdl-original-timestamp',
  attempts: 'tdl-attempts',
  firstFailureAt: 'tdl-first-failure-at',
  lastFailureAt: 'tdl-last-failure-at',
  retryDueAt: 'tdl-retry-due-at',
  errorCode: 'tdl-error-code',
  errorMessage: 'tdl-error-message',
  errorFingerprint: 'tdl-error-fingerprint',
  deadLetteredAt: 'tdl-dead-lettered-at',
  // Redrive (tideline dlq redrive): on the redriven record, and on the marker it leaves in the dead-letter topic.
  redrivenFrom: 'tdl-redriven-from',
  redriveOf: 'tdl-redrive-of',
  redrivenTo: 'tdl-redriven-to',
  redrivenAt: 'tdl-redriven-at',
} as const;

/** The failure headers a retry or dead-letter record adds; a redrive strips them. */
export const FAILURE_HEADERS: readonly string[] = [
  HEADER.group,
  HEADER.originalTopic,
  HEADER.originalPartition,
  HEADER.originalOffset,
  HEADER.originalTimestamp,
  HEADER.attempts,
  HEADER.firstFailureAt,
  HEADER.lastFailureAt,
  HEADER.retryDueAt,
  HEADER.errorCode,
  HEADER.errorMessage,
  HEADER.errorFingerprint,
  HEADER.deadLetteredAt,
];

export const AVRO_CONTENT_TYPE = 'application/vnd.apache.avro+binary';

/** Headers as Tideline handles them: one string value per name. */
export type Headers = Record<string, string>;

/** The identity every record carries, read from its headers. */
export interface EventIdentity {
  eventId: string;
  eventType: string;
  correlationId: string;
  causationId: string | undefined;
  producer: string;
  producedAt: string;
  traceparent: string | undefined;
}

/** kafkajs headers (Buffer | string | array, possibly undefined) → one string per name (the last wins). */
export function readHeaders(raw: IHeaders | undefined): Headers {
  const headers: Headers = {};
  if (!raw) return headers;
  for (const [name, value] of Object.entries(raw)) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    headers[name] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return headers;
}

export function identityOf(headers: Headers): EventIdentity {
  return {
    eventId: headers[HEADER.eventId] ?? '',
    eventType: headers[HEADER.eventType] ?? '',
    correlationId: headers[HEADER.correlationId] ?? '',
    causationId: headers[HEADER.causationId],
    producer: headers[HEADER.producer] ?? '',
    producedAt: headers[HEADER.producedAt] ?? '',
    traceparent: headers[HEADER.traceparent],
  };
}

/** Headers without the failure metadata (what a redrive or the handler sees as the original). */
export function withoutFailureHeaders(headers: Headers): Headers {
  const copy = { ...headers };
  for (const name of FAILURE_HEADERS) delete copy[name];
  return copy;
}
