import { createHash } from 'node:crypto';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The event id of a reaction: a function of its cause's event id, the topic and the key. Two
 * copies of one cause (an ambiguous publish retried with the same event id, a redelivery
 * outside a transaction) thus yield reactions with one event id, which every consumer that
 * deduplicates by event id treats as one event. A UUIDv7 carrying the cause's timestamp when
 * the cause is a UUIDv7 (so ids still sort by time), its other bits from a SHA-256.
 */
export function reactionEventId(causeEventId: string, topic: string, key: string): string {
  const digest = createHash('sha256').update(`${causeEventId}\n${topic}\n${key}`).digest('hex');
  const time = UUID_V7.test(causeEventId) ? causeEventId.replace(/-/g, '').slice(0, 12) : digest.slice(0, 12);
  const variant = ((parseInt(digest.charAt(15), 16) & 0x3) | 0x8).toString(16);
  const hex = `${time}7${digest.slice(12, 15)}${variant}${digest.slice(16, 31)}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`.toLowerCase();
}
