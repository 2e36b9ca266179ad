import { ROOT_CONTEXT, SpanKind, propagation, trace, type Span } from '@opentelemetry/api';
import { boundCounter, counter, gauge, metricsEnabled, tracingEnabled } from '@tideline/observability';

export type Transport = 'sse' | 'websocket';

const tracer = trace.getTracer('@tideline/realtime');

const clients = gauge({
  name: 'tideline_stream_clients',
  help: 'Open live-stream connections, by transport (sse, websocket)',
  labelNames: ['transport'] as const,
});

const dropped = counter({
  name: 'tideline_stream_clients_dropped_total',
  help: 'Stream subscriptions dropped because the client did not keep up (told to resume), by transport',
  labelNames: ['transport'] as const,
});

const refused = counter({
  name: 'tideline_stream_connections_refused_total',
  help: 'Live-stream connections refused for a connection bound (instance: 503, client: 429), by transport and bound',
  labelNames: ['transport', 'bound'] as const,
});

const delivered = boundCounter({
  name: 'tideline_stream_events_delivered_total',
  help: 'Changes sent to stream subscribers, by transport',
  labelNames: ['transport'] as const,
});

const TRANSPORTS: readonly Transport[] = ['sse', 'websocket'];
const deliveredBy = new Map(TRANSPORTS.map((t) => [t, delivered.labels({ transport: t })]));

export function clientConnected(transport: Transport): void {
  if (metricsEnabled()) clients.inc({ transport });
}

export function clientDisconnected(transport: Transport): void {
  if (metricsEnabled()) clients.dec({ transport });
}

export function connectionRefused(transport: Transport, bound: 'instance' | 'client'): void {
  if (metricsEnabled()) refused.inc({ transport, bound });
}

export function clientDropped(transport: Transport | undefined): void {
  if (metricsEnabled()) dropped.inc({ transport: transport ?? 'other' });
}

export function eventDelivered(transport: Transport | undefined): void {
  if (metricsEnabled())
    (deliveredBy.get(transport ?? 'sse') ?? delivered.labels({ transport: 'other' })).inc();
}

/** The live push of one change, in the trace of the record it came from; undefined when tracing is off. */
export function pushSpan(event: string, traceparent: string | undefined): Span | undefined {
  if (traceparent === undefined || !tracingEnabled()) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, { traceparent });
  return tracer.startSpan(`push ${event}`, { kind: SpanKind.PRODUCER }, parent);
}
