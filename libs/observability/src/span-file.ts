import { appendFile } from 'node:fs';
import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMicroseconds, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/** One finished span as a line of the trace file. */
export interface SpanLine {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: string;
  /** Epoch microseconds. */
  startUs: number;
  durationUs: number;
  status: { code: number; message?: string };
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  events: { name: string; attributes: Record<string, unknown> }[];
}

export function toSpanLine(span: ReadableSpan): SpanLine {
  const context = span.spanContext();
  const service = span.resource.attributes['service.name'];
  return {
    service: typeof service === 'string' ? service : '',
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    kind: SpanKind[span.kind] ?? String(span.kind),
    startUs: hrTimeToMicroseconds(span.startTime),
    durationUs: hrTimeToMicroseconds(span.duration),
    status: span.status,
    attributes: { ...span.attributes },
    links: span.links.map((link) => ({ traceId: link.context.traceId, spanId: link.context.spanId })),
    events: span.events.map((event) => ({ name: event.name, attributes: { ...event.attributes } })),
  };
}

/**
 * Appends finished spans to a file, one JSON object per line, one write per batch (so
 * processes sharing the file do not interleave lines). For tests and local debugging.
 */
export class SpanFileExporter implements SpanExporter {
  constructor(private readonly path: string) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const text = spans.map((span) => `${JSON.stringify(toSpanLine(span))}\n`).join('');
    appendFile(this.path, text, (error) =>
      done(error ? { code: ExportResultCode.FAILED, error } : { code: ExportResultCode.SUCCESS }),
    );
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
