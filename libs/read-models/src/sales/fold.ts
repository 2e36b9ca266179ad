import type { OrderCancelled, OrderConfirmed, OrderRejected } from '@tideline/contracts';

/** One hour in milliseconds: the size of a sales bucket. */
export const HOUR_MS = 3_600_000;

/**
 * The order events sales depend on. OrderPlaced is not one of them: OrderConfirmed carries the
 * priced lines, the currency and the time a sale counts at.
 */
export type SalesEvent =
  | { type: 'OrderConfirmed'; eventId: string; value: OrderConfirmed }
  | { type: 'OrderRejected'; eventId: string; value: OrderRejected }
  | { type: 'OrderCancelled'; eventId: string; value: OrderCancelled };

/** What one product line of a confirmed order sold (lines of the same SKU merged). */
export interface SoldLine {
  sku: string;
  units: number;
  revenueCents: number;
}

/** The confirmation an order's sales come from. */
export interface Confirmation {
  eventId: string;
  /** `confirmedAt`, epoch ms UTC: the sale counts in the hour of this time. */
  at: number;
  currency: string;
  /** Sorted by SKU, one entry per SKU. */
  lines: SoldLine[];
}

/**
 * What the sales read model keeps of one order: a function of the *set* of its events seen, so
 * it converges whatever order they arrive in and ignores redeliveries.
 * - `confirmation`: the earliest OrderConfirmed by (`confirmedAt`, event id), when a decision
 *   was repeated under a new id (the first decision stands, as in libs/orders-domain);
 * - `cancelled`, `rejected`: whether any such event was seen.
 */
export interface OrderSales {
  orderId: string;
  confirmation: Confirmation | null;
  cancelled: boolean;
  rejected: boolean;
}

/** One sales bucket (or a change to one): a product's sales in one hour and currency. */
export interface HourlySales {
  sku: string;
  /** Start of the hour, epoch ms UTC. */
  hour: number;
  currency: string;
  units: number;
  revenueCents: number;
  /** Orders that sold the product in that hour. */
  orders: number;
}

export function emptyOrderSales(orderId: string): OrderSales {
  return { orderId, confirmation: null, cancelled: false, rejected: false };
}

/** The start of the UTC hour `at` (epoch ms) falls in. */
export function hourOf(at: number): number {
  return Math.floor(at / HOUR_MS) * HOUR_MS;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function soldLines(confirmed: OrderConfirmed): SoldLine[] {
  const bySku = new Map<string, SoldLine>();
  for (const line of confirmed.lines) {
    const sold = bySku.get(line.sku);
    if (sold === undefined)
      bySku.set(line.sku, { sku: line.sku, units: line.quantity, revenueCents: line.lineTotalCents });
    else {
      sold.units += line.quantity;
      sold.revenueCents += line.lineTotalCents;
    }
  }
  return [...bySku.values()].sort((a, b) => compareStrings(a.sku, b.sku));
}

/**
 * Applies one event to an order's sales state; returns `state` itself when nothing changes
 * (a redelivery, a later repeat of a decision, a second cancellation).
 *
 * @throws RangeError when the event is about another order: a bug in the caller's routing.
 */
export function evolveSales(state: OrderSales, event: SalesEvent): OrderSales {
  if (event.value.orderId !== state.orderId) {
    throw new RangeError(
      `${event.type} ${event.eventId} is about order ${event.value.orderId}, not ${state.orderId}`,
    );
  }
  switch (event.type) {
    case 'OrderConfirmed': {
      const at = event.value.confirmedAt;
      const current = state.confirmation;
      const earlier =
        current === null ||
        at < current.at ||
        (at === current.at && compareStrings(event.eventId, current.eventId) < 0);
      if (!earlier) return state;
      const confirmation = {
        eventId: event.eventId,
        at,
        currency: event.value.currency,
        lines: soldLines(event.value),
      };
      return { ...state, confirmation };
    }
    case 'OrderRejected':
      return state.rejected ? state : { ...state, rejected: true };
    case 'OrderCancelled':
      return state.cancelled ? state : { ...state, cancelled: true };
  }
}

/** Whether the order's sales count: confirmed, and neither cancelled nor rejected. */
export function counts(state: OrderSales): boolean {
  return state.confirmation !== null && !state.cancelled && !state.rejected;
}

/** The buckets an order adds to: one per product it sold, in the hour of its confirmation. */
export function contribution(state: OrderSales): HourlySales[] {
  const confirmation = state.confirmation;
  if (confirmation === null || !counts(state)) return [];
  const hour = hourOf(confirmation.at);
  return confirmation.lines.map((line) => ({
    sku: line.sku,
    hour,
    currency: confirmation.currency,
    units: line.units,
    revenueCents: line.revenueCents,
    orders: 1,
  }));
}

const bucketKey = (sales: Pick<HourlySales, 'sku' | 'hour' | 'currency'>): string =>
  `${sales.sku}\u0000${sales.hour}\u0000${sales.currency}`;

/**
 * Sums of bucket changes, by (SKU, hour, currency): what a batch adds to the hourly table.
 * Entries that add up to nothing are left out of {@link entries}.
 */
export class SalesDeltas {
  private readonly sums = new Map<string, HourlySales>();

  /** Adds (`sign` 1) or removes (`sign` -1) the given buckets. */
  add(buckets: readonly HourlySales[], sign: 1 | -1): void {
    for (const bucket of buckets) {
      const key = bucketKey(bucket);
      const sum = this.sums.get(key);
      if (sum === undefined) {
        this.sums.set(key, {
          ...bucket,
          units: sign * bucket.units,
          revenueCents: sign * bucket.revenueCents,
          orders: sign * bucket.orders,
        });
      } else {
        sum.units += sign * bucket.units;
        sum.revenueCents += sign * bucket.revenueCents;
        sum.orders += sign * bucket.orders;
      }
    }
  }

  /** Adds what moving one order from `before` to `after` changes. */
  change(before: OrderSales, after: OrderSales): void {
    if (before === after) return;
    this.add(contribution(before), -1);
    this.add(contribution(after), 1);
  }

  /** The non-zero changes, sorted by (SKU, hour, currency): the order rows are locked in. */
  entries(): HourlySales[] {
    return [...this.sums.values()]
      .filter((s) => s.units !== 0 || s.revenueCents !== 0 || s.orders !== 0)
      .sort(
        (a, b) => compareStrings(a.sku, b.sku) || a.hour - b.hour || compareStrings(a.currency, b.currency),
      );
  }
}
