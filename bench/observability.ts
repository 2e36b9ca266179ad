// Tracing and metrics on vs off for the consumer benchmark: "on" is what a traced service
// runs (every record a sampled span, batched to an OTLP/HTTP endpoint, every metric
// recorded); "off" is a service without tracing and with metrics switched off. Both have the
// async context and the W3C propagator, as every service does.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  installTraceContext,
  metricsEnabled,
  setMetricsEnabled,
  startTelemetry,
  type Telemetry,
} from '@tideline/observability';

/** An OTLP/HTTP traces endpoint on 127.0.0.1 that accepts and discards: the collector stand-in. */
export class OtlpSink {
  requests = 0;
  bytes = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpSink> {
    const server = createServer();
    const sink = new OtlpSink(server);
    server.on('request', (request, response) => {
      sink.requests += 1;
      request.on('data', (chunk: Buffer) => (sink.bytes += chunk.length));
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return sink;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * What is on: nothing, metrics only, metrics and tracing of every record, or metrics and
 * tracing of a tenth of the traces (`parentbased_traceidratio` 0.1, a usual production setting).
 */
export type Observability = 'off' | 'metrics' | 'all' | 'sampled';

/** Runs `work` with `mode` on (tracing to `sink`). */
export async function withObservability<T>(
  mode: Observability,
  sink: OtlpSink,
  work: () => Promise<T>,
): Promise<T> {
  installTraceContext();
  const metricsBefore = metricsEnabled();
  setMetricsEnabled(mode !== 'off');
  let telemetry: Telemetry | undefined;
  if (mode === 'all' || mode === 'sampled') {
    telemetry = startTelemetry({
      service: 'bench',
      processMetrics: false,
      // An export that fails or drops spans would make "on" look cheaper than it is: say so.
      logger: {
        info: () => undefined,
        warn: (fields, message) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
      },
      // Room for every span of a run: exported, not dropped (OpenTelemetry's default queue is 2048).
      exportQueueSize: 250_000,
      tracing: {
        otlpUrl: sink.url,
        file: undefined,
        sampler: mode === 'all' ? 'always_on' : 'parentbased_traceidratio',
        samplerRatio: mode === 'all' ? undefined : 0.1,
        serviceName: undefined,
        resourceAttributes: {},
      },
    });
  }
  try {
    return await work();
  } finally {
    await telemetry?.shutdown();
    setMetricsEnabled(metricsBefore);
  }
}
