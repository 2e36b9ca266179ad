import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  ApiKeyAuth,
  createHttpApp,
  problemSchema,
  registerApiKeyAuth,
  registerAsyncApiRoute,
  registerHealthRoutes,
  type ReadinessCheck,
} from '@tideline/http';
import { allTopics } from '@tideline/contracts';
import { asyncApiDocument } from '@tideline/messaging';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { OrderApiConfig } from './config';
import { dependencyUnavailable } from './http-errors';
import type { IdempotencyStore } from './idempotency';
import { registerWriteRoutes, type EventPublisher } from './routes';

export type { EventPublisher } from './routes';

export type AppConfig = Pick<
  OrderApiConfig,
  'API_KEYS' | 'AUTH_DISABLED' | 'BODY_LIMIT_BYTES' | 'PROJECTION_URL'
>;

export interface AppDeps {
  publisher: EventPublisher;
  idempotency: IdempotencyStore;
  /** Named dependency checks for /readyz; each resolves when its dependency is usable. */
  readiness: Readonly<Record<string, ReadinessCheck>>;
  logger: FastifyBaseLogger;
  /** Defaults to the wall clock. */
  now?: () => Date;
  /** How long /readyz waits for each check. Default 2 s. */
  readinessTimeoutMs?: number;
}

/** The order API as a fastify instance, ready to `inject` or `listen`. */
export async function buildApp(config: AppConfig, deps: AppDeps): Promise<FastifyInstance> {
  const app = createHttpApp({
    logger: deps.logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    unavailable: dependencyUnavailable,
  });

  // JSON only: anything else is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  app.addSchema(problemSchema);
  // AUTH_DISABLED (local use only): no keys, every route open.
  registerApiKeyAuth(
    app,
    new ApiKeyAuth({ keys: config.AUTH_DISABLED ? [] : config.API_KEYS, realm: 'order-api' }),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'order-api',
        version: '0.1.0',
        description:
          'Writes to Tideline: each accepted command is an event in Kafka before the API answers 202. Read orders from order-projection.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerWriteRoutes(app, {
    publisher: deps.publisher,
    idempotency: deps.idempotency,
    projectionUrl: config.PROJECTION_URL,
    now: deps.now ?? (() => new Date()),
  });
  registerHealthRoutes(app, { checks: deps.readiness, timeoutMs: deps.readinessTimeoutMs });
  registerAsyncApiRoute(app, asyncApiDocument(allTopics, { service: 'order-api' }));
  await app.ready();
  return app;
}
