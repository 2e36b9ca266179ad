import type { OrderPlaced } from '@tideline/contracts';

/** A valid OrderPlaced for tests: order `order-<n>`, one line of `sku`. */
export function sampleOrder(n: number, sku = 'SKU-1'): OrderPlaced {
  return {
    orderId: `order-${n}`,
    customerId: 'customer-1',
    currency: 'EUR',
    lines: [{ sku, quantity: 1 }],
    placedAt: 1_763_856_000_000 + n,
  };
}
