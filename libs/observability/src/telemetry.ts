import { hostname } from 'node:os';
import { context, diag, DiagLogLevel, propagation, trace, type DiagLogFunction } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';
import type { SamplerName, TracingSettings } from './config';
import { collectProcessMetrics } from './metrics';
import { SpanFileExporter } from './span-file';

/** What telemetry needs of a logger (pino's call shape). */
export interface TelemetryLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface TelemetryOptions {
  service: string;
  version?: string;
  /** undefined: tracing off (trace context still propagates, nothing is recorded). */
  tracing: TracingSettings | undefined;
  logger?: TelemetryLogger;
  /** Process metrics (CPU, memory, event loop, GC). Default true. */
  processMetrics?: boolean;
  /** Extra exporters (tests: an in-memory one). */
  exporters?: SpanExporter[];
  /** How often batched spans are exported. Default 1 s (200 ms for a trace file). */
  exportDelayMs?: number;
  /**
   * Spans held for export; beyond, new spans are dropped (logged as a `tracing: Dropped N
   * spans` warning). Default 8192: a few seconds of a busy consumer traced in full.
   */
  exportQueueSize?: number;
}

export interface Telemetry {
  /** Whether spans are recorded and exported. */
  readonly tracing: boolean;
  /** Exports the spans not exported yet. */
  flush(): Promise<void>;
  /** Flushes and stops tracing (the process then traces nothing). */
  shutdown(): Promise<void>;
}

let contextInstalled = false;
let tracingOn = false;

/**
 * Whether this process records spans (`startTelemetry` with an exporter). Instrumentation
 * asks before work that only matters to a recorded trace (a span per record of a batch).
 */
export function tracingEnabled(): boolean {
  return tracingOn;
}

/**
 * The async context and the W3C trace-context propagator, always (cheap): trace ids pass
 * through HTTP and Kafka hops and reach the logs even when nothing is recorded.
 */
export function installTraceContext(): void {
  if (contextInstalled) return;
  contextInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

function sampler(name: SamplerName, ratio: number | undefined): Sampler {
  const root = (base: string): Sampler =>
    base === 'always_off'
      ? new AlwaysOffSampler()
      : base === 'traceidratio'
        ? new TraceIdRatioBasedSampler(ratio ?? 1)
        : new AlwaysOnSampler();
  return name.startsWith('parentbased_')
    ? new ParentBasedSampler({ root: root(name.slice('parentbased_'.length)) })
    : root(name);
}

/** OpenTelemetry's own complaints (an unreachable collector) as warnings, each message at most once a minute. */
function forwardDiagnostics(logger: TelemetryLogger): void {
  const lastSeen = new Map<string, number>();
  const warn: DiagLogFunction = (message, ...args) => {
    const now = Date.now();
    const kind = message.replace(/\d+/g, 'N'); // "Dropped 17 spans" and "Dropped 40 spans" are one kind
    if (now - (lastSeen.get(kind) ?? 0) < 60_000) return;
    lastSeen.set(kind, now);
    logger.warn(
      { detail: args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ') },
      `tracing: ${message}`,
    );
  };
  const ignore: DiagLogFunction = () => undefined;
  diag.setLogger({ error: warn, warn, info: ignore, debug: ignore, verbose: ignore }, DiagLogLevel.WARN);
}

/**
 * Starts a service's telemetry: trace context propagation always; with `tracing` settings a
 * tracer provider that batches spans to OTLP and/or a file; process metrics. Call once, first
 * thing in main.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  installTraceContext();
  if (options.processMetrics ?? true) collectProcessMetrics();
  const settings = options.tracing;
  const exporters: SpanExporter[] = [...(options.exporters ?? [])];
  if (settings?.otlpUrl !== undefined) exporters.push(new OTLPTraceExporter({ url: settings.otlpUrl }));
  if (settings?.file !== undefined) exporters.push(new SpanFileExporter(settings.file));
  if (exporters.length === 0) {
    return { tracing: false, flush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
  }
  if (options.logger) forwardDiagnostics(options.logger);
  const delay = options.exportDelayMs ?? (settings?.file !== undefined ? 200 : 1_000);
  const processors: SpanProcessor[] = exporters.map(
    (exporter) =>
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: delay,
        maxQueueSize: options.exportQueueSize ?? 8192,
        maxExportBatchSize: Math.min(2048, options.exportQueueSize ?? 8192),
      }),
  );
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      ...settings?.resourceAttributes,
      [ATTR_SERVICE_NAME]: settings?.serviceName ?? options.service,
      [ATTR_SERVICE_INSTANCE_ID]: `${hostname()}-${process.pid}`,
      ...(options.version !== undefined ? { [ATTR_SERVICE_VERSION]: options.version } : {}),
    }),
    sampler: sampler(settings?.sampler ?? 'parentbased_always_on', settings?.samplerRatio),
    spanProcessors: processors,
  });
  trace.setGlobalTracerProvider(provider);
  tracingOn = true;
  options.logger?.info(
    {
      otlp: settings?.otlpUrl ?? null,
      file: settings?.file ?? null,
      sampler: settings?.sampler ?? 'parentbased_always_on',
    },
    'tracing on',
  );
  return {
    tracing: true,
    flush: () => provider.forceFlush(),
    async shutdown() {
      tracingOn = false;
      await provider.shutdown().catch(() => undefined);
      trace.disable();
      diag.disable();
    },
  };
}
