import { currentLogFields, logsContext, metricsText } from '@tideline/observability';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { CORRELATION_HEADER } from './correlation';
import { errorHandler, handleNotFound, type ErrorHandlerOptions } from './errors';
import { correlationIdOf, instrumentedServerFactory, setRoute } from './instrument';

export interface HttpAppOptions extends ErrorHandlerOptions {
  logger: FastifyBaseLogger;
  /** The largest body accepted, in bytes (larger: 413). Fastify's default (1 MiB) when undefined. */
  bodyLimit?: number;
  /** Serve the process's Prometheus metrics at `GET /metrics`. Default true. */
  metrics?: boolean;
}

/**
 * A fastify instance with the conventions every service shares, before any route: the
 * correlation id is the request id (it labels every request log line and comes back in
 * `X-Correlation-Id`), every error and unknown route is problem+json, and validation reports
 * every bad field and rejects (not strips, not coerces) what does not fit the schema.
 * Each request runs in its own async context: a server span that continues the caller's
 * `traceparent`, and the correlation and trace ids on every line logged while it runs; it
 * is measured by method, route pattern and status (`GET /metrics`).
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const contextLogger = logsContext(options.logger);
  const app = Fastify({
    loggerInstance: options.logger,
    serverFactory: instrumentedServerFactory,
    genReqId: correlationIdOf,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
    // A logger that adds the async context's fields itself would repeat the correlation id.
    childLoggerFactory: (logger, bindings, childOptions) =>
      contextLogger && currentLogFields()?.correlationId === bindings['correlationId']
        ? logger.child({}, childOptions)
        : logger.child(bindings, childOptions),
    bodyLimit: options.bodyLimit,
    ajv: {
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: false },
    },
  });
  app.setErrorHandler(errorHandler({ unavailable: options.unavailable }));
  app.setNotFoundHandler(handleNotFound);
  app.addHook('onRequest', (request, reply, done) => {
    setRoute(request.raw, request.routeOptions.url);
    void reply.header(CORRELATION_HEADER, request.id);
    done();
  });
  if (options.metrics ?? true) {
    // Registered before any OpenAPI plugin can see it: not part of a service's API document.
    app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
      const { contentType, body } = await metricsText();
      return reply.type(contentType).send(body);
    });
  }
  return app;
}
