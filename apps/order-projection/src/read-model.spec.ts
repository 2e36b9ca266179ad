import { orderCancelledTopic, orderPlacedTopic } from '@tideline/contracts';
import type { ProjectionRecord } from '@tideline/messaging';
import { emptyOrder, evolveOrder } from '@tideline/orders-domain';
import { resolveFeed } from './app';
import { decodeCursor, encodeCursor } from './queries';
import { orderDocument, toOrderEvent } from '@tideline/read-models';

const record = (topic: string, value: unknown, eventId = 'e1'): ProjectionRecord => ({
  eventId,
  eventType: 'x',
  correlationId: 'c',
  causationId: undefined,
  producer: 'p',
  producedAt: '',
  traceparent: undefined,
  topic,
  partition: 2,
  offset: '7',
  timestamp: 0,
  key: 'o1',
  value,
  headers: {},
});

describe('toOrderEvent', () => {
  it('takes the event time from the event itself, not from Kafka', () => {
    const placed = { orderId: 'o1', customerId: 'c1', currency: 'EUR', lines: [], placedAt: 1234 };
    expect(toOrderEvent(record(orderPlacedTopic.name, placed))).toEqual({
      type: 'OrderPlaced',
      eventId: 'e1',
      at: 1234,
      value: placed,
    });
    const cancelled = { orderId: 'o1', reason: null, cancelledAt: 99 };
    expect(toOrderEvent(record(orderCancelledTopic.name, cancelled))?.at).toBe(99);
  });

  it('gives a record without an event id its position as identity, skips tombstones, refuses foreign topics', () => {
    const placed = { orderId: 'o1', customerId: 'c1', currency: 'EUR', lines: [], placedAt: 1 };
    expect(toOrderEvent(record(orderPlacedTopic.name, placed, ''))?.eventId).toBe(
      `${orderPlacedTopic.name}:2:7`,
    );
    expect(toOrderEvent(record(orderPlacedTopic.name, null))).toBeUndefined();
    expect(() => toOrderEvent(record('other.topic.v1', placed))).toThrow(
      /does not project topic other\.topic\.v1/,
    );
  });
});

it('shows an order without bookkeeping, with ISO times', () => {
  const view = evolveOrder(emptyOrder('o1'), {
    type: 'OrderPlaced',
    eventId: 'e1',
    at: Date.UTC(2026, 0, 2),
    value: {
      orderId: 'o1',
      customerId: 'c1',
      currency: 'EUR',
      lines: [{ sku: 'A', quantity: 1 }],
      placedAt: Date.UTC(2026, 0, 2),
    },
  });
  const document = orderDocument(view);
  expect(document).not.toHaveProperty('seenEventIds');
  expect(document.placedAt).toBe('2026-01-02T00:00:00.000Z');
  expect(document.timeline).toEqual([
    { status: 'pending', eventId: 'e1', eventType: 'OrderPlaced', at: '2026-01-02T00:00:00.000Z' },
  ]);
});

it('round-trips page cursors and refuses ones it did not issue', () => {
  const cursor = encodeCursor('01964f3a-0000-7000-8000-000000000001');
  expect(decodeCursor(cursor)).toBe('01964f3a-0000-7000-8000-000000000001');
  expect(decodeCursor('bm90LWEtY3Vyc29y')).toBeUndefined(); // "not-a-cursor"
  expect(decodeCursor('')).toBeUndefined();
  expect(decodeCursor(`${cursor}==`)).toBeUndefined(); // not in canonical form
  expect(decodeCursor('bzoA')).toBeUndefined(); // "o:" and a NUL, which PostgreSQL refuses in text
  expect(decodeCursor(encodeCursor('a b'))).toBeUndefined(); // not an id the read side serves
});

it('maps WebSocket feed names to stream keys', () => {
  expect(resolveFeed('all')).toEqual({ key: undefined, from: 'now' });
  expect(resolveFeed('order:o-1')).toEqual({ key: 'order:o-1', from: 'start' });
  expect(resolveFeed('customer:c1')).toEqual({ key: 'customer:c1', from: 'now' });
  for (const bad of ['orders:o1', 'order:', 'customer:a b', 'x', ''])
    expect(resolveFeed(bad)).toHaveProperty('error', 'must be "order:<id>", "customer:<id>" or "all"');
});
