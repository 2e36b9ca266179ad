import {
  orderConfirmedTopic,
  orderRejectedTopic,
  type OrderCancelled,
  type OrderPlaced,
  type ProductUpdated,
} from '@tideline/contracts';
import { ProcessingError, type Logger, type RecordContext } from '@tideline/messaging';
import { decidePlacement, type Catalog, type PricingPolicy } from '@tideline/orders-domain';

/** The catalog as the processor reads it: the compacted topic's table (a Map in tests). */
export interface ProductLookup {
  get(sku: string): ProductUpdated | undefined;
}

/** What the handlers need from a consumed record: its attempt and a way to emit the reaction. */
export type HandledRecord = Pick<RecordContext, 'isLastAttempt' | 'emit' | 'eventId' | 'correlationId'>;

/**
 * The processor's handlers: I/O at the edges only. The decision is the pure
 * `decidePlacement` from libs/orders-domain; the reaction is emitted in the consumer's
 * transaction, keyed by order id, correlation carried on, causation = the OrderPlaced event.
 */
export function createHandlers(
  products: ProductLookup,
  policy: PricingPolicy,
  logger: Logger,
  now: () => number = Date.now,
) {
  const catalog: Catalog = { get: (sku) => products.get(sku) };
  return {
    async placed(order: OrderPlaced, record: HandledRecord): Promise<void> {
      const decision = decidePlacement(order, catalog, policy, {
        now: now(),
        finalAttempt: record.isLastAttempt,
      });
      const fields = { orderId: order.orderId, eventId: record.eventId, correlationId: record.correlationId };
      switch (decision.kind) {
        case 'confirm':
          await record.emit(orderConfirmedTopic, order.orderId, decision.event);
          logger.info({ ...fields, totalCents: decision.event.totalCents }, 'order confirmed');
          return;
        case 'reject':
          await record.emit(orderRejectedTopic, order.orderId, decision.event);
          logger.info({ ...fields, reasons: decision.event.reasons.map((r) => r.code) }, 'order rejected');
          return;
        case 'wait':
          // Its ProductUpdated may still be on the way: retry later; the last attempt rejects.
          throw new ProcessingError(
            'UNKNOWN_PRODUCT',
            `products not in the catalog yet: ${decision.unknownSkus.join(', ')}`,
            true,
          );
      }
    },

    cancelled(cancellation: OrderCancelled, record: HandledRecord): void {
      // Nothing to decide: the projection shows the cancellation. Consumed so the group's lag
      // and position cover it (a later inventory release would live here).
      logger.debug({ orderId: cancellation.orderId, eventId: record.eventId }, 'order cancelled');
    },
  };
}
