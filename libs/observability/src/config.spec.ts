import { ConfigError, loadConfig } from '@tideline/config';
import { DEFAULT_OTLP_TRACES_URL, telemetryVariables, tracingSettings } from './config';

const settings = (env: Record<string, string>) => tracingSettings(loadConfig(telemetryVariables, env));

describe('tracingSettings', () => {
  it('leaves tracing off when nothing asks for it, an empty variable counting as unset', () => {
    expect(settings({})).toBeUndefined();
    expect(
      settings({ OTEL_EXPORTER_OTLP_ENDPOINT: '', TIDELINE_TRACE_FILE: ' ', OTEL_TRACES_SAMPLER: '' }),
    ).toBeUndefined();
  });

  it('sends spans to the OTLP endpoint, the traces path added to the base URL', () => {
    expect(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({
      otlpUrl: 'http://collector:4318/v1/traces',
      file: undefined,
      sampler: 'parentbased_always_on',
    });
    expect(
      settings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom',
      })?.otlpUrl,
    ).toBe('http://traces:4318/custom');
    expect(settings({ OTEL_TRACES_EXPORTER: 'otlp' })?.otlpUrl).toBe(DEFAULT_OTLP_TRACES_URL);
  });

  it('writes a span file alone, and reads sampler and resource attributes', () => {
    expect(
      settings({
        TIDELINE_TRACE_FILE: '/tmp/spans.jsonl',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_SERVICE_NAME: 'renamed',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=orders%20core',
      }),
    ).toEqual({
      otlpUrl: undefined,
      file: '/tmp/spans.jsonl',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      serviceName: 'renamed',
      resourceAttributes: { 'deployment.environment': 'prod', team: 'orders core' },
    });
  });

  it('turns off for OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true, whatever else is set', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(settings({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(
      settings({ ...endpoint, TIDELINE_TRACE_FILE: '/tmp/spans.jsonl', OTEL_SDK_DISABLED: 'true' }),
    ).toBeUndefined();
  });

  it('lists every bad variable at once', () => {
    const problemsOf = (env: Record<string, string>): readonly string[] => {
      try {
        loadConfig(telemetryVariables, env);
        return [];
      } catch (error) {
        return error instanceof ConfigError ? error.problems : [String(error)];
      }
    };
    const problems = problemsOf({
      OTEL_TRACES_EXPORTER: 'otlp,zipkin',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_TRACES_SAMPLER_ARG: '2',
      OTEL_RESOURCE_ATTRIBUTES: 'novalue',
      OTEL_SDK_DISABLED: 'yes',
    });
    expect(problems).toHaveLength(7);
    expect(problems.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining([
        'OTEL_TRACES_EXPORTER',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'OTEL_EXPORTER_OTLP_PROTOCOL',
        'OTEL_TRACES_SAMPLER',
        'OTEL_TRACES_SAMPLER_ARG',
        'OTEL_RESOURCE_ATTRIBUTES',
        'OTEL_SDK_DISABLED',
      ]),
    );
    expect(problems.find((p) => p.startsWith('OTEL_TRACES_EXPORTER'))).toContain('not zipkin');
  });
});
