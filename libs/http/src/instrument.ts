import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  propagation,
  trace,
  type Span,
} from '@opentelemetry/api';
import {
  DURATION_BUCKETS,
  gauge,
  histogram,
  metricsEnabled,
  randomTraceContext,
  withLogFields,
} from '@tideline/observability';
import type { FastifyServerOptions } from 'fastify';
import { correlationIdFrom } from './correlation';

const tracer = trace.getTracer('@tideline/http');

const requestDuration = histogram({
  name: 'http_server_request_duration_seconds',
  help: 'HTTP requests served, by method, route pattern and status code (streams count until they close)',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: DURATION_BUCKETS,
});

const activeRequests = gauge({
  name: 'http_server_active_requests',
  help: 'HTTP requests in progress, open streams included',
});

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Scrapes and probes: measured, but neither traced nor given trace ids. */
const PROBES = new Set(['/metrics', '/healthz', '/readyz']);
export const UNMATCHED_ROUTE = 'unmatched';

interface Instrumented {
  correlationId?: string;
  route?: string;
}
const state = new WeakMap<IncomingMessage, Instrumented>();

/** The correlation id the instrumented server chose for a request (fastify's request id). */
export function correlationIdOf(raw: IncomingMessage): string {
  return state.get(raw)?.correlationId ?? correlationIdFrom(raw.headers);
}

/** Remembers the matched route pattern (`/orders/:id`), the label of its metrics and the name of its span. */
export function setRoute(raw: IncomingMessage, route: string | undefined): void {
  const entry = state.get(raw);
  if (entry) entry.route = route ?? UNMATCHED_ROUTE;
}

function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const started = performance.now();
  const entry: Instrumented = { correlationId: correlationIdFrom(req.headers) };
  state.set(req, entry);
  const method = METHODS.has(req.method ?? '') ? req.method! : 'other';
  const probe = PROBES.has((req.url ?? '').split('?')[0]!);
  let ctx = probe ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, req.headers);
  let span: Span | undefined;
  if (!probe) {
    span = tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } },
      ctx,
    );
    ctx = trace.setSpan(ctx, span);
    if (!isSpanContextValid(span.spanContext())) ctx = trace.setSpanContext(ctx, randomTraceContext());
  }
  activeRequests.inc();
  res.once('close', () => {
    activeRequests.dec();
    const route = entry.route ?? UNMATCHED_ROUTE;
    const status = res.headersSent ? res.statusCode : 499; // 499: the client left before an answer
    if (metricsEnabled())
      requestDuration.observe(
        { method, route, status_code: String(status) },
        (performance.now() - started) / 1000,
      );
    if (span?.isRecording()) {
      span.updateName(`${method} ${route}`);
      span.setAttributes({
        'http.route': route,
        'http.response.status_code': status,
        'url.path': (req.url ?? '').split('?')[0],
        'tideline.correlation_id': entry.correlationId,
      });
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  });
  context.with(ctx, () => withLogFields({ correlationId: entry.correlationId }, () => handler(req, res)));
}

/**
 * fastify's `serverFactory`: an HTTP/1 server whose every request runs in its own async
 * context (a server span continuing the caller's `traceparent`, the correlation id for the
 * logs) and is measured when it closes.
 */
export function instrumentedServerFactory(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: FastifyServerOptions & { http?: ServerOptions | null },
): Server {
  const server = createServer(options.http ?? {}, (req, res) => serve(handler, req, res));
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
  server.setTimeout(options.connectionTimeout ?? 0);
  if ((options.maxRequestsPerSocket ?? 0) > 0) server.maxRequestsPerSocket = options.maxRequestsPerSocket!;
  return server;
}
