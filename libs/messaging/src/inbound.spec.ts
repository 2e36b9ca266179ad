import { orderPlacedTopic, productUpdatedTopic } from '@tideline/contracts';
import { RegistryCodec } from './codec';
import { isMessagingError } from './errors';
import { HEADER } from './headers';
import { decodeInboundCached, keyText, readInbound } from './inbound';
import { RecordSigner } from './signing';

// No registry call happens: every record here is refused before its value is decoded.
const codec = new RegistryCodec({ registryUrl: 'http://127.0.0.1:9/apis/ccompat/v7' });
const signer = RecordSigner.disabled();

function refusal(
  message: Parameters<typeof readInbound>[0],
  topic: typeof orderPlacedTopic | typeof productUpdatedTopic = orderPlacedTopic,
  tombstones = false,
): string | undefined {
  try {
    decodeInboundCached(codec, signer, topic as typeof orderPlacedTopic, readInbound(message), tombstones);
    return undefined;
  } catch (error) {
    return isMessagingError(error) ? `${error.code}: ${error.message}` : `untyped: ${String(error)}`;
  }
}

const key = Buffer.from('order-1');
const value = Buffer.from([0, 0, 0, 0, 1, 2]);

describe('decodeInboundCached refuses every odd record shape with a typed reason', () => {
  it.each([
    [
      'a null header value',
      { key, value, headers: { [HEADER.correlationId]: null } },
      'TDL_MSG_HEADER_INVALID: record on orders.order-placed.v1: header tdl-correlation-id has a null value',
    ],
    [
      'an event id given twice',
      { key, value, headers: { [HEADER.eventId]: [Buffer.from('a'), Buffer.from('b')] } },
      'TDL_MSG_HEADER_INVALID: record on orders.order-placed.v1: header ce_id is given 2 times',
    ],
    [
      'a null key',
      { key: null, value },
      'TDL_MSG_KEY_INVALID: record on orders.order-placed.v1 has no key; the topic is keyed by orderId',
    ],
    [
      'a key that is not UTF-8',
      { key: Buffer.from([0xff]), value },
      'TDL_MSG_KEY_INVALID: record on orders.order-placed.v1 has a key that is not UTF-8; the topic is keyed by orderId',
    ],
    [
      'a null value on a topic that is not compacted',
      { key, value: null },
      'TDL_MSG_VALUE_MISSING: record on orders.order-placed.v1 has no value (a tombstone), but the topic is not compacted',
    ],
    [
      'an unknown magic byte',
      { key, value: Buffer.from([7, 0, 0, 0, 1, 2]) },
      'TDL_MSG_DECODE_FAILED: record value starts with byte 7, not the Confluent magic byte 0',
    ],
  ])('%s', (_shape, message, reason) => {
    expect(refusal(message)).toBe(reason);
  });

  it('takes a tombstone on a compacted topic as a deletion, for readers of tombstones only', () => {
    const tombstone = { key: Buffer.from('SKU-1'), value: null };
    expect(refusal(tombstone, productUpdatedTopic, true)).toBeUndefined();
    expect(refusal(tombstone, productUpdatedTopic)).toMatch(/^TDL_MSG_VALUE_MISSING: .*handles values only/);
  });

  it('interprets the failure headers of a record read from a retry topic only', () => {
    const message = { key, value, headers: { [HEADER.originalTopic]: [Buffer.from('a'), Buffer.from('b')] } };
    expect(readInbound(message).headerProblem).toBeUndefined();
    expect(readInbound(message, true).headerProblem).toBe('header tdl-original-topic is given 2 times');
    expect(readInbound(message, true).headers[HEADER.originalTopic]).toBeUndefined();
  });
});

describe('keyText', () => {
  it('reads UTF-8 keys and refuses null and invalid bytes', () => {
    expect(keyText(Buffer.from('größe'))).toBe('größe');
    expect(keyText(null)).toBeUndefined();
    expect(keyText(Buffer.from([0xc3]))).toBeUndefined();
  });
});
