import { orderPlacedTopic, productUpdatedTopic } from '@tideline/contracts';
import avro from 'avsc';
import { frame, invalidPaths, unframe } from './codec';
import { isMessagingError, MessagingError } from './errors';
import { backwardProblems } from './schema-admin';
import { desiredConfig } from './topic-admin';

describe('Confluent wire format', () => {
  it('frames a body behind magic byte 0 and a big-endian schema id', () => {
    const framed = frame(258, Buffer.from([7, 8]));
    expect([...framed]).toEqual([0, 0, 0, 1, 2, 7, 8]);
    expect(unframe(framed)).toEqual({ schemaId: 258, body: Buffer.from([7, 8]) });
  });

  it.each([
    ['a wrong magic byte', Buffer.from([1, 0, 0, 0, 1, 9]), /not the Confluent magic byte 0/],
    ['too few bytes', Buffer.from([0, 0, 1]), /has 3 bytes/],
    ['plain JSON', Buffer.from('{"orderId":"x"}'), /starts with byte 123/],
  ])('refuses %s as TDL_MSG_DECODE_FAILED, not retryable', (_what, bytes, message) => {
    let caught: unknown;
    try {
      unframe(bytes);
    } catch (error) {
      caught = error;
    }
    expect(isMessagingError(caught, 'TDL_MSG_DECODE_FAILED')).toBe(true);
    expect((caught as MessagingError).retryable).toBe(false);
    expect((caught as Error).message).toMatch(message);
  });
});

describe('validation messages name the field', () => {
  it('points at each invalid path of a value', () => {
    const paths = invalidPaths(orderPlacedTopic.valueType, {
      orderId: 'o',
      customerId: 'c',
      currency: 'EUR',
      lines: [{ sku: 's', quantity: 1.5 }],
      placedAt: 'yesterday',
    });
    expect(paths).toEqual(['lines.0.quantity', 'placedAt']);
  });

  it('names a new field without a default as a backward-incompatible change', () => {
    const schema = JSON.parse(JSON.stringify(orderPlacedTopic.valueSchema)) as { fields: unknown[] };
    schema.fields.push({ name: 'channel', type: 'string', doc: 'sales channel' });
    const reader = avro.Type.forSchema(schema as avro.Schema);
    expect(backwardProblems(reader, orderPlacedTopic.valueType)).toEqual([
      'no matching field for default-less dev.tideline.orders.OrderPlaced.channel',
    ]);
  });

  it('accepts a new optional field with a default', () => {
    const schema = JSON.parse(JSON.stringify(orderPlacedTopic.valueSchema)) as { fields: unknown[] };
    schema.fields.push({ name: 'channel', type: ['null', 'string'], default: null, doc: 'sales channel' });
    expect(backwardProblems(avro.Type.forSchema(schema as avro.Schema), orderPlacedTopic.valueType)).toEqual(
      [],
    );
  });
});

describe('topic configs from the catalog', () => {
  it('keeps deleted topics for their retention and compacted ones forever', () => {
    expect(desiredConfig(orderPlacedTopic)).toEqual({
      'cleanup.policy': 'delete',
      'retention.ms': '2592000000',
      'min.insync.replicas': '2',
      'unclean.leader.election.enable': 'false',
    });
    expect(desiredConfig(productUpdatedTopic)).toMatchObject({
      'cleanup.policy': 'compact',
      'retention.ms': '-1',
    });
  });
});
