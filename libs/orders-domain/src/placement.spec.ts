import type { OrderConfirmed, OrderPlaced, OrderRejected } from '@tideline/contracts';
import { decidePlacement } from './index';
import type { CatalogProduct, PlacementDecision } from './index';

const NOW = 1_750_000_000_000;
const policy = { maxTotalCents: 10_000 };
const notFinal = { now: NOW, finalAttempt: false };
const final = { now: NOW, finalAttempt: true };

function product(sku: string, priceCents: number, overrides: Partial<CatalogProduct> = {}): CatalogProduct {
  return { sku, name: `Product ${sku}`, priceCents, currency: 'EUR', active: true, ...overrides };
}

function catalogOf(...products: CatalogProduct[]): Map<string, CatalogProduct> {
  return new Map(products.map((p) => [p.sku, p]));
}

function order(lines: [sku: string, quantity: number][], currency = 'EUR'): OrderPlaced {
  return {
    orderId: 'order-1',
    customerId: 'customer-1',
    currency,
    lines: lines.map(([sku, quantity]) => ({ sku, quantity })),
    placedAt: NOW - 5_000,
  };
}

function confirmation(decision: PlacementDecision): OrderConfirmed {
  if (decision.kind !== 'confirm')
    throw new Error(`expected a confirmation, got ${JSON.stringify(decision)}`);
  return decision.event;
}

function rejection(decision: PlacementDecision): OrderRejected {
  if (decision.kind !== 'reject') throw new Error(`expected a rejection, got ${JSON.stringify(decision)}`);
  return decision.event;
}

function reasonsOf(decision: PlacementDecision): [code: string, sku: string | null][] {
  return rejection(decision).reasons.map((r) => [r.code, r.sku]);
}

describe('decidePlacement', () => {
  describe('confirm', () => {
    it('confirms an order whose products are all known, active and in its currency, priced from the catalog', () => {
      // given
      const catalog = catalogOf(product('SKU-1', 250), product('SKU-2', 1_000));
      // when
      const decision = decidePlacement(
        order([
          ['SKU-1', 2],
          ['SKU-2', 1],
        ]),
        catalog,
        policy,
        notFinal,
      );
      // then
      expect(decision).toEqual({
        kind: 'confirm',
        event: {
          orderId: 'order-1',
          customerId: 'customer-1',
          currency: 'EUR',
          lines: [
            { sku: 'SKU-1', quantity: 2, unitPriceCents: 250, lineTotalCents: 500 },
            { sku: 'SKU-2', quantity: 1, unitPriceCents: 1_000, lineTotalCents: 1_000 },
          ],
          totalCents: 1_500,
          confirmedAt: NOW,
        },
      });
    });

    it('keeps lines with the same SKU as given instead of merging them', () => {
      const decision = decidePlacement(
        order([
          ['SKU-1', 2],
          ['SKU-1', 3],
        ]),
        catalogOf(product('SKU-1', 100)),
        policy,
        notFinal,
      );
      const event = confirmation(decision);
      expect(event.lines).toEqual([
        { sku: 'SKU-1', quantity: 2, unitPriceCents: 100, lineTotalCents: 200 },
        { sku: 'SKU-1', quantity: 3, unitPriceCents: 100, lineTotalCents: 300 },
      ]);
      expect(event.totalCents).toBe(500);
    });

    it('confirms a total exactly at the limit', () => {
      const decision = decidePlacement(
        order([['SKU-1', 4]]),
        catalogOf(product('SKU-1', 2_500)),
        policy,
        notFinal,
      );
      expect(confirmation(decision).totalCents).toBe(10_000);
    });

    it('takes its time from the context only: the same input gives the same decision', () => {
      const catalog = catalogOf(product('SKU-1', 250));
      const first = decidePlacement(order([['SKU-1', 1]]), catalog, policy, { now: 42, finalAttempt: false });
      const second = decidePlacement(order([['SKU-1', 1]]), catalog, policy, {
        now: 42,
        finalAttempt: false,
      });
      expect(second).toEqual(first);
      expect(confirmation(first).confirmedAt).toBe(42);
    });
  });

  describe('unknown products', () => {
    it('waits for the catalog when unknown SKUs are the only problem and this is not the final attempt', () => {
      // given SKU-9 and SKU-8 are not in the catalog (yet), SKU-9 ordered twice
      const catalog = catalogOf(product('SKU-1', 250));
      // when
      const decision = decidePlacement(
        order([
          ['SKU-9', 1],
          ['SKU-1', 1],
          ['SKU-8', 1],
          ['SKU-9', 2],
        ]),
        catalog,
        policy,
        notFinal,
      );
      // then each unknown SKU is listed once, in line order
      expect(decision).toEqual({ kind: 'wait', unknownSkus: ['SKU-9', 'SKU-8'] });
    });

    it('rejects unknown SKUs on the final attempt, one reason per SKU', () => {
      const decision = decidePlacement(
        order([
          ['SKU-9', 1],
          ['SKU-9', 4],
          ['SKU-1', 1],
        ]),
        catalogOf(product('SKU-1', 250)),
        policy,
        final,
      );
      expect(decision).toEqual({
        kind: 'reject',
        event: {
          orderId: 'order-1',
          customerId: 'customer-1',
          reasons: [{ code: 'UNKNOWN_PRODUCT', sku: 'SKU-9', message: 'SKU-9 is not in the catalog' }],
          rejectedAt: NOW,
        },
      });
    });

    it('rejects right away, listing the unknown SKUs too, when another problem exists that waiting cannot fix', () => {
      const decision = decidePlacement(
        order([
          ['SKU-9', 1],
          ['SKU-2', 1],
        ]),
        catalogOf(product('SKU-2', 250, { active: false })),
        policy,
        notFinal,
      );
      expect(reasonsOf(decision)).toEqual([
        ['UNKNOWN_PRODUCT', 'SKU-9'],
        ['PRODUCT_INACTIVE', 'SKU-2'],
      ]);
    });

    it('does not check the total while a line cannot be priced', () => {
      const decision = decidePlacement(
        order([
          ['SKU-1', 1_000],
          ['SKU-9', 1],
        ]),
        catalogOf(product('SKU-1', 1_000)),
        policy,
        final,
      );
      expect(reasonsOf(decision)).toEqual([['UNKNOWN_PRODUCT', 'SKU-9']]);
    });
  });

  describe('reject', () => {
    it('rejects an inactive product even when this is not the final attempt, once per SKU', () => {
      const decision = decidePlacement(
        order([
          ['SKU-2', 1],
          ['SKU-2', 1],
        ]),
        catalogOf(product('SKU-2', 250, { name: 'Blue mug', active: false })),
        policy,
        notFinal,
      );
      expect(rejection(decision).reasons).toEqual([
        {
          code: 'PRODUCT_INACTIVE',
          sku: 'SKU-2',
          message: 'SKU-2 (Blue mug) is inactive and cannot be ordered',
        },
      ]);
      expect(rejection(decision).rejectedAt).toBe(NOW);
    });

    it('rejects a product priced in another currency than the order', () => {
      const decision = decidePlacement(
        order([['SKU-3', 1]], 'EUR'),
        catalogOf(product('SKU-3', 250, { currency: 'USD' })),
        policy,
        notFinal,
      );
      expect(rejection(decision).reasons).toEqual([
        {
          code: 'CURRENCY_MISMATCH',
          sku: 'SKU-3',
          message: 'SKU-3 is priced in USD, but the order is in EUR',
        },
      ]);
    });

    it('rejects a total one minor unit over the limit, with a reason about no SKU', () => {
      const decision = decidePlacement(
        order([
          ['SKU-1', 4],
          ['SKU-2', 1],
        ]),
        catalogOf(product('SKU-1', 2_500), product('SKU-2', 1)),
        policy,
        notFinal,
      );
      expect(rejection(decision).reasons).toEqual([
        {
          code: 'TOTAL_OVER_LIMIT',
          sku: null,
          message: 'the order total of 10001 (minor units of EUR) is over the limit of 10000',
        },
      ]);
    });

    it('treats a total beyond the safe integer range as over the limit', () => {
      // given two lines that are each safe but whose sum is not
      const price = 2 ** 40;
      const decision = decidePlacement(
        order([
          ['SKU-1', 2 ** 12],
          ['SKU-1', 2 ** 12],
        ]),
        catalogOf(product('SKU-1', price)),
        { maxTotalCents: Number.MAX_SAFE_INTEGER },
        notFinal,
      );
      expect(reasonsOf(decision)).toEqual([['TOTAL_OVER_LIMIT', null]]);
    });

    it('treats a line total beyond the safe integer range as over the limit', () => {
      const decision = decidePlacement(
        order([['SKU-1', 2 ** 31 - 1]]),
        catalogOf(product('SKU-1', 2 ** 40)),
        { maxTotalCents: Number.MAX_SAFE_INTEGER },
        notFinal,
      );
      expect(reasonsOf(decision)).toEqual([['TOTAL_OVER_LIMIT', null]]);
    });

    it('lists every problem, in line order, with the total last', () => {
      // given one line per kind of problem, and a total over the limit once every line is priced
      const catalog = catalogOf(
        product('SKU-1', 9_000),
        product('SKU-2', 100, { active: false }),
        product('SKU-3', 100, { currency: 'USD', active: false }),
        product('SKU-4', 5_000),
      );
      const lines: [string, number][] = [
        ['SKU-1', 1],
        ['SKU-2', 1],
        ['SKU-4', 1],
        ['SKU-2', 3],
      ];
      // when the lines can all be priced
      const overLimit = decidePlacement(order(lines), catalog, policy, notFinal);
      // then the inactive product and the total are both reasons, the total last
      expect(reasonsOf(overLimit)).toEqual([
        ['PRODUCT_INACTIVE', 'SKU-2'],
        ['TOTAL_OVER_LIMIT', null],
      ]);

      // when lines with an unknown SKU and a foreign currency are added
      const everything = decidePlacement(
        order([['SKU-9', 1], ['SKU-3', 1], ...lines]),
        catalog,
        policy,
        notFinal,
      );
      // then each SKU's problems come where the SKU first appears, and there is no total
      expect(reasonsOf(everything)).toEqual([
        ['UNKNOWN_PRODUCT', 'SKU-9'],
        ['PRODUCT_INACTIVE', 'SKU-3'],
        ['CURRENCY_MISMATCH', 'SKU-3'],
        ['PRODUCT_INACTIVE', 'SKU-2'],
      ]);
      // and deciding again gives the same event
      expect(
        decidePlacement(order([['SKU-9', 1], ['SKU-3', 1], ...lines]), catalog, policy, notFinal),
      ).toEqual(everything);
    });
  });
});
