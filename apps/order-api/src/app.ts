import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  createHttpApp,
  problem,
  problemSchema,
  registerAsyncApiRoute,
  registerHealthRoutes,
  sendProblem,
  type ReadinessCheck,
} from '@tideline/http';
import { allTopics } from '@tideline/contracts';
import { asyncApiDocument } from '@tideline/messaging';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { ANONYMOUS, ApiKeyVerifier, presentedKey, type Principal } from './auth';
import type { OrderApiConfig } from './config';
import { dependencyUnavailable } from './http-errors';
import type { IdempotencyStore } from './idempotency';
import { registerWriteRoutes, type EventPublisher } from './routes';

export type { EventPublisher } from './routes';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs an API key (unless AUTH_DISABLED). */
    auth?: boolean;
  }
  interface FastifyRequest {
    /** Who called: a fingerprint of the API key, or `anonymous`. */
    principal: Principal;
  }
}

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

const WWW_AUTHENTICATE = 'Bearer realm="order-api"';

/** The order API as a fastify instance, ready to `inject` or `listen`. */
export async function buildApp(config: AppConfig, deps: AppDeps): Promise<FastifyInstance> {
  const app = createHttpApp({
    logger: deps.logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    unavailable: dependencyUnavailable,
  });

  // JSON only: anything else is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('principal', ANONYMOUS);
  app.addSchema(problemSchema);

  const verifier = new ApiKeyVerifier(config.API_KEYS);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.config.auth || config.AUTH_DISABLED) return;
    const presented = presentedKey(request.headers);
    const principal = verifier.verify(presented);
    if (principal !== undefined) {
      request.principal = principal;
      return;
    }
    request.log.info({ presented: presented !== undefined }, 'request rejected: no valid API key');
    await sendProblem(
      reply.header(
        'www-authenticate',
        presented === undefined ? WWW_AUTHENTICATE : `${WWW_AUTHENTICATE}, error="invalid_token"`,
      ),
      problem(request, {
        title: 'Unauthorized',
        status: 401,
        detail:
          presented === undefined
            ? 'Send an API key as Authorization: Bearer <key> or X-API-Key: <key>.'
            : 'The API key is not valid.',
      }),
    );
  });

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
