import {
  orderCancelledTopic,
  orderPlacedTopic,
  productUpdatedTopic,
  type TopicDescriptor,
} from '@tideline/contracts';
import type { LateOutcome } from '@tideline/messaging';
import type { FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { accept, type Accepted } from './accept';
import type { CommandIntent, IdempotencyStore } from './idempotency';
import { cancelOrderSchema, placeOrderSchema, putProductSchema } from './schemas';

/** The one Publisher method order-api calls; resolves only once Kafka acknowledged the record. */
export interface EventPublisher {
  publish<Value>(
    topic: TopicDescriptor<Value>,
    key: string,
    value: Value,
    options: {
      correlationId: string;
      eventId: string;
      timestamp?: Date;
      onLateOutcome?: (outcome: LateOutcome) => void;
    },
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
  const { publisher } = deps;
  const acceptDeps = { store: deps.idempotency, now: deps.now };
  /**
   * Publishes the event of `intent`: its ids, its time as the record timestamp, keyed by its
   * subject. The value is built from the request and the intent only, so a retry of the same
   * request publishes the same bytes.
   */
  const publish = <Value>(
    topic: TopicDescriptor<Value>,
    intent: CommandIntent,
    value: Value,
    onLateOutcome: (outcome: LateOutcome) => void,
  ) =>
    publisher.publish(topic, intent.subjectId, value, {
      correlationId: intent.correlationId,
      eventId: intent.eventId,
      timestamp: new Date(intent.at),
      onLateOutcome,
    });
  const ids = ({ eventId, correlationId }: CommandIntent) => ({ eventId, correlationId });
  const orderAccepted = (intent: CommandIntent, status: string): Accepted => ({
    status: 202,
    body: {
      orderId: intent.subjectId,
      ...ids(intent),
      status,
      links: orderLinks(deps.projectionUrl, intent.subjectId),
    },
  });

  app.post<{ Body: PlaceOrderBody }>(
    '/orders',
    { schema: placeOrderSchema, config: { auth: true } },
    (request, reply) =>
      accept(request, reply, acceptDeps, {
        subject: () => uuidv7(),
        publish: async (intent, onLate) => {
          const { customerId, items, currency } = request.body;
          const orderId = intent.subjectId;
          const value = {
            orderId,
            customerId,
            currency,
            lines: items.map(({ sku, quantity }) => ({ sku, quantity })),
            placedAt: intent.at,
          };
          await publish(orderPlacedTopic, intent, value, onLate);
          request.log.info({ orderId, eventId: intent.eventId }, 'order placed');
        },
        accepted: (intent) => orderAccepted(intent, 'pending'),
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
      accept(request, reply, acceptDeps, {
        subject: () => request.params.id.toLowerCase(),
        publish: async (intent, onLate) => {
          const orderId = intent.subjectId;
          const value = { orderId, reason: request.body.reason ?? null, cancelledAt: intent.at };
          await publish(orderCancelledTopic, intent, value, onLate);
          request.log.info({ orderId, eventId: intent.eventId }, 'order cancellation requested');
        },
        accepted: (intent) => orderAccepted(intent, 'cancellation-requested'),
      }),
  );

  app.put<{ Params: { sku: string }; Body: PutProductBody }>(
    '/catalog/products/:sku',
    { schema: putProductSchema, config: { auth: true } },
    (request, reply) =>
      accept(request, reply, acceptDeps, {
        subject: () => request.params.sku,
        publish: async (intent, onLate) => {
          const sku = intent.subjectId;
          const { name, priceCents, currency, active } = request.body;
          const value = { sku, name, priceCents, currency, active, updatedAt: intent.at };
          await publish(productUpdatedTopic, intent, value, onLate);
          request.log.info({ sku, eventId: intent.eventId }, 'product updated');
        },
        accepted: (intent) => ({ status: 202, body: { sku: intent.subjectId, ...ids(intent) } }),
      }),
  );
}
