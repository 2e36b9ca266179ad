import {
  deadLetterOf,
  matchesFilter,
  redriveMarker,
  redrivenRecord,
  summarizeDeadLetters,
  type DeadLetter,
  type DeadLetterRecord,
} from './dead-letters';
import { HEADER } from './headers';
import type { TopicRecord } from './topic-reader';

const letter = (overrides: Partial<DeadLetter>): DeadLetter => ({
  partition: 0,
  offset: '0',
  timestamp: 1_000,
  key: 'order-1',
  originalTopic: 'orders.order-placed.v1',
  originalPartition: 2,
  originalOffset: '41',
  errorCode: 'BAD_SKU',
  errorMessage: 'sku "X" is unknown',
  fingerprint: 'aaaa000011112222',
  attempts: 1,
  eventId: 'e-1',
  ...overrides,
});

const failureHeaders = {
  [HEADER.eventId]: 'e-1',
  [HEADER.correlationId]: 'c-1',
  [HEADER.traceparent]: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  [HEADER.signature]: 'sig',
  [HEADER.group]: 'order-processor',
  [HEADER.originalTopic]: 'orders.order-placed.v1',
  [HEADER.originalPartition]: '2',
  [HEADER.originalOffset]: '41',
  [HEADER.originalTimestamp]: '900',
  [HEADER.attempts]: '4',
  [HEADER.firstFailureAt]: '2026-11-23T10:00:00.000Z',
  [HEADER.lastFailureAt]: '2026-11-23T10:01:00.000Z',
  [HEADER.errorCode]: 'BAD_SKU',
  [HEADER.errorMessage]: 'sku "X" is unknown',
  [HEADER.errorFingerprint]: 'aaaa000011112222',
  [HEADER.deadLetteredAt]: '2026-11-23T10:01:00.000Z',
};

const record = (headers: Record<string, string>, offset = '7'): TopicRecord => ({
  topic: 'order-processor.dlt',
  partition: 1,
  offset,
  timestamp: 5_000,
  key: Buffer.from('order-1'),
  value: Buffer.from([0, 0, 0, 0, 1, 2]),
  headers,
});

describe('dead letters', () => {
  it('reads a dead letter from its failure headers, and a redrive marker as no dead letter', () => {
    expect(deadLetterOf(record(failureHeaders))).toEqual({
      partition: 1,
      offset: '7',
      timestamp: 5_000,
      key: 'order-1',
      originalTopic: 'orders.order-placed.v1',
      originalPartition: 2,
      originalOffset: '41',
      errorCode: 'BAD_SKU',
      errorMessage: 'sku "X" is unknown',
      fingerprint: 'aaaa000011112222',
      attempts: 4,
      eventId: 'e-1',
    });
    expect(deadLetterOf(record({ [HEADER.redriveOf]: '1:7' }, '8'))).toBeUndefined();
  });

  it('filters by original topic, fingerprint prefix and time', () => {
    const l = letter({ timestamp: 5_000 });
    expect(matchesFilter(l, {})).toBe(true);
    expect(matchesFilter(l, { topic: 'orders.order-placed.v1', fingerprint: 'aaaa', since: 5_000 })).toBe(
      true,
    );
    expect(matchesFilter(l, { topic: 'orders.order-cancelled.v1' })).toBe(false);
    expect(matchesFilter(l, { fingerprint: 'bbbb' })).toBe(false);
    expect(matchesFilter(l, { since: 5_001 })).toBe(false);
  });

  it('groups by fingerprint and topic with counts and first/last seen, most frequent first', () => {
    const summary = summarizeDeadLetters([
      letter({ timestamp: 300, errorMessage: 'sku "B" is unknown' }),
      letter({ timestamp: 100, errorMessage: 'sku "A" is unknown' }),
      letter({
        fingerprint: 'ffff',
        errorCode: 'TDL_MSG_DECODE_FAILED',
        errorMessage: 'bad bytes',
        timestamp: 50,
      }),
      letter({ timestamp: 200 }),
    ]);
    expect(summary).toEqual([
      {
        fingerprint: 'aaaa000011112222',
        topic: 'orders.order-placed.v1',
        errorCode: 'BAD_SKU',
        errorMessage: 'sku "A" is unknown',
        count: 3,
        firstSeen: 100,
        lastSeen: 300,
      },
      {
        fingerprint: 'ffff',
        topic: 'orders.order-placed.v1',
        errorCode: 'TDL_MSG_DECODE_FAILED',
        errorMessage: 'bad bytes',
        count: 1,
        firstSeen: 50,
        lastSeen: 50,
      },
    ]);
  });

  const dead: DeadLetterRecord = {
    ...letter({ partition: 1, offset: '7' }),
    value: Buffer.from([0, 1]),
    headers: failureHeaders,
  };

  it('redrives to the original topic with the original headers, without failure headers, naming the dead letter', () => {
    expect(redrivenRecord(dead, 'order-processor', { kind: 'original' }, 9_000)).toEqual({
      topic: 'orders.order-placed.v1',
      key: Buffer.from('order-1'),
      value: Buffer.from([0, 1]),
      headers: {
        [HEADER.eventId]: 'e-1',
        [HEADER.correlationId]: 'c-1',
        [HEADER.traceparent]: failureHeaders[HEADER.traceparent],
        [HEADER.signature]: 'sig',
        [HEADER.redrivenFrom]: 'order-processor.dlt:1:7',
      },
    });
  });

  it('redrives to a retry tier due at once, keeping where it came from', () => {
    const retried = redrivenRecord(dead, 'order-processor', { kind: 'retry', tier: 2 }, 9_000);
    expect(retried.topic).toBe('order-processor.retry.2');
    expect(retried.headers).toMatchObject({
      [HEADER.originalTopic]: 'orders.order-placed.v1',
      [HEADER.attempts]: '2',
      [HEADER.retryDueAt]: '9000',
      [HEADER.redrivenFrom]: 'order-processor.dlt:1:7',
    });
    expect(retried.headers[HEADER.deadLetteredAt]).toBeUndefined();
  });

  it('marks a redriven dead letter with a marker in its own partition of the dead-letter topic', () => {
    expect(redriveMarker(dead, 'order-processor', 'orders.order-placed.v1', 9_000)).toEqual({
      topic: 'order-processor.dlt',
      partition: 1,
      key: null,
      value: null,
      headers: {
        [HEADER.redriveOf]: '1:7',
        [HEADER.redrivenTo]: 'orders.order-placed.v1',
        [HEADER.redrivenAt]: '1970-01-01T00:00:09.000Z',
        [HEADER.group]: 'order-processor',
      },
    });
  });
});
