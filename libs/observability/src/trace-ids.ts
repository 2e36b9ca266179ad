import { randomBytes } from 'node:crypto';
import {
  context,
  isSpanContextValid,
  trace,
  TraceFlags,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';

/**
 * A new, unsampled trace context: where tracing is off and a request came without one, the
 * ids still tie its log lines and the records it publishes together.
 */
export function randomTraceContext(): SpanContext {
  const bytes = randomBytes(24).toString('hex');
  return {
    traceId: bytes.slice(0, 32),
    spanId: bytes.slice(32),
    traceFlags: TraceFlags.NONE,
    isRemote: false,
  };
}

/** The trace id in effect in `ctx` (the active context by default), or undefined. */
export function traceIdOfContext(ctx: Context = context.active()): string | undefined {
  const span = trace.getSpanContext(ctx);
  return span !== undefined && isSpanContextValid(span) ? span.traceId : undefined;
}
