import { z } from 'zod';

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

const EXPORTERS = ['otlp', 'none'] as const;

/** An empty variable counts as unset (compose files pass `${VAR:-}`). */
const unsetIfEmpty = <T extends z.ZodType>(schema: T) =>
  z.preprocess((raw) => (typeof raw === 'string' && raw.trim() === '' ? undefined : raw), schema);

const otlpUrl = unsetIfEmpty(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional());

const protocol = unsetIfEmpty(
  z
    .enum(['http/protobuf'], { error: 'only http/protobuf is supported (OTLP over HTTP, port 4318)' })
    .optional(),
);

/**
 * The standard OpenTelemetry variables Tideline reads (the OTLP exporter also reads its own:
 * headers, timeout, compression, certificates), and TIDELINE_TRACE_FILE. Spread into a
 * service's variables; `tracingSettings` turns the parsed values into what `startTelemetry` needs.
 */
export const telemetryVariables = {
  OTEL_SDK_DISABLED: unsetIfEmpty(
    z
      .enum(['true', 'false', 'TRUE', 'FALSE', 'True', 'False'], { error: 'must be true or false' })
      .default('false')
      .transform((raw) => raw.toLowerCase() === 'true'),
  ),
  OTEL_TRACES_EXPORTER: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      const names = raw.split(',').map((name) => name.trim().toLowerCase());
      const unknown = names.filter((name) => !(EXPORTERS as readonly string[]).includes(name));
      if (unknown.length > 0)
        ctx.addIssue({
          code: 'custom',
          message: `supported exporters are otlp and none (TIDELINE_TRACE_FILE writes spans to a file); not ${unknown.join(', ')}`,
        });
      return names as (typeof EXPORTERS)[number][];
    }),
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl,
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol,
  OTEL_SERVICE_NAME: unsetIfEmpty(z.string().trim().optional()),
  OTEL_RESOURCE_ATTRIBUTES: z
    .string()
    .default('')
    .transform((raw, ctx) => {
      const attributes: Record<string, string> = {};
      for (const pair of raw.split(',').filter((p) => p.trim() !== '')) {
        const at = pair.indexOf('=');
        if (at <= 0) {
          ctx.addIssue({ code: 'custom', message: `"${pair.trim()}" is not key=value` });
          continue;
        }
        try {
          attributes[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(
            pair.slice(at + 1).trim(),
          );
        } catch {
          ctx.addIssue({ code: 'custom', message: `"${pair.trim()}" is not percent-encoded correctly` });
        }
      }
      return attributes;
    }),
  OTEL_TRACES_SAMPLER: unsetIfEmpty(
    z.enum(SAMPLERS, { error: `must be one of ${SAMPLERS.join(', ')}` }).default('parentbased_always_on'),
  ),
  OTEL_TRACES_SAMPLER_ARG: unsetIfEmpty(
    z
      .string()
      .optional()
      .refine(
        (raw) => raw === undefined || (/^\d+(\.\d+)?$/.test(raw.trim()) && Number(raw) <= 1),
        'must be a ratio from 0 to 1',
      )
      .transform((raw) => (raw === undefined ? undefined : Number(raw))),
  ),
  /** Appends every finished span to this file as one JSON line (tests, local debugging). */
  TIDELINE_TRACE_FILE: unsetIfEmpty(z.string().trim().optional()),
};

type TelemetryVariables = z.infer<z.ZodObject<typeof telemetryVariables>>;

export type SamplerName = (typeof SAMPLERS)[number];

/** Where finished spans go; tracing is on when at least one is set. */
export interface TracingSettings {
  /** The OTLP/HTTP traces URL, when spans go to a collector. */
  otlpUrl: string | undefined;
  /** The JSON-lines file spans are appended to. */
  file: string | undefined;
  sampler: SamplerName;
  samplerRatio: number | undefined;
  serviceName: string | undefined;
  resourceAttributes: Record<string, string>;
}

export const DEFAULT_OTLP_TRACES_URL = 'http://localhost:4318/v1/traces';

/**
 * Tracing is off unless OTEL_TRACES_EXPORTER names otlp, an OTLP endpoint is set, or
 * TIDELINE_TRACE_FILE is; OTEL_SDK_DISABLED=true turns it off whatever else is set.
 */
export function tracingSettings(config: Readonly<TelemetryVariables>): TracingSettings | undefined {
  if (config.OTEL_SDK_DISABLED) return undefined;
  const endpointSet =
    config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined ||
    config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined;
  const otlp = config.OTEL_TRACES_EXPORTER ? config.OTEL_TRACES_EXPORTER.includes('otlp') : endpointSet;
  const base = config.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  const otlpUrl = otlp
    ? (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
      (base === undefined ? DEFAULT_OTLP_TRACES_URL : `${base}/v1/traces`))
    : undefined;
  if (otlpUrl === undefined && config.TIDELINE_TRACE_FILE === undefined) return undefined;
  return {
    otlpUrl,
    file: config.TIDELINE_TRACE_FILE,
    sampler: config.OTEL_TRACES_SAMPLER,
    samplerRatio: config.OTEL_TRACES_SAMPLER_ARG,
    serviceName: config.OTEL_SERVICE_NAME,
    resourceAttributes: config.OTEL_RESOURCE_ATTRIBUTES,
  };
}
