import { emptyOrder, evolveOrder, summarize, summaryDelta } from './index';
import type { CustomerSummary, OrderEvent, OrderStatus, OrderView } from './index';
import { cancelled, confirmed, CUSTOMER_ID, ORDER_ID, placed, rejected } from './test-support/fixtures';
import { permutations } from './test-support/permutations';

function view(events: readonly OrderEvent[]): OrderView {
  return events.reduce(evolveOrder, emptyOrder(events[0]?.value.orderId ?? ORDER_ID));
}

function emptySummary(customerId: string): CustomerSummary {
  return {
    customerId,
    counts: { pending: 0, confirmed: 0, cancelled: 0, rejected: 0 },
    confirmedSpendCents: {},
  };
}

/** What the projection does with a delta, e.g. in SQL; a currency that adds up to zero is dropped. */
function applyDelta(summary: CustomerSummary, delta: ReturnType<typeof summaryDelta>): CustomerSummary {
  const counts = { ...summary.counts };
  for (const [status, change] of Object.entries(delta.status) as [OrderStatus, number][]) {
    counts[status] += change;
  }
  const confirmedSpendCents = { ...summary.confirmedSpendCents };
  for (const [currency, change] of Object.entries(delta.spend)) {
    const spend = (confirmedSpendCents[currency] ?? 0) + change;
    if (spend === 0) delete confirmedSpendCents[currency];
    else confirmedSpendCents[currency] = spend;
  }
  return { ...summary, counts, confirmedSpendCents };
}

/** A summary as text with its currencies sorted, so that key order does not matter. */
function canonical(summary: CustomerSummary): string {
  const spend = Object.entries(summary.confirmedSpendCents).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify({ ...summary, confirmedSpendCents: spend });
}

const OTHER_ORDER = '01964f3a-0000-7000-8000-000000000002';
const THIRD_ORDER = '01964f3a-0000-7000-8000-000000000003';

describe('summarize', () => {
  it("counts the customer's orders by current status and sums confirmed spend per currency", () => {
    // given
    const orders = [
      view([placed('a1', 1), confirmed('a2', 2)]),
      view([
        placed('b1', 1, { orderId: OTHER_ORDER, currency: 'USD' }),
        confirmed('b2', 2, { orderId: OTHER_ORDER, currency: 'USD', totalCents: 700 }),
      ]),
      view([placed('c1', 1, { orderId: THIRD_ORDER }), confirmed('c2', 2, { orderId: THIRD_ORDER })]),
      view([placed('d1', 1), confirmed('d2', 2), cancelled('d3', 3)]),
      view([placed('e1', 1), rejected('e2', 2)]),
      view([placed('f1', 1)]),
      view([
        placed('g1', 1, { customerId: 'someone-else' }),
        confirmed('g2', 2, { customerId: 'someone-else' }),
      ]),
      view([cancelled('h1', 1)]),
    ];
    // when
    const summary = summarize(CUSTOMER_ID, orders);
    // then
    expect(summary).toEqual({
      customerId: CUSTOMER_ID,
      counts: { pending: 1, confirmed: 3, cancelled: 1, rejected: 1 },
      confirmedSpendCents: { EUR: 3_000, USD: 700 },
    });
  });

  it('gives zero counts and no spend for a customer without orders', () => {
    expect(summarize(CUSTOMER_ID, [])).toEqual(emptySummary(CUSTOMER_ID));
  });
});

describe('summaryDelta', () => {
  const pending = view([placed('p', 1)]);
  const confirmedView = view([placed('p', 1), confirmed('c', 2)]);
  const cancelledView = view([placed('p', 1), confirmed('c', 2), cancelled('x', 3)]);

  it('counts a new order in its status', () => {
    expect(summaryDelta(undefined, pending)).toEqual({ status: { pending: 1 }, spend: {} });
  });

  it('moves an order from pending to confirmed and adds its total', () => {
    expect(summaryDelta(pending, confirmedView)).toEqual({
      status: { pending: -1, confirmed: 1 },
      spend: { EUR: 1_500 },
    });
  });

  it('takes the spend back when a confirmed order is cancelled', () => {
    expect(summaryDelta(confirmedView, cancelledView)).toEqual({
      status: { confirmed: -1, cancelled: 1 },
      spend: { EUR: -1_500 },
    });
  });

  it('changes nothing when the view did not change', () => {
    expect(summaryDelta(confirmedView, confirmedView)).toEqual({ status: {}, spend: {} });
  });

  it('does not count an order while its customer is unknown, then counts it once known', () => {
    const cancelFirst = view([cancelled('x', 3)]);
    expect(summaryDelta(undefined, cancelFirst)).toEqual({ status: {}, spend: {} });
    expect(summaryDelta(cancelFirst, view([cancelled('x', 3), placed('p', 1)]))).toEqual({
      status: { cancelled: 1 },
      spend: {},
    });
  });

  it('summed over every arrival order of several orders, equals the summary of the final views', () => {
    // given three orders of two customers: confirmed in EUR; confirmed in USD then cancelled (the
    // cancellation may come first); rejected and cancelled, of another customer; with a redelivery
    const events: OrderEvent[] = [
      placed('a1', 1),
      confirmed('a2', 2),
      placed('b1', 1, { orderId: OTHER_ORDER, currency: 'USD' }),
      confirmed('b2', 2, { orderId: OTHER_ORDER, currency: 'USD', totalCents: 700 }),
      cancelled('b3', 3, { orderId: OTHER_ORDER }),
      rejected('c1', 2, { orderId: THIRD_ORDER, customerId: 'customer-2' }),
      cancelled('c2', 3, { orderId: THIRD_ORDER }),
      confirmed('a2', 2),
    ];
    const orderings = permutations(events);
    expect(orderings).toHaveLength(40_320);

    const mismatches: unknown[] = [];
    let lastSummaries = new Map<string, CustomerSummary>();
    for (const ordering of orderings) {
      // when the projection applies each event and the delta it causes
      const views = new Map<string, OrderView>();
      const summaries = new Map<string, CustomerSummary>();
      for (const event of ordering) {
        const orderId = event.value.orderId;
        const before = views.get(orderId);
        const after = evolveOrder(before ?? emptyOrder(orderId), event);
        views.set(orderId, after);
        if (after.customerId === null) continue;
        const current = summaries.get(after.customerId) ?? emptySummary(after.customerId);
        summaries.set(after.customerId, applyDelta(current, summaryDelta(before, after)));
      }
      // then every stored summary equals the summary computed from the final views
      for (const customerId of [CUSTOMER_ID, 'customer-2']) {
        const incremental = canonical(summaries.get(customerId) ?? emptySummary(customerId));
        const recomputed = canonical(summarize(customerId, views.values()));
        if (incremental !== recomputed) {
          mismatches.push({ ordering: ordering.map((e) => e.eventId), incremental, recomputed });
        }
      }
      lastSummaries = summaries;
    }
    expect(mismatches).toEqual([]);
    // and the summaries are the expected ones
    expect(lastSummaries.get(CUSTOMER_ID)).toEqual({
      customerId: CUSTOMER_ID,
      counts: { pending: 0, confirmed: 1, cancelled: 1, rejected: 0 },
      confirmedSpendCents: { EUR: 1_500 },
    });
    expect(lastSummaries.get('customer-2')).toEqual({
      customerId: 'customer-2',
      counts: { pending: 0, confirmed: 0, cancelled: 0, rejected: 1 },
      confirmedSpendCents: {},
    });
  });
});
