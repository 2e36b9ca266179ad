import {
  ApiKeyAuth,
  createHttpApp,
  registerApiKeyAuth,
  problem,
  problemSchema,
  registerAsyncApiRoute,
  registerHealthRoutes,
  registerOpenApi,
  sendInvalid,
  sendProblem,
} from '@tideline/http';
import {
  attachWebSocket,
  ConnectionLimiter,
  isRefusal,
  openSse,
  refusedOrigin,
  resumePoint,
  type ConnectionLimits,
  type OriginPolicy,
  type SubscriptionRequest,
} from '@tideline/realtime';
import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { dashboardHtml } from './dashboard';
import type { OrderProjection } from './projection';
import { decodeCursor } from './queries';
import { isTransientPgError } from '@tideline/projections';
import { allTopics, IDENTIFIER_PATTERN, isIdentifier } from '@tideline/contracts';
import { asyncApiDocument } from '@tideline/messaging';

export interface ProjectionAppOptions {
  projection: OrderProjection;
  logger: FastifyBaseLogger;
  /** Longest `timeout` a read-your-writes GET may ask for. */
  maxWaitMs: number;
  /** Browser origins besides the service's own that may open `/stream`, `/orders/:id/stream` and `/ws`. */
  streamOrigins: OriginPolicy;
  /** Live-stream connections per instance and per client, SSE and WebSocket together. */
  streamLimits: ConnectionLimits;
  /** API keys every query, stream and /stats request must present; none: open to anyone. */
  apiKeys: readonly string[];
}

const idParam = { type: 'string', pattern: IDENTIFIER_PATTERN } as const;
const problemResponse = { $ref: 'Problem#' } as const;

const orderSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    orderId: { type: 'string' },
    customerId: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['pending', 'confirmed', 'cancelled', 'rejected'] },
  },
} as const;

/** The query API, the SSE streams, the WebSocket endpoint and the dashboard. */
export async function buildApp(options: ProjectionAppOptions): Promise<FastifyInstance> {
  const { projection } = options;
  const limiter = new ConnectionLimiter(options.streamLimits);
  const auth = new ApiKeyAuth({ keys: options.apiKeys, realm: 'order-projection' });
  const app = createHttpApp({
    logger: options.logger,
    unavailable: (error) =>
      isTransientPgError(error)
        ? { code: 'TDL_PROJ_DATABASE_UNAVAILABLE', detail: 'PostgreSQL did not answer. Retry.' }
        : undefined,
  });
  app.addSchema(problemSchema);
  registerApiKeyAuth(app, auth);
  await registerOpenApi(app, {
    info: {
      title: 'order-projection',
      version: '0.1.0',
      description:
        'Reads of Tideline orders: the read model built from the order events, and live streams of its changes (SSE, WebSocket at /ws).',
    },
  });

  app.get('/', { schema: { hide: true } }, (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(dashboardHtml),
  );

  app.get<{ Params: { id: string }; Querystring: { waitFor?: string; timeout?: number } }>(
    '/orders/:id',
    {
      config: { auth: true },
      schema: {
        summary: 'One order, with its lines, totals, status and timeline',
        description:
          'With `waitFor=<eventId>` (the eventId order-api answered with), answers once that event is applied, or 504 after `timeout` ms: read-your-writes.',
        params: { type: 'object', properties: { id: idParam }, required: ['id'] },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            waitFor: { type: 'string', pattern: IDENTIFIER_PATTERN },
            timeout: { type: 'string', pattern: '^\\d{1,6}$' },
          },
        },
        response: { 200: orderSchema, 400: problemResponse, 404: problemResponse, 504: problemResponse },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { waitFor } = request.query;
      if (waitFor !== undefined) {
        const timeout = Math.min(Number(request.query.timeout ?? 5_000), options.maxWaitMs);
        const applied = await projection.waitFor(id, waitFor, timeout);
        if (!applied) {
          return sendProblem(
            reply,
            problem(request, {
              title: 'Gateway Timeout',
              status: 504,
              detail: `Event ${waitFor} was not applied to order ${id} within ${timeout} ms. Retry, or follow /orders/${id}/stream.`,
            }),
          );
        }
      }
      const order = await projection.queries.order(id);
      if (order === undefined)
        return notFound(request, reply, `No order ${id} (yet: events may still be on their way).`);
      return order.document;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { cursor?: string; limit?: string } }>(
    '/customers/:id/orders',
    {
      config: { auth: true },
      schema: {
        summary: "A customer's orders, newest first, a page at a time",
        params: { type: 'object', properties: { id: idParam }, required: ['id'] },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,300}$' },
            limit: { type: 'string', pattern: '^(100|[1-9][0-9]?)$', description: '1-100, default 20' },
          },
        },
        response: { 400: problemResponse },
      },
    },
    async (request, reply) => {
      const { cursor } = request.query;
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      if (cursor !== undefined && after === undefined) {
        return sendInvalid(request, reply, [
          { field: 'querystring.cursor', message: 'is not a cursor this API issued' },
        ]);
      }
      return projection.queries.customerOrders(request.params.id, Number(request.query.limit ?? 20), after);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/customers/:id/summary',
    {
      config: { auth: true },
      schema: {
        summary: "A customer's orders counted by status, and confirmed spend per currency",
        params: { type: 'object', properties: { id: idParam }, required: ['id'] },
        response: { 400: problemResponse, 404: problemResponse },
      },
    },
    async (request, reply) => {
      const summary = await projection.queries.customerSummary(request.params.id);
      if (summary === undefined)
        return notFound(request, reply, `No orders of customer ${request.params.id}.`);
      return summary;
    },
  );

  app.get(
    '/stats',
    { config: { auth: true }, schema: { summary: 'Order counts by status, consumer lag, streams' } },
    async () => {
      const [totals, lag] = await Promise.all([
        projection.queries.totals(),
        projection.lag().catch(() => null),
      ]);
      return {
        ...totals,
        lag,
        consumer: projection.consumer.status(),
        feed: { head: projection.feed.head },
        streams: { ...projection.hub.stats(), ...limiter.stats() },
      };
    },
  );

  const stream = (
    request: FastifyRequest,
    reply: FastifyReply,
    subscription: Omit<SubscriptionRequest, 'afterId'>,
  ) => {
    const refused = refusedOrigin(request.headers, options.streamOrigins);
    if (refused !== undefined)
      return sendProblem(reply, problem(request, { title: 'Forbidden', status: 403, detail: refused }));
    let afterId: number | undefined;
    try {
      afterId = resumePoint(
        request.headers['last-event-id'],
        (request.query as { lastEventId?: string }).lastEventId,
      );
    } catch (error) {
      return sendInvalid(request, reply, [
        { field: 'headers.last-event-id', message: (error as Error).message },
      ]);
    }
    // An authenticated client counts by its key, an anonymous one by its address.
    const slot = limiter.acquire(
      auth.enabled ? request.principal : (request.socket.remoteAddress ?? ''),
      'sse',
    );
    if (isRefusal(slot)) {
      return sendProblem(
        reply,
        problem(request, { title: slot.title, status: slot.status, detail: slot.detail }),
        { retryAfterSeconds: slot.retryAfterSeconds },
      );
    }
    reply.hijack();
    const origin = request.headers.origin;
    const sink = openSse(reply.raw, {
      headers: {
        'x-correlation-id': request.id,
        // An allowed page of another origin may read the stream (EventSource follows CORS).
        ...(origin === undefined ? {} : { 'access-control-allow-origin': origin, vary: 'origin' }),
      },
    });
    let unsubscribe: (() => void) | undefined;
    let gone = false;
    void sink.closed.then(() => {
      slot.release();
      gone = true;
      unsubscribe?.();
    });
    projection.hub
      .subscribe(sink, { ...subscription, afterId })
      .then((stop) => {
        if (gone) stop();
        else unsubscribe = stop;
      })
      .catch((error: unknown) => {
        request.log.warn({ err: error }, 'stream could not be served');
        sink.close();
      });
    return reply;
  };

  const streamQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { lastEventId: { type: 'string' }, customerId: idParam },
  } as const;

  app.get<{ Params: { id: string } }>(
    '/orders/:id/stream',
    {
      config: { auth: true },
      schema: {
        summary: "An order's changes as server-sent events (its history first)",
        description:
          'Each `order-changed` event has an id; reconnect with Last-Event-ID (EventSource does) to receive exactly the changes missed.',
        params: { type: 'object', properties: { id: idParam }, required: ['id'] },
        querystring: streamQuery,
      },
    },
    (request, reply) => stream(request, reply, { key: `order:${request.params.id}`, from: 'start' }),
  );

  app.get<{ Querystring: { customerId?: string } }>(
    '/stream',
    {
      config: { auth: true },
      schema: {
        summary: "Changes of a customer's orders (or of all orders) as server-sent events, from now on",
        querystring: streamQuery,
      },
    },
    (request, reply) =>
      stream(request, reply, {
        key: request.query.customerId === undefined ? undefined : `customer:${request.query.customerId}`,
        from: 'now',
      }),
  );

  registerHealthRoutes(app, { checks: () => projection.readiness() });
  registerAsyncApiRoute(app, asyncApiDocument(allTopics, { service: 'order-projection' }));

  const sockets = attachWebSocket(app.server, {
    hub: projection.hub,
    resolve: resolveFeed,
    origins: options.streamOrigins,
    limiter,
    ...(auth.enabled ? { authenticate: (request: IncomingMessage) => auth.check(request.headers) } : {}),
    onError: (error) => options.logger.warn({ err: error }, 'websocket error'),
  });
  app.addHook('preClose', async () => {
    await sockets.close();
    projection.hub.closeAll();
  });
  await app.ready();
  return app;
}

/** WebSocket feed names: `order:<id>` (history first), `customer:<id>` and `all` (from now). */
export function resolveFeed(feed: string): Omit<SubscriptionRequest, 'afterId'> | { error: string } {
  if (feed === 'all') return { key: undefined, from: 'now' };
  const [kind, ...rest] = feed.split(':');
  const id = rest.join(':');
  if ((kind === 'order' || kind === 'customer') && isIdentifier(id))
    return { key: `${kind}:${id}`, from: kind === 'order' ? 'start' : 'now' };
  return { error: 'must be "order:<id>", "customer:<id>" or "all"' };
}

function notFound(request: FastifyRequest, reply: FastifyReply, detail: string): FastifyReply {
  return sendProblem(reply, problem(request, { title: 'Not Found', status: 404, detail }));
}
