import {
  orderCancelledTopic,
  orderPlacedTopic,
  productUpdatedTopic,
  type TopicDescriptor,
} from '@tideline/contracts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { accept, type Accepted } from './accept';
import type { IdempotencyStore } from './idempotency';
import { cancelOrderSchema, placeOrderSchema, putProductSchema } from './schemas';

/** The one Publisher method order-api calls; resolves only once Kafka acknowledged the record. */
export interface EventPublisher {
  publish<Value>(
    topic: TopicDescriptor<Value>,
    key: string,
    value: Value,
    options: { correlationId: string; eventId: string },
  ): Promise<unknown>;
}

export interface RouteDeps {
  publisher: EventPublisher;
  idempotency: IdempotencyStore;
  /** Base URL of order-projection, whose API serves the links of an accepted order. */
  projectionUrl: string;
  now: () => Date;
}

interface PlaceOrderBody {
  customerId: string;
  items: { sku: string; quantity: number }[];
  currency: string;
}

interface CancelOrderBody {
  reason?: string;
}

interface PutProductBody {
  name: string;
  priceCents: number;
  currency: string;
  active: boolean;
}

function orderLinks(projectionUrl: string, orderId: string) {
  const self = `${projectionUrl}/orders/${encodeURIComponent(orderId)}`;
  return { self, stream: `${self}/stream` };
}

export function registerWriteRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { publisher, idempotency } = deps;
  /** Publishes under a new event id with the request's correlation id; resolves once acknowledged. */
  const publish = async <Value>(
    request: FastifyRequest,
    topic: TopicDescriptor<Value>,
    key: string,
    value: Value,
  ) => {
    const ids = { correlationId: request.id, eventId: uuidv7() };
    await publisher.publish(topic, key, value, ids);
    return ids;
  };
  const orderAccepted = (
    orderId: string,
    ids: { eventId: string; correlationId: string },
    status: string,
  ): Accepted => ({
    status: 202,
    body: { orderId, ...ids, status, links: orderLinks(deps.projectionUrl, orderId) },
  });

  app.post<{ Body: PlaceOrderBody }>(
    '/orders',
    { schema: placeOrderSchema, config: { auth: true } },
    (request, reply) =>
      accept(request, reply, idempotency, async () => {
        const orderId = uuidv7();
        const { customerId, items, currency } = request.body;
        const ids = await publish(request, orderPlacedTopic, orderId, {
          orderId,
          customerId,
          currency,
          lines: items.map(({ sku, quantity }) => ({ sku, quantity })),
          placedAt: deps.now().getTime(),
        });
        request.log.info({ orderId, eventId: ids.eventId }, 'order placed');
        return orderAccepted(orderId, ids, 'pending');
      }),
  );

  app.post<{ Params: { id: string }; Body: CancelOrderBody }>(
    '/orders/:id/cancel',
    {
      schema: cancelOrderSchema,
      config: { auth: true },
      // The body is optional: no body at all means no reason.
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    (request, reply) =>
      accept(request, reply, idempotency, async () => {
        const orderId = request.params.id.toLowerCase();
        const ids = await publish(request, orderCancelledTopic, orderId, {
          orderId,
          reason: request.body.reason ?? null,
          cancelledAt: deps.now().getTime(),
        });
        request.log.info({ orderId, eventId: ids.eventId }, 'order cancellation requested');
        return orderAccepted(orderId, ids, 'cancellation-requested');
      }),
  );

  app.put<{ Params: { sku: string }; Body: PutProductBody }>(
    '/catalog/products/:sku',
    { schema: putProductSchema, config: { auth: true } },
    (request, reply) =>
      accept(request, reply, idempotency, async () => {
        const { sku } = request.params;
        const { name, priceCents, currency, active } = request.body;
        const ids = await publish(request, productUpdatedTopic, sku, {
          sku,
          name,
          priceCents,
          currency,
          active,
          updatedAt: deps.now().getTime(),
        });
        request.log.info({ sku, eventId: ids.eventId }, 'product updated');
        return { status: 202, body: { sku, ...ids } };
      }),
  );
}
