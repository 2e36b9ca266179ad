import {
  orderConfirmedTopic,
  orderRejectedTopic,
  type OrderPlaced,
  type ProductUpdated,
} from '@tideline/contracts';
import { isMessagingError, silentLogger } from '@tideline/messaging';
import { createHandlers, type HandledRecord } from './decide';

const product = (sku: string, overrides: Partial<ProductUpdated> = {}): ProductUpdated => ({
  sku,
  name: sku,
  priceCents: 250,
  currency: 'EUR',
  active: true,
  updatedAt: 1,
  ...overrides,
});

const order = (skus: string[]): OrderPlaced => ({
  orderId: 'order-1',
  customerId: 'customer-1',
  currency: 'EUR',
  lines: skus.map((sku) => ({ sku, quantity: 2 })),
  placedAt: 1,
});

function record(isLastAttempt = false) {
  const emitted: { topic: string; key: string; value: unknown }[] = [];
  const handled: HandledRecord = {
    isLastAttempt,
    eventId: 'event-1',
    correlationId: 'corr-1',
    emit: (topic: { name: string }, key: string, value: unknown) => {
      emitted.push({ topic: topic.name, key, value });
      return Promise.resolve({ eventId: 'event-2', correlationId: 'corr-1' });
    },
  } as HandledRecord;
  return { handled, emitted };
}

const catalog = new Map([
  ['SKU-1', product('SKU-1')],
  ['SKU-OFF', product('SKU-OFF', { active: false })],
]);
const handlers = createHandlers(catalog, { maxTotalCents: 10_000 }, silentLogger, () => 42);

it('confirms an order whose products are all active, priced from the catalog, keyed by order id', async () => {
  const { handled, emitted } = record();
  await handlers.placed(order(['SKU-1']), handled);
  expect(emitted).toEqual([
    {
      topic: orderConfirmedTopic.name,
      key: 'order-1',
      value: expect.objectContaining({ totalCents: 500, confirmedAt: 42 }) as unknown,
    },
  ]);
});

it('rejects an order with an inactive product, with the reason', async () => {
  const { handled, emitted } = record();
  await handlers.placed(order(['SKU-OFF']), handled);
  expect(emitted[0]?.topic).toBe(orderRejectedTopic.name);
  expect(emitted[0]?.value).toMatchObject({ reasons: [{ code: 'PRODUCT_INACTIVE', sku: 'SKU-OFF' }] });
});

it('asks for a retry while a product is unknown, and rejects it on the last attempt', async () => {
  const first = record(false);
  let thrown: unknown;
  await handlers.placed(order(['SKU-NEW']), first.handled).catch((error: unknown) => (thrown = error));
  expect(thrown).toMatchObject({ code: 'UNKNOWN_PRODUCT', retryable: true });
  expect(isMessagingError(thrown)).toBe(false);
  expect(first.emitted).toEqual([]);

  const last = record(true);
  await handlers.placed(order(['SKU-NEW']), last.handled);
  expect(last.emitted[0]?.topic).toBe(orderRejectedTopic.name);
  expect(last.emitted[0]?.value).toMatchObject({ reasons: [{ code: 'UNKNOWN_PRODUCT', sku: 'SKU-NEW' }] });
});
