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
  // On a forwarded record: names of the original's headers whose value was null (kafkajs cannot write null).
  nullHeaders: 'tdl-null-headers',
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

/** The identity headers a record's signature covers, in the order they are signed. */
export function signedHeaders(): readonly string[] {
  return [
    HEADER.eventId,
    HEADER.eventType,
    HEADER.correlationId,
    HEADER.causationId,
    HEADER.producer,
    HEADER.producedAt,
  ];
}

/** Header values as kafkajs hands them over: a Buffer, a string, null (legal in Kafka), or one per occurrence. */
export type RawHeaderValue = Buffer | string | null | undefined;
export type RawHeaders = Record<string, RawHeaderValue | RawHeaderValue[]>;

/** Headers as the runtime writes them back: bytes (or strings) per name, in the order they came. */
export type WireHeaders = Record<string, Buffer | string | (Buffer | string)[]>;

/**
 * The headers the runtime interprets: a value of one of these that is null, empty, given twice
 * or not UTF-8 makes the record unusable (TDL_MSG_HEADER_INVALID). Identity and signature
 * headers are signed as one string each, so a second value would be ambiguous (which one was
 * signed, which one does a Java reader's `lastHeader` see?).
 */
export const IDENTITY_HEADERS: readonly string[] = [
  ...signedHeaders(),
  HEADER.signature,
  HEADER.signatureKeyId,
];

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** One header name as read: its single usable value, or why it has none. */
function readValue(values: readonly RawHeaderValue[]): { value: string } | { problem: string } {
  if (values.length > 1) return { problem: `is given ${values.length} times` };
  const only = values[0];
  if (only === null) return { problem: 'has a null value' };
  if (only === undefined) return { problem: 'has no value' };
  if (typeof only === 'string') return { value: only };
  try {
    return { value: utf8.decode(only) };
  } catch {
    return { problem: 'is not valid UTF-8' };
  }
}

/** A record's headers, read without ever throwing: usable values, what is wrong with the others, and the original bytes. */
export interface ParsedHeaders {
  /** Each header with exactly one non-null, UTF-8 value. */
  values: Headers;
  /** By header name: why it has no usable value (null, given twice, not UTF-8). */
  problems: ReadonlyMap<string, string>;
  /** Every header as it came, null values left out (kafkajs cannot write them): for forwarding. */
  wire: WireHeaders;
  /** Names of headers with a null value, once per occurrence. */
  nulls: string[];
}

/**
 * Reads kafkajs headers (Buffer | string | null | array) and never throws: any header a Kafka
 * client can legally write gets an answer here, not a TypeError outside the record's try.
 */
export function parseHeaders(raw: RawHeaders | undefined): ParsedHeaders {
  const values: Headers = Object.create(null) as Headers;
  const problems = new Map<string, string>();
  const wire: WireHeaders = Object.create(null) as WireHeaders;
  const nulls: string[] = [];
  if (raw) {
    for (const name of Object.keys(raw)) {
      const given = raw[name];
      const all = Array.isArray(given) ? given : [given];
      if (all.length === 0 || (all.length === 1 && all[0] === undefined)) continue;
      const read = readValue(all);
      if ('value' in read) values[name] = read.value;
      else problems.set(name, read.problem);
      const kept: (Buffer | string)[] = [];
      for (const value of all) {
        if (value === null || value === undefined) nulls.push(name);
        else kept.push(value);
      }
      if (kept.length === 1) wire[name] = kept[0]!;
      else if (kept.length > 1) wire[name] = kept;
    }
  }
  return { values: { ...values }, problems, wire: { ...wire }, nulls };
}

/**
 * The first problem among the headers the runtime interprets on this record (the identity
 * and signature headers, plus `also`), as a sentence; undefined when they are all usable.
 * An empty identity or signature header counts as a problem too (CloudEvents: non-empty).
 */
export function headerProblem(parsed: ParsedHeaders, also: readonly string[] = []): string | undefined {
  for (const name of [...IDENTITY_HEADERS, ...also]) {
    const problem = parsed.problems.get(name);
    if (problem !== undefined) return `header ${name} ${problem}`;
    if (IDENTITY_HEADERS.includes(name) && parsed.values[name] === '') return `header ${name} is empty`;
  }
  return undefined;
}

/**
 * kafkajs headers → one string per name (the last non-null value wins, decoded as UTF-8), for
 * tools that show records; never throws. The consumers read with `parseHeaders` instead.
 */
export function readHeaders(raw: RawHeaders | undefined): Headers {
  const headers: Headers = {};
  if (!raw) return headers;
  for (const [name, value] of Object.entries(raw)) {
    const present = (Array.isArray(value) ? value : [value]).filter(
      (v): v is Buffer | string => v !== null && v !== undefined,
    );
    const last = present[present.length - 1];
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
