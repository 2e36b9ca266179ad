import { AsyncLocalStorage } from 'node:async_hooks';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * What a log line says about the work it belongs to. Set once where the work starts (an HTTP
 * request, a consumed record) and carried by the async context to every line logged inside it.
 */
export interface LogFields {
  correlationId?: string;
  groupId?: string;
  topic?: string;
  partition?: number;
  offset?: string;
  eventId?: string;
  [field: string]: string | number | boolean | undefined;
}

const storage = new AsyncLocalStorage<LogFields>();

/** Runs `work` with `fields` (added to the fields already in effect) on every line it logs. */
export function withLogFields<T>(fields: LogFields, work: () => T): T {
  const outer = storage.getStore();
  return storage.run(outer === undefined ? fields : { ...outer, ...fields }, work);
}

/** The fields in effect here, without the trace. */
export function currentLogFields(): LogFields | undefined {
  return storage.getStore();
}

/**
 * The pino mixin: the async context's fields plus the trace and span id of the active span
 * (present whenever the work carries a W3C trace context, traced or not).
 */
export function logMixin(): Record<string, unknown> {
  const fields = storage.getStore();
  const span = trace.getSpanContext(context.active());
  if (span === undefined || !isSpanContextValid(span)) return fields ?? {};
  return { ...fields, traceId: span.traceId, spanId: span.spanId };
}
