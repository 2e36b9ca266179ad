export { DEFAULT_OTLP_TRACES_URL, telemetryVariables, tracingSettings } from './config';
export type { SamplerName, TracingSettings } from './config';
export { currentLogFields, logMixin, withLogFields } from './log-context';
export type { LogFields } from './log-context';
export { createServiceLogger, logsContext } from './logger';
export {
  BoundedLabel,
  DURATION_BUCKETS,
  OTHER_LABEL,
  SIZE_BUCKETS,
  collectProcessMetrics,
  counter,
  gauge,
  histogram,
  metricsEnabled,
  metricsRegistry,
  metricsText,
  setMetricsEnabled,
} from './metrics';
export { boundCounter, boundHistogram } from './fast-metrics';
export type { CounterChild, HistogramChild } from './fast-metrics';
export { SpanFileExporter, toSpanLine } from './span-file';
export type { SpanLine } from './span-file';
export { installTraceContext, startTelemetry, tracingEnabled } from './telemetry';
export type { Telemetry, TelemetryLogger, TelemetryOptions } from './telemetry';
export { randomTraceContext, traceIdOfContext } from './trace-ids';
