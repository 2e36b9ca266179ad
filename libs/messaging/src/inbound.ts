import type { TopicDescriptor } from '@tideline/contracts';
import type { RegistryCodec } from './codec';
import { MessagingError } from './errors';
import {
  FAILURE_HEADERS,
  HEADER,
  headerProblem,
  parseHeaders,
  withoutFailureHeaders,
  type Headers,
  type ParsedHeaders,
  type RawHeaders,
} from './headers';
import type { RecordSigner } from './signing';

export interface InboundRecord {
  key: Buffer | null;
  value: Buffer | null;
  /** The record's usable headers (for a retry record: without the failure headers). */
  headers: Headers;
  /** Why the headers the runtime interprets are unusable; the record is then dead-lettered. */
  headerProblem?: string | undefined;
}

/** A consumed record as every consumer of the runtime reads it (handler, projection, table). */
export interface ConsumedRecord extends InboundRecord {
  /** Every header as read, with the failure headers of a retry record. */
  all: Headers;
  /** The headers as they came, for writing the record on to a retry or dead-letter topic. */
  parsed: ParsedHeaders;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads a kafkajs message's key, value and headers; never throws, whatever a Kafka client
 * wrote (null, empty, repeated or non-UTF-8 header values): what is wrong is in `headerProblem`
 * for `decodeInbound` to report inside the record's own try. `retried`: read from a retry
 * topic, so the failure headers are interpreted (and left out of `headers`).
 */
export function readInbound(
  message: { key: Buffer | null; value: Buffer | null; headers?: RawHeaders | undefined },
  retried = false,
): ConsumedRecord {
  const parsed = parseHeaders(message.headers);
  const all = parsed.values;
  return {
    key: message.key,
    value: message.value,
    all,
    parsed,
    headers: retried ? withoutFailureHeaders(all) : all,
    headerProblem: headerProblem(parsed, retried ? FAILURE_HEADERS : []),
  };
}

/** The record key as text; undefined when it is null or not UTF-8. */
export function keyText(key: Buffer | null): string | undefined {
  if (key === null) return undefined;
  try {
    return utf8.decode(key);
  } catch {
    return undefined;
  }
}

/**
 * Verifies and decodes one record of `topic` (the topic it was first written to, also for a
 * record read from a retry topic); a verified tombstone on a compacted topic decodes to null
 * (for the table and projections).
 * Throws a MessagingError whose code says why the record is unusable; only
 * TDL_MSG_REGISTRY_UNAVAILABLE is retryable.
 */
export async function decodeInbound<Value>(
  codec: RegistryCodec,
  signer: RecordSigner,
  topic: TopicDescriptor<Value>,
  record: InboundRecord,
): Promise<Value | null> {
  const cached = decodeInboundCached(codec, signer, topic, record, true);
  if (cached) return cached.value;
  return codec.decode(topic, record.value ?? Buffer.alloc(0));
}

/**
 * The synchronous part: checks the headers and key, verifies the record and decodes it when
 * its writer schema is cached. Undefined means "verified, but decode it with `codec.decode`"
 * (a new schema id).
 */
export function decodeInboundCached<Value>(
  codec: RegistryCodec,
  signer: RecordSigner,
  topic: TopicDescriptor<Value>,
  record: InboundRecord,
  /** Tombstones are values (null) for this reader: on a compacted topic they delete a key. */
  tombstones = false,
): { value: Value | null } | undefined {
  if (record.headerProblem !== undefined) {
    throw new MessagingError('TDL_MSG_HEADER_INVALID', `record on ${topic.name}: ${record.headerProblem}`);
  }
  if (keyText(record.key) === undefined) {
    throw new MessagingError(
      'TDL_MSG_KEY_INVALID',
      `record on ${topic.name} has ${record.key === null ? 'no key' : 'a key that is not UTF-8'}; the topic is keyed by ${topic.key}`,
    );
  }
  signer.verify(topic.name, record.key, record.value, record.headers);
  const eventType = record.headers[HEADER.eventType];
  if (eventType !== undefined && eventType !== topic.eventType) {
    throw new MessagingError(
      'TDL_MSG_EVENT_TYPE_MISMATCH',
      `record on ${topic.name} says it is a ${eventType}; the topic carries ${topic.eventType}`,
    );
  }
  if (record.value === null) {
    if (tombstones && topic.cleanup === 'compact') return { value: null };
    throw new MessagingError(
      'TDL_MSG_VALUE_MISSING',
      topic.cleanup === 'compact'
        ? `record on ${topic.name} has no value (a tombstone); this consumer handles values only`
        : `record on ${topic.name} has no value (a tombstone), but the topic is not compacted`,
    );
  }
  return codec.decodeCached(topic, record.value);
}
