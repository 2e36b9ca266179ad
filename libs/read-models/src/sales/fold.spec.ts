import {
  contribution,
  emptyOrderSales,
  evolveSales,
  HOUR_MS,
  hourOf,
  SalesDeltas,
  type HourlySales,
  type OrderSales,
  type SalesEvent,
} from './fold';

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

const confirmed = (
  eventId: string,
  at: number,
  lines: [string, number, number][],
  orderId = 'o-1',
  currency = 'EUR',
): SalesEvent => ({
  type: 'OrderConfirmed',
  eventId,
  value: {
    orderId,
    customerId: 'c-1',
    currency,
    lines: lines.map(([sku, quantity, unitPriceCents]) => ({
      sku,
      quantity,
      unitPriceCents,
      lineTotalCents: quantity * unitPriceCents,
    })),
    totalCents: lines.reduce((sum, [, q, p]) => sum + q * p, 0),
    confirmedAt: at,
  },
});
const cancelled = (eventId: string, orderId = 'o-1'): SalesEvent => ({
  type: 'OrderCancelled',
  eventId,
  value: { orderId, reason: null, cancelledAt: T0 + 1 },
});
const rejected = (eventId: string, orderId = 'o-1'): SalesEvent => ({
  type: 'OrderRejected',
  eventId,
  value: { orderId, customerId: 'c-1', reasons: [], rejectedAt: T0 + 1 },
});

const fold = (events: readonly SalesEvent[], orderId = 'o-1'): OrderSales =>
  events.reduce(evolveSales, emptyOrderSales(orderId));

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe('hourOf', () => {
  it('is the start of the UTC hour', () => {
    expect(hourOf(T0)).toBe(T0);
    expect(hourOf(T0 + HOUR_MS - 1)).toBe(T0);
    expect(hourOf(T0 + HOUR_MS)).toBe(T0 + HOUR_MS);
  });
});

describe('evolveSales', () => {
  it('counts a confirmed order in the hour of its confirmation, lines of one SKU merged', () => {
    const state = fold([
      confirmed('e1', T0 + 25 * 60_000, [
        ['A', 2, 150],
        ['B', 1, 999],
        ['A', 1, 150],
      ]),
    ]);
    expect(contribution(state)).toEqual<HourlySales[]>([
      { sku: 'A', hour: T0, currency: 'EUR', units: 3, revenueCents: 450, orders: 1 },
      { sku: 'B', hour: T0, currency: 'EUR', units: 1, revenueCents: 999, orders: 1 },
    ]);
  });

  it('counts nothing for a cancelled or rejected order, whatever came first', () => {
    expect(contribution(fold([confirmed('e1', T0, [['A', 1, 100]]), cancelled('e2')]))).toEqual([]);
    expect(contribution(fold([cancelled('e2'), confirmed('e1', T0, [['A', 1, 100]])]))).toEqual([]);
    expect(contribution(fold([rejected('e3')]))).toEqual([]);
    expect(contribution(fold([confirmed('e1', T0, [['A', 1, 100]]), rejected('e3')]))).toEqual([]);
    expect(contribution(fold([cancelled('e2')]))).toEqual([]);
  });

  it('returns the same state for a redelivered or repeated event', () => {
    const event = confirmed('e1', T0, [['A', 1, 100]]);
    const once = fold([event]);
    expect(evolveSales(once, event)).toBe(once);
    const off = fold([cancelled('e2')]);
    expect(evolveSales(off, cancelled('e9'))).toBe(off);
    const out = fold([rejected('e3')]);
    expect(evolveSales(out, rejected('e3'))).toBe(out);
  });

  it('keeps the earliest confirmation when a decision was repeated under a new id', () => {
    const first = confirmed('e-b', T0 + 10, [['A', 1, 100]]);
    const later = confirmed('e-a', T0 + HOUR_MS, [['A', 5, 100]]);
    const tie = confirmed('e-a', T0 + 10, [['A', 2, 100]]);
    expect(fold([first, later]).confirmation?.eventId).toBe('e-b');
    expect(fold([later, first]).confirmation?.eventId).toBe('e-b');
    // Same time: the smaller event id.
    expect(fold([first, tie]).confirmation?.eventId).toBe('e-a');
    expect(fold([tie, first]).confirmation?.eventId).toBe('e-a');
  });

  it('converges: every arrival order, with redeliveries, gives one state', () => {
    const events = [
      confirmed('e1', T0 + 5, [['A', 1, 100]]),
      confirmed('e2', T0 + 2 * HOUR_MS, [['B', 2, 100]]),
      cancelled('e3'),
      rejected('e4'),
    ];
    for (const subset of [events.slice(0, 2), events.slice(0, 3), [events[0]!, events[3]!], events]) {
      const expected = fold(subset);
      for (const order of permutations(subset)) {
        expect(fold(order)).toEqual(expected);
        expect(fold([...order, ...order.slice().reverse()])).toEqual(expected);
      }
    }
  });

  it('refuses an event about another order', () => {
    expect(() => evolveSales(emptyOrderSales('o-2'), cancelled('e1', 'o-1'))).toThrow(RangeError);
  });
});

describe('SalesDeltas', () => {
  it('summed over any sequence of states, the changes equal the contribution of the final states', () => {
    const streams: SalesEvent[][] = [
      [confirmed('a1', T0, [['A', 2, 100]], 'o-a'), cancelled('a2', 'o-a')],
      [cancelled('b2', 'o-b'), confirmed('b1', T0 + 1, [['A', 1, 100]], 'o-b')],
      [
        confirmed(
          'c1',
          T0 + 2,
          [
            ['A', 4, 100],
            ['B', 1, 50],
          ],
          'o-c',
        ),
      ],
      [
        confirmed('d1', T0 + HOUR_MS, [['B', 3, 50]], 'o-d', 'USD'),
        confirmed('d0', T0, [['B', 3, 60]], 'o-d', 'USD'),
      ],
    ];
    const deltas = new SalesDeltas();
    const finals: OrderSales[] = [];
    for (const stream of streams) {
      const orderId = stream[0]!.value.orderId;
      let state = emptyOrderSales(orderId);
      for (const event of stream) {
        const next = evolveSales(state, event);
        deltas.change(state, next);
        state = next;
      }
      finals.push(state);
    }
    const expected = new SalesDeltas();
    for (const state of finals) expected.add(contribution(state), 1);
    expect(deltas.entries()).toEqual(expected.entries());
    expect(deltas.entries()).toEqual<HourlySales[]>([
      { sku: 'A', hour: T0, currency: 'EUR', units: 4, revenueCents: 400, orders: 1 },
      { sku: 'B', hour: T0, currency: 'EUR', units: 1, revenueCents: 50, orders: 1 },
      { sku: 'B', hour: T0, currency: 'USD', units: 3, revenueCents: 180, orders: 1 },
    ]);
  });

  it('leaves out what adds up to nothing and sorts by SKU (code units), hour, currency', () => {
    const deltas = new SalesDeltas();
    const bucket = (sku: string, hour: number, currency = 'EUR'): HourlySales => ({
      sku,
      hour,
      currency,
      units: 1,
      revenueCents: 10,
      orders: 1,
    });
    deltas.add([bucket('b', T0), bucket('B', T0 + HOUR_MS), bucket('B', T0), bucket('a', T0, 'USD')], 1);
    deltas.add([bucket('a', T0, 'EUR'), bucket('a', T0, 'USD')], -1);
    deltas.add([bucket('a', T0, 'EUR')], 1);
    expect(deltas.entries().map((d) => [d.sku, d.hour - T0, d.currency, d.units])).toEqual([
      ['B', 0, 'EUR', 1],
      ['B', HOUR_MS, 'EUR', 1],
      ['b', 0, 'EUR', 1],
    ]);
  });
});
