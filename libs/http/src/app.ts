import { currentLogFields, logsContext, metricsText } from '@tideline/observability';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { CORRELATION_HEADER } from './correlation';
import { errorHandler, handleNotFound, type ErrorHandlerOptions } from './errors';
import { correlationIdOf, instrumentedServerFactory, setRoute } from './instrument';
import { problem, sendProblem } from './problem';

export interface HttpAppOptions extends ErrorHandlerOptions {
  logger: FastifyBaseLogger;
  /** The largest body accepted, in bytes (larger: 413). Fastify's default (1 MiB) when undefined. */
  bodyLimit?: number;
  /** Serve the process's Prometheus metrics at `GET /metrics`. Default true. */
  metrics?: boolean;
}

/**
 * What the HTTP parser refuses before fastify sees a request (headers or URL too large, a
 * malformed request line, a client too slow to send its headers) is answered as problem+json
 * too, like every other error, then the connection is closed.
 */
function answerClientError(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request was not received in time.']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request line and headers are larger than this server accepts (16 KiB).']
        : [400, 'The request is not valid HTTP/1.1.'];
  this.log.debug({ err: error }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify({ type: 'about:blank', title: STATUS_CODES[status], status, detail });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
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
    clientErrorHandler: answerClientError,
    // The router's own refusals (a malformed percent-encoding, a path parameter over 100
    // characters) are problem+json like every other error.
    frameworkErrors: (error, request, reply) => {
      const status = error.statusCode ?? 400;
      void sendProblem(
        reply.header(CORRELATION_HEADER, request.id),
        problem(request, {
          title: STATUS_CODES[status] ?? 'Bad Request',
          status,
          detail:
            error.code === 'FST_ERR_MAX_PARAM_LENGTH'
              ? 'A path segment is longer than this API accepts (100 characters).'
              : 'The URL is not valid (a malformed percent-encoding?).',
        }),
      );
    },
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
