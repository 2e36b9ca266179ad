import type { OrderCancelled, OrderConfirmed, OrderPlaced, OrderRejected } from '@tideline/contracts';
import type { OrderEvent } from '../order-view';

export const ORDER_ID = '01964f3a-0000-7000-8000-000000000001';
export const CUSTOMER_ID = 'customer-1';

export function placed(
  eventId: string,
  at: number,
  value: Partial<OrderPlaced> = {},
): Extract<OrderEvent, { type: 'OrderPlaced' }> {
  return {
    type: 'OrderPlaced',
    eventId,
    at,
    value: {
      orderId: ORDER_ID,
      customerId: CUSTOMER_ID,
      currency: 'EUR',
      lines: [
        { sku: 'SKU-1', quantity: 2 },
        { sku: 'SKU-2', quantity: 1 },
      ],
      placedAt: at,
      ...value,
    },
  };
}

export function confirmed(
  eventId: string,
  at: number,
  value: Partial<OrderConfirmed> = {},
): Extract<OrderEvent, { type: 'OrderConfirmed' }> {
  return {
    type: 'OrderConfirmed',
    eventId,
    at,
    value: {
      orderId: ORDER_ID,
      customerId: CUSTOMER_ID,
      currency: 'EUR',
      lines: [
        { sku: 'SKU-1', quantity: 2, unitPriceCents: 250, lineTotalCents: 500 },
        { sku: 'SKU-2', quantity: 1, unitPriceCents: 1000, lineTotalCents: 1000 },
      ],
      totalCents: 1500,
      confirmedAt: at,
      ...value,
    },
  };
}

export function rejected(
  eventId: string,
  at: number,
  value: Partial<OrderRejected> = {},
): Extract<OrderEvent, { type: 'OrderRejected' }> {
  return {
    type: 'OrderRejected',
    eventId,
    at,
    value: {
      orderId: ORDER_ID,
      customerId: CUSTOMER_ID,
      reasons: [
        { code: 'PRODUCT_INACTIVE', sku: 'SKU-2', message: 'SKU-2 (Mug) is inactive and cannot be ordered' },
      ],
      rejectedAt: at,
      ...value,
    },
  };
}

export function cancelled(
  eventId: string,
  at: number,
  value: Partial<OrderCancelled> = {},
): Extract<OrderEvent, { type: 'OrderCancelled' }> {
  return {
    type: 'OrderCancelled',
    eventId,
    at,
    value: { orderId: ORDER_ID, reason: 'changed my mind', cancelledAt: at, ...value },
  };
}
