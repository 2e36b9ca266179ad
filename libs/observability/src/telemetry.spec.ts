import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT_CONTEXT, SpanKind, context, trace, TraceFlags } from '@opentelemetry/api';
import { withLogFields } from './log-context';
import { createServiceLogger } from './logger';
import {
  BoundedLabel,
  OTHER_LABEL,
  counter,
  metricsText,
  setMetricsEnabled,
  metricsEnabled,
} from './metrics';
import { boundCounter, boundHistogram } from './fast-metrics';
import type { SpanLine } from './span-file';
import { installTraceContext, startTelemetry, tracingEnabled } from './telemetry';
import { randomTraceContext, traceIdOfContext } from './trace-ids';

installTraceContext();

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createServiceLogger('svc', 'debug', {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { logger, lines };
}

describe('log lines', () => {
  it('carry the async context’s fields and the active trace, also across awaits', async () => {
    const { logger, lines } = capture();
    const span = randomTraceContext();
    await context.with(trace.setSpanContext(ROOT_CONTEXT, span), () =>
      withLogFields({ correlationId: 'c-1', groupId: 'g' }, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        withLogFields({ topic: 't', partition: 2, offset: '7' }, () => logger.info({ extra: 1 }, 'inner'));
        logger.warn({}, 'outer');
      }),
    );
    logger.info({}, 'outside');
    expect(lines.map((l) => l['msg'])).toEqual(['inner', 'outer', 'outside']);
    expect(lines[0]).toMatchObject({
      service: 'svc',
      correlationId: 'c-1',
      groupId: 'g',
      topic: 't',
      partition: 2,
      offset: '7',
      extra: 1,
      traceId: span.traceId,
      spanId: span.spanId,
    });
    expect(lines[1]).toMatchObject({ correlationId: 'c-1', traceId: span.traceId });
    expect(lines[1]).not.toHaveProperty('topic');
    expect(lines[2]).not.toHaveProperty('correlationId');
    expect(lines[2]).not.toHaveProperty('traceId');
  });

  it('let the logged object win over the context (no duplicate keys)', () => {
    const { logger, lines } = capture();
    withLogFields({ topic: 'from-context' }, () => logger.info({ topic: 'from-call' }, 'x'));
    expect(lines[0]!['topic']).toBe('from-call');
  });
});

describe('randomTraceContext', () => {
  it('makes valid, unsampled, distinct ids', () => {
    const a = randomTraceContext();
    const b = randomTraceContext();
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.traceFlags).toBe(TraceFlags.NONE);
    expect(a.traceId).not.toBe(b.traceId);
    expect(traceIdOfContext(trace.setSpanContext(ROOT_CONTEXT, a))).toBe(a.traceId);
    expect(traceIdOfContext(ROOT_CONTEXT)).toBeUndefined();
  });
});

describe('metrics', () => {
  it('keeps a data-driven label bounded', () => {
    const label = new BoundedLabel(2);
    expect(['a', 'b', 'a', 'c', 'b', 'd'].map((v) => label.value(v))).toEqual([
      'a',
      'b',
      'a',
      OTHER_LABEL,
      'b',
      OTHER_LABEL,
    ]);
  });

  it('returns the registered instance for a name defined twice, and serves the text format', async () => {
    const first = counter({ name: 'test_things_total', help: 'things', labelNames: ['kind'] as const });
    const again = counter({ name: 'test_things_total', help: 'things', labelNames: ['kind'] as const });
    expect(again).toBe(first);
    first.inc({ kind: 'a' });
    const { contentType, body } = await metricsText();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toContain('# TYPE test_things_total counter');
    expect(body).toContain('test_things_total{kind="a"} 1');
  });

  it('serves bound counters and histograms (per-record paths) in the same text format', async () => {
    const records = boundCounter({ name: 'test_records_total', help: 'records', labelNames: ['topic'] });
    const seconds = boundHistogram({
      name: 'test_seconds',
      help: 'durations',
      labelNames: ['topic'],
      buckets: [0.1, 1],
    });
    expect(boundCounter({ name: 'test_records_total', help: 'records', labelNames: ['topic'] })).toBe(
      records,
    );
    const child = records.labels({ topic: 'a' });
    child.inc();
    child.inc(2);
    const timing = seconds.labels({ topic: 'a' });
    for (const value of [0.05, 0.1, 0.5, 3]) timing.observe(value);
    const { body } = await metricsText();
    expect(body).toContain('# TYPE test_records_total counter\ntest_records_total{topic="a"} 3');
    expect(body).toContain(
      [
        '# TYPE test_seconds histogram',
        'test_seconds_bucket{topic="a",le="0.1"} 2',
        'test_seconds_bucket{topic="a",le="1"} 3',
        'test_seconds_bucket{topic="a",le="+Inf"} 4',
        'test_seconds_sum{topic="a"} 3.65',
        'test_seconds_count{topic="a"} 4',
      ].join('\n'),
    );
  });

  it('switches recording off and on', () => {
    setMetricsEnabled(false);
    expect(metricsEnabled()).toBe(false);
    setMetricsEnabled(true);
    expect(metricsEnabled()).toBe(true);
  });
});

describe('startTelemetry', () => {
  it('records nothing without an exporter', async () => {
    const telemetry = startTelemetry({ service: 'svc', tracing: undefined, processMetrics: false });
    expect(telemetry.tracing).toBe(false);
    expect(tracingEnabled()).toBe(false);
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false);
    await telemetry.shutdown();
  });

  it('appends finished spans to the trace file as JSON lines, with the service and parent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tideline-telemetry-'));
    const file = path.join(dir, 'spans.jsonl');
    const telemetry = startTelemetry({
      service: 'svc',
      version: '1.2.3',
      processMetrics: false,
      tracing: {
        otlpUrl: undefined,
        file,
        sampler: 'parentbased_always_on',
        samplerRatio: undefined,
        serviceName: undefined,
        resourceAttributes: { team: 'orders' },
      },
    });
    try {
      expect(tracingEnabled()).toBe(true);
      const tracer = trace.getTracer('test');
      const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
      const child = tracer.startSpan('child', { attributes: { a: 1 } }, trace.setSpan(ROOT_CONTEXT, parent));
      child.end();
      parent.end();
      await telemetry.flush();
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as SpanLine);
      const byName = new Map(lines.map((l) => [l.name, l]));
      expect(byName.get('parent')).toMatchObject({ service: 'svc', kind: 'SERVER', parentSpanId: null });
      expect(byName.get('child')).toMatchObject({
        service: 'svc',
        kind: 'INTERNAL',
        traceId: parent.spanContext().traceId,
        parentSpanId: parent.spanContext().spanId,
        attributes: { a: 1 },
      });
    } finally {
      await telemetry.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(tracingEnabled()).toBe(false);
  });
});
