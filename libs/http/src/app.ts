import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { CORRELATION_HEADER, correlationIdFrom } from './correlation';
import { errorHandler, handleNotFound, type ErrorHandlerOptions } from './errors';

export interface HttpAppOptions extends ErrorHandlerOptions {
  logger: FastifyBaseLogger;
  /** The largest body accepted, in bytes (larger: 413). Fastify's default (1 MiB) when undefined. */
  bodyLimit?: number;
}

/**
 * A fastify instance with the conventions every service shares, before any route: the
 * correlation id is the request id (it labels every request log line and comes back in
 * `X-Correlation-Id`), every error and unknown route is problem+json, and validation reports
 * every bad field and rejects (not strips, not coerces) what does not fit the schema.
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    genReqId: (raw) => correlationIdFrom(raw.headers),
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
    bodyLimit: options.bodyLimit,
    ajv: {
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: false },
    },
  });
  app.setErrorHandler(errorHandler({ unavailable: options.unavailable }));
  app.setNotFoundHandler(handleNotFound);
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header(CORRELATION_HEADER, request.id);
    done();
  });
  return app;
}
