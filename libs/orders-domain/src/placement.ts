import type {
  OrderConfirmed,
  OrderPlaced,
  OrderRejected,
  PricedOrderLine,
  RejectionReason,
} from '@tideline/contracts';

/** A product as the placement decision needs it: the latest state the catalog topic carried for its SKU. */
export interface CatalogProduct {
  /** The product's stock-keeping unit. */
  sku: string;
  /** Display name. */
  name: string;
  /** Price of one unit, in minor units of `currency`. */
  priceCents: number;
  /** ISO 4217 code of the price. */
  currency: string;
  /** Whether the product can be ordered. */
  active: boolean;
}

/**
 * Read access to the products known so far. A `Map<string, CatalogProduct>` fits; so does any
 * read model that can answer by SKU synchronously (the decision itself does no I/O).
 */
export interface Catalog {
  /** The product with this SKU, or `undefined` when the catalog has not seen it (yet). */
  get(sku: string): CatalogProduct | undefined;
}

/** Business limits an order must respect to be confirmed. */
export interface PricingPolicy {
  /** The largest order total, in minor units of the order's currency, that is still confirmed (inclusive). */
  maxTotalCents: number;
}

/** The codes {@link decidePlacement} puts into `RejectionReason.code`. */
export type RejectionCode = 'PRODUCT_INACTIVE' | 'UNKNOWN_PRODUCT' | 'CURRENCY_MISMATCH' | 'TOTAL_OVER_LIMIT';

/**
 * The outcome of deciding a placed order.
 *
 * - `confirm`: publish `event` (OrderConfirmed).
 * - `reject`: publish `event` (OrderRejected); a business outcome, not an error.
 * - `wait`: publish nothing yet. Returned only when the attempt is not the final one and the only
 *   problems are SKUs the catalog has not seen: the catalog topic may still deliver them, and
 *   retrying later can change the outcome. `unknownSkus` lists them once each, in line order.
 */
export type PlacementDecision =
  | { kind: 'confirm'; event: OrderConfirmed }
  | { kind: 'reject'; event: OrderRejected }
  | { kind: 'wait'; unknownSkus: string[] };

/**
 * Decides whether a placed order is confirmed, rejected, or must wait for the catalog.
 *
 * Every distinct problem becomes one reason, so the customer learns everything at once:
 * - `UNKNOWN_PRODUCT` for each SKU the catalog does not know;
 * - `PRODUCT_INACTIVE` for each SKU whose product is not active;
 * - `CURRENCY_MISMATCH` for each SKU priced in another currency than the order's (an inactive
 *   product can have this reason too);
 * - `TOTAL_OVER_LIMIT` when the total exceeds `policy.maxTotalCents` (a total equal to the limit is
 *   confirmed). The total is only known, and this check only made, when every line could be priced:
 *   its product is known and priced in the order's currency. A total that would not be a safe
 *   integer counts as over the limit.
 *
 * Reasons come in line order (a SKU's reasons where it first appears, unknown/inactive before
 * currency), with `TOTAL_OVER_LIMIT` last, so the same input always gives the same event.
 * Lines with the same SKU are kept as given, not merged; each is priced as
 * `quantity × priceCents`.
 *
 * Unknown SKUs: if they are the only problem and `context.finalAttempt` is false, the decision is
 * `wait`. If any other problem exists, waiting cannot fix it, so the order is rejected right away
 * and the unknown SKUs are listed as `UNKNOWN_PRODUCT` reasons too. On the final attempt unknown
 * SKUs reject the order.
 *
 * Pure: time comes from `context.now` (becomes `confirmedAt` or `rejectedAt`).
 */
export function decidePlacement(
  order: OrderPlaced,
  catalog: Catalog,
  policy: PricingPolicy,
  context: { now: number; finalAttempt: boolean },
): PlacementDecision {
  const reasons: RejectionReason[] = [];
  const unknownSkus: string[] = [];
  const pricedLines: PricedOrderLine[] = [];
  const checkedSkus = new Set<string>();
  let everyLinePriced = true;

  for (const line of order.lines) {
    const product = catalog.get(line.sku);
    const firstTimeSeen = !checkedSkus.has(line.sku);
    checkedSkus.add(line.sku);

    if (product === undefined) {
      everyLinePriced = false;
      if (firstTimeSeen) {
        unknownSkus.push(line.sku);
        reasons.push(reason('UNKNOWN_PRODUCT', line.sku, `${line.sku} is not in the catalog`));
      }
      continue;
    }
    if (firstTimeSeen && !product.active) {
      reasons.push(
        reason(
          'PRODUCT_INACTIVE',
          line.sku,
          `${line.sku} (${product.name}) is inactive and cannot be ordered`,
        ),
      );
    }
    if (product.currency !== order.currency) {
      everyLinePriced = false;
      if (firstTimeSeen) {
        reasons.push(
          reason(
            'CURRENCY_MISMATCH',
            line.sku,
            `${line.sku} is priced in ${product.currency}, but the order is in ${order.currency}`,
          ),
        );
      }
      continue;
    }
    pricedLines.push({
      sku: line.sku,
      quantity: line.quantity,
      unitPriceCents: product.priceCents,
      lineTotalCents: line.quantity * product.priceCents,
    });
  }

  let totalCents = 0;
  if (everyLinePriced) {
    totalCents = sumOfLineTotals(pricedLines);
    if (!Number.isSafeInteger(totalCents) || totalCents > policy.maxTotalCents) {
      reasons.push(
        reason(
          'TOTAL_OVER_LIMIT',
          null,
          Number.isSafeInteger(totalCents)
            ? `the order total of ${totalCents} (minor units of ${order.currency}) is over the limit of ${policy.maxTotalCents}`
            : `the order total is too large to compute and over the limit of ${policy.maxTotalCents} (minor units of ${order.currency})`,
        ),
      );
    }
  }

  if (reasons.length === 0) {
    return {
      kind: 'confirm',
      event: {
        orderId: order.orderId,
        customerId: order.customerId,
        currency: order.currency,
        lines: pricedLines,
        totalCents,
        confirmedAt: context.now,
      },
    };
  }
  const onlyUnknownSkus = unknownSkus.length === reasons.length;
  if (onlyUnknownSkus && !context.finalAttempt) {
    return { kind: 'wait', unknownSkus };
  }
  return {
    kind: 'reject',
    event: { orderId: order.orderId, customerId: order.customerId, reasons, rejectedAt: context.now },
  };
}

function reason(code: RejectionCode, sku: string | null, message: string): RejectionReason {
  return { code, sku, message };
}

/**
 * The sum of the line totals, or a value that is not a safe integer as soon as any line total or
 * partial sum is not one. With safe non-negative integer operands, a float product or sum whose exact
 * value exceeds MAX_SAFE_INTEGER rounds to at least 2^53, so the check cannot be fooled by rounding.
 */
function sumOfLineTotals(lines: readonly PricedOrderLine[]): number {
  let total = 0;
  for (const line of lines) {
    if (!Number.isSafeInteger(line.lineTotalCents)) return Number.POSITIVE_INFINITY;
    total += line.lineTotalCents;
    if (!Number.isSafeInteger(total)) return Number.POSITIVE_INFINITY;
  }
  return total;
}
