import {
  orderCancelledTopic,
  orderPlacedTopic,
  productUpdatedTopic,
  type TopicDescriptor,
} from '@tideline/contracts';
import type { FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { accept } from './accept';
import type { IdempotencyStore } from './idempotency';
import { checkReadiness, type ReadinessCheck } from './readiness';
import {
  cancelOrderSchema,
  healthzSchema,
  placeOrderSchema,
  putProductSchema,
  readyzSchema,
} from './schemas';

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
  readiness: Readonly<Record<string, ReadinessCheck>>;
  /** Base URL of order-projection, whose API serves the links of an accepted order. */
  projectionUrl: string;
  readinessTimeoutMs: number;
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

  app.post<{ Body: PlaceOrderBody }>(
    '/orders',
    { schema: placeOrderSchema, config: { auth: true } },
    (request, reply) =>
      accept(request, reply, idempotency, async () => {
        const orderId = uuidv7();
        const eventId = uuidv7();
        const correlationId = request.id;
        const { customerId, items, currency } = request.body;
        await publisher.publish(
          orderPlacedTopic,
          orderId,
          {
            orderId,
            customerId,
            currency,
            lines: items.map(({ sku, quantity }) => ({ sku, quantity })),
            placedAt: deps.now().getTime(),
          },
          { correlationId, eventId },
        );
        request.log.info({ orderId, eventId }, 'order placed');
        return {
          status: 202,
          body: {
            orderId,
            eventId,
            correlationId,
            status: 'pending',
            links: orderLinks(deps.projectionUrl, orderId),
          },
        };
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
        const eventId = uuidv7();
        const correlationId = request.id;
        await publisher.publish(
          orderCancelledTopic,
          orderId,
          { orderId, reason: request.body.reason ?? null, cancelledAt: deps.now().getTime() },
          { correlationId, eventId },
        );
        request.log.info({ orderId, eventId }, 'order cancellation requested');
        return {
          status: 202,
          body: {
            orderId,
            eventId,
            correlationId,
            status: 'cancellation-requested',
            links: orderLinks(deps.projectionUrl, orderId),
          },
        };
      }),
  );

  app.put<{ Params: { sku: string }; Body: PutProductBody }>(
    '/catalog/products/:sku',
    { schema: putProductSchema, config: { auth: true } },
    (request, reply) =>
      accept(request, reply, idempotency, async () => {
        const { sku } = request.params;
        const eventId = uuidv7();
        const correlationId = request.id;
        const { name, priceCents, currency, active } = request.body;
        await publisher.publish(
          productUpdatedTopic,
          sku,
          { sku, name, priceCents, currency, active, updatedAt: deps.now().getTime() },
          { correlationId, eventId },
        );
        request.log.info({ sku, eventId }, 'product updated');
        return { status: 202, body: { sku, eventId, correlationId } };
      }),
  );
}

export function registerHealthRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/healthz', { schema: healthzSchema, logLevel: 'warn' }, () => ({ status: 'ok' }));

  app.get('/readyz', { schema: readyzSchema, logLevel: 'warn' }, async (request, reply) => {
    const report = await checkReadiness(deps.readiness, deps.readinessTimeoutMs);
    if (!report.ready) request.log.warn({ checks: report.checks }, 'not ready');
    return reply
      .code(report.ready ? 200 : 503)
      .send({ status: report.ready ? 'ready' : 'not-ready', checks: report.checks });
  });
}
