import { createHash } from 'node:crypto';
import { FAILURE_HEADERS, HEADER, type Headers, type ParsedHeaders, type WireHeaders } from './headers';

/**
 * A handler's way to say what went wrong: `retryable: false` sends the record to the
 * dead-letter topic at once; `retryable: true` to the retry topics. A handler never throws
 * for a business outcome (it publishes a rejection instead).
 */
export class ProcessingError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'ProcessingError';
  }
}

export interface Failure {
  code: string;
  message: string;
  retryable: boolean;
  fingerprint: string;
}

// Our codes, pg SQLSTATEs (57P01), Node codes (ECONNREFUSED); not free text.
const CODE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{1,63}$/;

/**
 * How the runtime reads any thrown value: an error's own `code` and `retryable` when it
 * has them (MessagingError, ProcessingError, pg and Node errors); unknown errors are
 * retryable with code TDL_MSG_HANDLER_FAILED.
 */
export function describeFailure(error: unknown, topic: string): Failure {
  const object = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    retryable?: unknown;
    message?: unknown;
    name?: unknown;
  };
  const code =
    typeof object.code === 'string' && CODE.test(object.code) ? object.code : 'TDL_MSG_HANDLER_FAILED';
  const message =
    typeof object.message === 'string' && object.message !== ''
      ? object.message
      : typeof error === 'string' && error !== ''
        ? error
        : typeof object.name === 'string' && object.name !== ''
          ? object.name
          : `non-error thrown: ${typeof error}`;
  const retryable = typeof object.retryable === 'boolean' ? object.retryable : true;
  return { code, message, retryable, fingerprint: fingerprint(topic, code, message) };
}

/**
 * Stable across occurrences of the same failure: ids, numbers, offsets and quoted values
 * are masked before hashing, so "order 0193… not found" and "order 0194… not found" group together.
 */
export function fingerprint(topic: string, code: string, message: string): string {
  const shape = message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    // Quoted values; an apostrophe inside a word (can't) is not a quote.
    .replace(/"[^"]*"|(?<![A-Za-z])'[^']*'(?![A-Za-z])/g, '<str>')
    .replace(/\b[0-9a-f]{16,}\b/gi, '<hex>')
    .replace(/\d+(\.\d+)?/g, '<n>')
    .slice(0, 500);
  return createHash('sha256').update(`${topic}\n${code}\n${shape}`).digest('hex').slice(0, 16);
}

/** The parts of a consumed record that failure headers describe. */
export interface FailedMessage {
  offset: string;
  timestamp: string;
}

/**
 * The headers of a failed record on its way to a retry tier (`retryDueAt` given) or the
 * dead-letter topic: its own headers plus where it came from (the first topic, also when it
 * failed again on a retry topic), how often it failed, when, and why.
 */
export function failureHeaders(args: {
  groupId: string;
  /** The topic and partition it was read from now. */
  topic: string;
  partition: number;
  message: FailedMessage;
  headers: Headers;
  /** It was read from a retry topic: its original-* headers are kept. */
  retried: boolean;
  attempt: number;
  failure: Failure;
  now: number;
  retryDueAt?: number | undefined;
}): Headers {
  const { headers, retried, message, failure, now } = args;
  const forwarded: Headers = {
    ...headers,
    [HEADER.group]: args.groupId,
    [HEADER.originalTopic]: retried ? (headers[HEADER.originalTopic] ?? args.topic) : args.topic,
    [HEADER.originalPartition]: retried ? (headers[HEADER.originalPartition] ?? '') : String(args.partition),
    [HEADER.originalOffset]: retried ? (headers[HEADER.originalOffset] ?? '') : message.offset,
    [HEADER.originalTimestamp]: retried ? (headers[HEADER.originalTimestamp] ?? '') : message.timestamp,
    [HEADER.attempts]: String(args.attempt),
    [HEADER.firstFailureAt]: headers[HEADER.firstFailureAt] ?? new Date(now).toISOString(),
    [HEADER.lastFailureAt]: new Date(now).toISOString(),
    [HEADER.errorCode]: failure.code,
    [HEADER.errorMessage]: failure.message.slice(0, 1000),
    [HEADER.errorFingerprint]: failure.fingerprint,
  };
  delete forwarded[HEADER.retryDueAt];
  delete forwarded[HEADER.deadLetteredAt];
  if (args.retryDueAt !== undefined) forwarded[HEADER.retryDueAt] = String(args.retryDueAt);
  else forwarded[HEADER.deadLetteredAt] = new Date(now).toISOString();
  return forwarded;
}

/**
 * The headers a forwarded record is written with: the original's headers as they came (bytes,
 * repeated names in their order; what `failureHeaders` computed over them), then the failure
 * headers. kafkajs cannot write a null header value, so a null-valued header is left out and
 * named in `tdl-null-headers` (a JSON array, one entry per null value, kept across tiers).
 * Interleaving of different names is not kept (kafkajs groups a record's headers by name).
 */
export function forwardedHeaders(parsed: ParsedHeaders, failure: Headers): WireHeaders {
  const forwarded: WireHeaders = { ...parsed.wire };
  for (const name of [...FAILURE_HEADERS, HEADER.nullHeaders]) delete forwarded[name];
  for (const name of FAILURE_HEADERS) {
    const value = failure[name];
    if (value !== undefined) forwarded[name] = value;
  }
  const nulls = [...earlierNulls(parsed), ...parsed.nulls];
  if (nulls.length > 0) forwarded[HEADER.nullHeaders] = JSON.stringify(nulls);
  return forwarded;
}

function earlierNulls(parsed: ParsedHeaders): string[] {
  const earlier = parsed.values[HEADER.nullHeaders];
  if (earlier === undefined) return [];
  try {
    const names: unknown = JSON.parse(earlier);
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
  } catch {
    return [];
  }
}
