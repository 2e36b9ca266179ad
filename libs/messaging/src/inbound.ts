import type { TopicDescriptor } from '@tideline/contracts';
import type { RegistryCodec } from './codec';
import { MessagingError } from './errors';
import { HEADER, type Headers } from './headers';
import type { RecordSigner } from './signing';

export interface InboundRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

/**
 * Verifies and decodes one record of `topic` (the topic it was first written to, also for a
 * record read from a retry topic); a verified tombstone decodes to null. Throws a
 * MessagingError whose code says why the record is unusable; only
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
  return record.value === null ? null : codec.decode(topic, record.value);
}

/**
 * The synchronous part: verifies the record and decodes it when its writer schema is
 * cached. Undefined means "verified, but decode it with `codec.decode`" (a new schema id).
 */
export function decodeInboundCached<Value>(
  codec: RegistryCodec,
  signer: RecordSigner,
  topic: TopicDescriptor<Value>,
  record: InboundRecord,
  tombstones = false,
): { value: Value | null } | undefined {
  signer.verify(topic.name, record.key, record.value, record.headers);
  const eventType = record.headers[HEADER.eventType];
  if (eventType !== undefined && eventType !== topic.eventType) {
    throw new MessagingError(
      'TDL_MSG_EVENT_TYPE_MISMATCH',
      `record on ${topic.name} says it is a ${eventType}; the topic carries ${topic.eventType}`,
    );
  }
  if (record.value === null) {
    if (tombstones) return { value: null };
    throw new MessagingError('TDL_MSG_DECODE_FAILED', `record on ${topic.name} has no value (a tombstone)`);
  }
  return codec.decodeCached(topic, record.value);
}
