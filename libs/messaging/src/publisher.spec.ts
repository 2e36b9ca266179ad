import { orderPlacedTopic, type OrderPlaced } from '@tideline/contracts';
import type { Kafka } from 'kafkajs';
import type { RegistryCodec } from './codec';
import { isMessagingError, MessagingError } from './errors';
import { kafkaError, producerStateLost, Publisher, type LateOutcome } from './publisher';
import { RecordSigner } from './signing';

/** Plain objects shaped like kafkajs errors (name, type, retriable, message, cause). */
const connectionError = {
  name: 'KafkaJSConnectionError',
  message: 'Connection error: connect ECONNREFUSED 127.0.0.1:9092',
  retriable: true,
};
const protocolError = (type: string, retriable: boolean) => ({
  name: 'KafkaJSProtocolError',
  type,
  retriable,
  message: `protocol error ${type}`,
});
const retriesExceeded = (cause: object) => ({
  name: 'KafkaJSNumberOfRetriesExceeded',
  message: 'Number of retries exceeded',
  retriable: false,
  cause,
});

describe('kafkaError', () => {
  it.each<[string, object]>([
    ['a connection error', connectionError],
    ['a closed connection', { name: 'KafkaJSConnectionClosedError', message: 'Closed connection' }],
    ['a request timeout', { name: 'KafkaJSRequestTimeoutError', message: 'Request produce timed out' }],
    ['a missing broker', { name: 'KafkaJSBrokerNotFound', message: 'No brokers available' }],
    ['metadata not loaded', { name: 'KafkaJSMetadataNotLoaded', message: 'Metadata not loaded' }],
    ['a lock timeout', { name: 'KafkaJSLockTimeout', message: 'Timeout while acquiring lock' }],
    ['a retriable protocol error', protocolError('NOT_LEADER_FOR_PARTITION', true)],
    ['retries exhausted on a connection error', retriesExceeded(connectionError)],
    [
      'retries exhausted on a retriable protocol error',
      retriesExceeded(protocolError('LEADER_NOT_AVAILABLE', true)),
    ],
    ['retries exhausted without a cause', { name: 'KafkaJSNumberOfRetriesExceeded', message: 'gave up' }],
    ['an unknown error', new Error('something odd')],
  ])('maps %s to TDL_MSG_KAFKA_UNAVAILABLE, retryable', (_what, error) => {
    const mapped = kafkaError(error);
    expect(isMessagingError(mapped, 'TDL_MSG_KAFKA_UNAVAILABLE')).toBe(true);
    expect(mapped.retryable).toBe(true);
    expect(mapped.cause).toBe(error);
    expect(mapped.message).toBe(`Kafka did not acknowledge the records: ${(error as Error).message}`);
  });

  it.each<[string, object, string]>([
    ['a non-retriable protocol error', protocolError('MESSAGE_TOO_LARGE', false), 'MESSAGE_TOO_LARGE'],
    [
      'an unknown topic, even though kafkajs marks it retriable',
      protocolError('UNKNOWN_TOPIC_OR_PARTITION', true),
      'UNKNOWN_TOPIC_OR_PARTITION',
    ],
    [
      'retries exhausted on a non-retriable protocol error',
      retriesExceeded(protocolError('TOPIC_AUTHORIZATION_FAILED', false)),
      'TOPIC_AUTHORIZATION_FAILED',
    ],
    [
      'retries exhausted on an unknown topic',
      retriesExceeded(protocolError('UNKNOWN_TOPIC_OR_PARTITION', true)),
      'UNKNOWN_TOPIC_OR_PARTITION',
    ],
    [
      'nested retries exhausted on a non-retriable protocol error',
      retriesExceeded(retriesExceeded(protocolError('INVALID_RECORD', false))),
      'INVALID_RECORD',
    ],
  ])('maps %s to TDL_MSG_PUBLISH_REJECTED, not retryable, naming the type', (_what, error, type) => {
    const mapped = kafkaError(error);
    expect(isMessagingError(mapped, 'TDL_MSG_PUBLISH_REJECTED')).toBe(true);
    expect(mapped.retryable).toBe(false);
    expect(mapped.details).toEqual({ type });
    expect(mapped.cause).toBe(error);
    expect(mapped.message).toBe(`Kafka refused the records: ${(error as Error).message}`);
  });

  it('passes a MessagingError through unchanged', () => {
    const error = new MessagingError('TDL_MSG_PUBLISH_TIMEOUT', 'no acknowledgement in time');
    expect(kafkaError(error)).toBe(error);
  });

  it('uses the text of a thrown string as the message', () => {
    const mapped = kafkaError('broker went away');
    expect(mapped.code).toBe('TDL_MSG_KAFKA_UNAVAILABLE');
    expect(mapped.message).toBe('Kafka did not acknowledge the records: broker went away');
  });
});

describe('kafkaError on wrapped and odd errors', () => {
  // Regression: the retrier wraps a non-retriable error; it was reported as Kafka being unavailable.
  it('unwraps KafkaJSNonRetriableError to the protocol error inside', () => {
    const mapped = kafkaError({
      name: 'KafkaJSNonRetriableError',
      retriable: false,
      message: 'Not authorized',
      cause: { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false },
    });
    expect(mapped).toMatchObject({ code: 'TDL_MSG_PUBLISH_REJECTED', retryable: false });
  });

  it.each([null, undefined])('maps %s to TDL_MSG_KAFKA_UNAVAILABLE instead of throwing', (thrown) => {
    expect(kafkaError(thrown).code).toBe('TDL_MSG_KAFKA_UNAVAILABLE');
  });
});

describe('Publisher: the late outcome of a timed-out publish', () => {
  /** A kafkajs producer whose sendBatch settles after `ms` (Kafka answering late), or never. */
  function late(settle: 'ack' | 'fail', ms: number) {
    const producer = {
      connect: () => Promise.resolve(),
      disconnect: () => Promise.resolve(),
      sendBatch: () =>
        new Promise((resolve, reject) =>
          setTimeout(
            () =>
              settle === 'ack'
                ? resolve([{ topicName: orderPlacedTopic.name, partition: 0, baseOffset: '41' }])
                : reject(
                    Object.assign(new Error('Request timed out'), { name: 'KafkaJSRequestTimeoutError' }),
                  ),
            ms,
          ),
        ),
    };
    return new Publisher({
      kafka: { producer: () => producer } as unknown as Kafka,
      codec: { encode: () => Promise.resolve(Buffer.from('value')) } as unknown as RegistryCodec,
      signer: new RecordSigner({ defaultPolicy: 'off' }),
      service: 'test',
    });
  }
  const value = {} as OrderPlaced;

  it.each([
    [
      'acknowledged',
      'ack' as const,
      { acknowledged: true, position: expect.objectContaining({ topic: orderPlacedTopic.name }) as unknown },
    ],
    [
      'failed (still unknown)',
      'fail' as const,
      { acknowledged: false, error: expect.objectContaining({ details: { sent: true } }) as unknown },
    ],
  ])('tells the caller when the record is finally %s', async (_what, settle, outcome) => {
    const publisher = late(settle, 300);
    const outcomes: LateOutcome[] = [];
    let outcomesWhenRejected: LateOutcome[] | undefined;
    const told = new Promise<void>((resolve) => {
      const onLateOutcome = (o: LateOutcome) => {
        outcomes.push(o);
        resolve();
      };
      const published = publisher.publish(orderPlacedTopic, 'o-1', value, { timeoutMs: 50, onLateOutcome });
      void published.catch(() => (outcomesWhenRejected = [...outcomes]));
    });
    const rejection = publisher
      .publish(orderPlacedTopic, 'o-2', value, { timeoutMs: 50 })
      .catch((error: unknown) => error);
    expect(await rejection).toMatchObject({ code: 'TDL_MSG_PUBLISH_TIMEOUT', details: { sent: true } });
    await told;
    expect(outcomesWhenRejected).toEqual([]); // rejected first, told later
    expect(outcomes).toEqual([outcome]);
    await publisher.close();
  });

  it('does not call it for a publish that was answered in time', async () => {
    const publisher = late('ack', 10);
    const outcomes: LateOutcome[] = [];
    await publisher.publish(orderPlacedTopic, 'o-1', value, { onLateOutcome: (o) => outcomes.push(o) });
    await publisher.close();
    expect(outcomes).toEqual([]);
  });
});

describe('Publisher: producer state the broker refuses', () => {
  /** kafkajs as after a leader failover: the first producer's sequence numbers are refused, on every request. */
  function failover() {
    const made: { disconnected: boolean; requests: number }[] = [];
    const kafka = {
      producer: () => {
        const state = { disconnected: false, requests: 0 };
        const first = made.length === 0;
        made.push(state);
        return {
          connect: () => Promise.resolve(),
          disconnect: () => {
            state.disconnected = true;
            return Promise.resolve();
          },
          sendBatch: () => {
            state.requests += 1;
            return first
              ? Promise.reject(
                  Object.assign(new Error('The broker received an out of order sequence number'), {
                    name: 'KafkaJSProtocolError',
                    type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
                    retriable: false,
                  }),
                )
              : Promise.resolve([{ topicName: orderPlacedTopic.name, partition: 0, baseOffset: '7' }]);
          },
        };
      },
    };
    const publisher = new Publisher({
      kafka: kafka as unknown as Kafka,
      codec: { encode: () => Promise.resolve(Buffer.from('value')) } as unknown as RegistryCodec,
      signer: new RecordSigner({ defaultPolicy: 'off' }),
      service: 'test',
    });
    return { publisher, made };
  }
  const value = {} as OrderPlaced;

  it('answers a retryable, possibly written failure and publishes the retry on a new producer', async () => {
    const { publisher, made } = failover();
    const failed = await publisher.publish(orderPlacedTopic, 'o-1', value).catch((error: unknown) => error);
    expect(failed).toMatchObject({
      code: 'TDL_MSG_KAFKA_UNAVAILABLE',
      retryable: true,
      details: { sent: true, type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', producerReplaced: true },
    });
    const receipt = await publisher.publish(orderPlacedTopic, 'o-1', value);
    expect(receipt.topic).toBe(orderPlacedTopic.name); // acknowledged (the fake has no partitioner)
    expect(made).toEqual([
      { disconnected: true, requests: 1 },
      { disconnected: false, requests: 1 },
    ]);
    await publisher.close();
    expect(made[1]!.disconnected).toBe(true);
  });

  it.each(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH'])(
    'recognises %s, also wrapped by the retrier',
    (type) => {
      expect(producerStateLost({ name: 'KafkaJSNonRetriableError', cause: { type } })).toBe(type);
      expect(producerStateLost({ type: 'NOT_LEADER_FOR_PARTITION' })).toBeUndefined();
    },
  );
});
