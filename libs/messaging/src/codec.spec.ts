import { orderPlacedTopic, productUpdatedTopic } from '@tideline/contracts';
import net from 'node:net';
import avro from 'avsc';
import { RegistryCodec, frame, httpStatus, invalidPaths, registryUnreachable, unframe } from './codec';
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

describe('a registry that does not answer', () => {
  // A port nothing listens on: the Confluent client reports the refused connection as "status 400".
  const closedPort = async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  };

  it('is TDL_MSG_REGISTRY_UNAVAILABLE (retryable) for an encode, not a rejection of the record', async () => {
    const codec = new RegistryCodec({ registryUrl: `http://127.0.0.1:${await closedPort()}` });
    const order = {
      orderId: 'o-1',
      customerId: 'c-1',
      currency: 'EUR',
      lines: [{ sku: 'SKU-1', quantity: 1 }],
      placedAt: Date.now(),
    };
    const caught = await codec.encode(orderPlacedTopic, order).catch((error: unknown) => error);
    expect(caught).toMatchObject({ code: 'TDL_MSG_REGISTRY_UNAVAILABLE', retryable: true });
    expect(httpStatus((caught as MessagingError).cause)).toBe(400);
  });

  it('is TDL_MSG_REGISTRY_UNAVAILABLE for a decode of an unseen schema id', async () => {
    const codec = new RegistryCodec({ registryUrl: `http://127.0.0.1:${await closedPort()}` });
    const caught = await codec
      .decode(orderPlacedTopic, frame(7, Buffer.from([0])))
      .catch((error: unknown) => error);
    expect(caught).toMatchObject({ code: 'TDL_MSG_REGISTRY_UNAVAILABLE', retryable: true });
  });

  it.each([
    [{ status: 400, message: 'Error, status 400: connect ECONNREFUSED 127.0.0.1:8081' }, true],
    [{ status: 400, message: 'Error, status 400: socket hang up' }, true],
    [{ status: 503, message: 'Service Unavailable' }, true],
    [{ status: 408, message: 'Timeout after 3000ms' }, true],
    [{ code: 'ECONNRESET', message: 'read ECONNRESET' }, true],
    [{ status: 400, message: 'Invalid schema: field "x" has no type' }, false],
    [{ status: 401, message: 'Unauthorized' }, false],
    [{ status: 422, message: 'Schema being registered is invalid' }, false],
  ])('classifies %j as unreachable: %s', (error, unreachable) => {
    expect(registryUnreachable(error)).toBe(unreachable);
  });
});
