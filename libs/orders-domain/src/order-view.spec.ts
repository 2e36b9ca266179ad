import { emptyOrder, evolveOrder, STATUS_PRECEDENCE } from './index';
import type { OrderEvent, OrderView } from './index';
import { cancelled, confirmed, ORDER_ID, placed, rejected } from './test-support/fixtures';
import { permutations } from './test-support/permutations';

function replay(events: readonly OrderEvent[], from: OrderView = emptyOrder(ORDER_ID)): OrderView {
  return events.reduce(evolveOrder, from);
}

/** Replays every ordering of `events` and expects one and the same final view; returns it. */
function expectConvergence(events: readonly OrderEvent[]): OrderView {
  const orderings = permutations(events);
  const finals = orderings.map((ordering) => replay(ordering));
  for (const [index, view] of finals.entries()) {
    // naming the ordering makes a failure say which interleaving diverged
    expect({ ordering: orderings[index]!.map((e) => e.eventId), view }).toEqual({
      ordering: orderings[index]!.map((e) => e.eventId),
      view: finals[0],
    });
  }
  return finals[0]!;
}

const PLACED = placed('e-placed', 1_000);
const CONFIRMED = confirmed('e-confirmed', 2_000);
const REJECTED = rejected('e-rejected', 2_000);
const CANCELLED = cancelled('e-cancelled', 3_000);

describe('evolveOrder', () => {
  it('starts from an empty, pending view', () => {
    expect(emptyOrder(ORDER_ID)).toEqual({
      orderId: ORDER_ID,
      customerId: null,
      currency: null,
      lines: [],
      totalCents: null,
      status: 'pending',
      reasons: [],
      cancelReason: null,
      placedAt: null,
      timeline: [],
      seenEventIds: [],
    });
  });

  it('given a placed and then confirmed order, it is confirmed with the catalog prices', () => {
    // given
    const afterPlaced = evolveOrder(emptyOrder(ORDER_ID), PLACED);
    expect(afterPlaced).toMatchObject({
      status: 'pending',
      customerId: 'customer-1',
      currency: 'EUR',
      placedAt: 1_000,
      totalCents: null,
      lines: [
        { sku: 'SKU-1', quantity: 2, unitPriceCents: null, lineTotalCents: null },
        { sku: 'SKU-2', quantity: 1, unitPriceCents: null, lineTotalCents: null },
      ],
    });
    // when
    const afterConfirmed = evolveOrder(afterPlaced, CONFIRMED);
    // then
    expect(afterConfirmed).toEqual({
      orderId: ORDER_ID,
      customerId: 'customer-1',
      currency: 'EUR',
      lines: [
        { sku: 'SKU-1', quantity: 2, unitPriceCents: 250, lineTotalCents: 500 },
        { sku: 'SKU-2', quantity: 1, unitPriceCents: 1_000, lineTotalCents: 1_000 },
      ],
      totalCents: 1_500,
      status: 'confirmed',
      reasons: [],
      cancelReason: null,
      placedAt: 1_000,
      timeline: [
        { status: 'pending', eventId: 'e-placed', eventType: 'OrderPlaced', at: 1_000 },
        { status: 'confirmed', eventId: 'e-confirmed', eventType: 'OrderConfirmed', at: 2_000 },
      ],
      seenEventIds: ['e-confirmed', 'e-placed'],
    });
  });

  it('returns a new view and leaves the given one as it was', () => {
    const before = evolveOrder(emptyOrder(ORDER_ID), PLACED);
    const snapshot = JSON.stringify(before);
    const after = evolveOrder(before, CONFIRMED);
    expect(after).not.toBe(before);
    expect(JSON.stringify(before)).toBe(snapshot);
  });

  it('is idempotent: an event id seen before returns the view unchanged', () => {
    // given
    const view = replay([PLACED, CONFIRMED]);
    // when the confirmation is redelivered, even with another value under the same id
    const again = evolveOrder(view, CONFIRMED);
    const impostor = evolveOrder(view, cancelled('e-confirmed', 9_000));
    // then
    expect(again).toBe(view);
    expect(impostor).toBe(view);
  });

  it('keeps a rejected order rejected when a cancellation arrives', () => {
    const view = replay([PLACED, REJECTED, CANCELLED]);
    expect(view.status).toBe('rejected');
    expect(view.reasons).toEqual(REJECTED.value.reasons);
    expect(view.cancelReason).toBe('changed my mind');
  });

  it('cancels a confirmed order, whether the cancellation comes after or before the confirmation', () => {
    expect(replay([PLACED, CONFIRMED, CANCELLED]).status).toBe('cancelled');
    expect(replay([PLACED, CANCELLED, CONFIRMED]).status).toBe('cancelled');
  });

  it('given a confirmation before the placement, it takes customer, currency and priced lines from it', () => {
    // given
    const early = evolveOrder(emptyOrder(ORDER_ID), CONFIRMED);
    expect(early).toMatchObject({
      status: 'confirmed',
      customerId: 'customer-1',
      currency: 'EUR',
      placedAt: null,
      totalCents: 1_500,
      lines: CONFIRMED.value.lines,
    });
    // when the placement arrives late
    const late = evolveOrder(early, PLACED);
    // then its unpriced lines do not replace the priced ones, and placedAt is known
    expect(late.lines).toEqual(CONFIRMED.value.lines);
    expect(late.placedAt).toBe(1_000);
    expect(late).toEqual(replay([PLACED, CONFIRMED]));
  });

  it('given only a rejection, it knows the customer and the reasons but no lines', () => {
    expect(replay([REJECTED])).toMatchObject({
      status: 'rejected',
      customerId: 'customer-1',
      currency: null,
      lines: [],
      reasons: REJECTED.value.reasons,
    });
  });

  it('given only a cancellation, it is cancelled with the customer still unknown', () => {
    expect(replay([cancelled('e-c', 5, { reason: null })])).toMatchObject({
      status: 'cancelled',
      customerId: null,
      cancelReason: null,
    });
  });

  it('sorts the timeline by time, then event id, whatever the arrival order', () => {
    const view = replay([cancelled('e-b', 5_000), PLACED, confirmed('e-a', 5_000)]);
    expect(view.timeline.map((entry) => entry.eventId)).toEqual(['e-placed', 'e-a', 'e-b']);
  });

  it('refuses an event about another order', () => {
    expect(() => evolveOrder(emptyOrder('other-order'), PLACED)).toThrow(RangeError);
  });

  it('orders statuses pending < confirmed < cancelled < rejected', () => {
    expect(STATUS_PRECEDENCE).toEqual({ pending: 0, confirmed: 1, cancelled: 2, rejected: 3 });
    expect(Object.isFrozen(STATUS_PRECEDENCE)).toBe(true);
  });

  describe('converges over every arrival order', () => {
    it('of placed and confirmed', () => {
      expect(expectConvergence([PLACED, CONFIRMED])).toEqual(replay([PLACED, CONFIRMED]));
    });

    it('of placed, confirmed and cancelled: cancelled, with prices and total', () => {
      const view = expectConvergence([PLACED, CONFIRMED, CANCELLED]);
      expect(view).toMatchObject({
        status: 'cancelled',
        totalCents: 1_500,
        placedAt: 1_000,
        lines: CONFIRMED.value.lines,
        cancelReason: 'changed my mind',
      });
    });

    it('of placed, rejected and cancelled: rejected', () => {
      const view = expectConvergence([PLACED, REJECTED, CANCELLED]);
      expect(view).toMatchObject({ status: 'rejected', reasons: REJECTED.value.reasons, totalCents: null });
    });

    it('with a redelivered event among them', () => {
      const view = expectConvergence([PLACED, CONFIRMED, CANCELLED, CONFIRMED]);
      expect(view).toEqual(replay([PLACED, CONFIRMED, CANCELLED]));
      expect(view.timeline).toHaveLength(3);
    });

    it('with an ambiguous publish retried: copies of one event, and their decisions, are one order', () => {
      // given OrderPlaced written twice under one event id, each copy decided by the processor,
      // whose reactions share an event id (a function of the cause) but not their time; all of
      // them keyed by the order, so on one partition, in this order, in every replay
      const decidedAgain = confirmed('e-confirmed', 2_700);
      // when
      const view = replay([PLACED, CONFIRMED, PLACED, decidedAgain]);
      // then
      expect(view).toEqual(replay([PLACED, CONFIRMED]));
      expect(view.timeline.map((entry) => entry.eventId)).toEqual(['e-placed', 'e-confirmed']);
    });

    it('with a decision repeated under a new id: the earliest one supplies the fields', () => {
      // given the order was decided twice (a retry after the catalog changed), then cancelled
      const second = confirmed('e-confirmed-2', 2_500, {
        lines: [
          { sku: 'SKU-1', quantity: 2, unitPriceCents: 300, lineTotalCents: 600 },
          { sku: 'SKU-2', quantity: 1, unitPriceCents: 1_000, lineTotalCents: 1_000 },
        ],
        totalCents: 1_600,
      });
      const secondCancel = cancelled('e-cancelled-2', 2_900, { reason: 'too slow' });
      // when
      const view = expectConvergence([PLACED, CONFIRMED, second, CANCELLED, secondCancel]);
      // then
      expect(view).toMatchObject({ status: 'cancelled', totalCents: 1_500, cancelReason: 'too slow' });
      expect(view.timeline.map((entry) => entry.eventId)).toEqual([
        'e-placed',
        'e-confirmed',
        'e-confirmed-2',
        'e-cancelled-2',
        'e-cancelled',
      ]);
    });

    it('of a confirmation and a rejection of the same order: rejected wins', () => {
      const view = expectConvergence([PLACED, CONFIRMED, REJECTED, CANCELLED]);
      expect(view.status).toBe('rejected');
    });
  });
});
