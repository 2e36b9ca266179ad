import type { OrderStatus, OrderView } from './order-view';

/** What one customer's orders add up to. */
export interface CustomerSummary {
  customerId: string;
  /** How many of the customer's orders are in each status now; every status is present. */
  counts: Record<OrderStatus, number>;
  /**
   * Sum of `totalCents` of the orders whose status is `confirmed`, per currency (minor units).
   * Currencies that add up to zero are left out.
   */
  confirmedSpendCents: Record<string, number>;
}

/**
 * Summarizes the orders of `customerId` from their current views. Orders of other customers, and
 * orders whose customer is not known yet (only an OrderCancelled seen), are not counted.
 */
export function summarize(customerId: string, orders: Iterable<OrderView>): CustomerSummary {
  const counts: Record<OrderStatus, number> = { pending: 0, confirmed: 0, cancelled: 0, rejected: 0 };
  const confirmedSpendCents: Record<string, number> = {};
  for (const order of orders) {
    if (order.customerId !== customerId) continue;
    counts[order.status] += 1;
    const spend = confirmedSpend(order);
    if (spend !== undefined) addTo(confirmedSpendCents, spend.currency, spend.cents);
  }
  return { customerId, counts, confirmedSpendCents };
}

/**
 * The change to apply to the summary of `after.customerId` when one order's view moves from `before`
 * to `after` (`before` undefined: the order is new), so a projection can keep summaries up to date
 * incrementally (`counts[s] += status[s]`, `confirmedSpendCents[c] += spend[c]`; an entry left out
 * means no change). Summed over every step of any
 * sequence of views, the deltas give {@link summarize} of the final views.
 *
 * An order counts for its customer from the first view that knows the customer. The customer of an
 * order never changes once known (all order events carry the customer the order was placed by); if it
 * did, `before` is taken as another customer's order and the delta only describes `after`.
 */
export function summaryDelta(
  before: OrderView | undefined,
  after: OrderView,
): { status: Partial<Record<OrderStatus, number>>; spend: Record<string, number> } {
  const status: Partial<Record<OrderStatus, number>> = {};
  const spend: Record<string, number> = {};
  if (after.customerId === null) return { status, spend };

  addTo(status, after.status, 1);
  const spendAfter = confirmedSpend(after);
  if (spendAfter !== undefined) addTo(spend, spendAfter.currency, spendAfter.cents);

  if (before !== undefined && before.customerId === after.customerId) {
    addTo(status, before.status, -1);
    const spendBefore = confirmedSpend(before);
    if (spendBefore !== undefined) addTo(spend, spendBefore.currency, -spendBefore.cents);
  }
  return { status, spend };
}

function confirmedSpend(order: OrderView): { currency: string; cents: number } | undefined {
  if (order.status !== 'confirmed' || order.currency === null || order.totalCents === null) return undefined;
  return { currency: order.currency, cents: order.totalCents };
}

/** Adds `amount` to `record[key]`, removing the key when it becomes zero. */
function addTo<K extends string>(record: Partial<Record<K, number>>, key: K, amount: number): void {
  const sum = (record[key] ?? 0) + amount;
  if (sum === 0) delete record[key];
  else record[key] = sum;
}
