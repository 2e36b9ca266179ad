// Real loopback sockets, as app.spec.ts: each request in its own async context, measured.
import type { AddressInfo } from 'node:net';
import { installTraceContext } from '@tideline/observability';
import type { FastifyInstance } from 'fastify';
import { createHttpApp } from './app';
import { createServiceLogger } from './logger';

installTraceContext();

let app: FastifyInstance;
let baseUrl: string;
let lines: Record<string, unknown>[];

beforeEach(async () => {
  lines = [];
  const logger = createServiceLogger('http-test', 'info', {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  app = createHttpApp({ logger });
  app.get('/things/:id', async (request) => {
    await new Promise((resolve) => setImmediate(resolve));
    request.log.info({}, 'inside the handler');
    return { id: (request.params as { id: string }).id };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  lines.length = 0;
});

afterEach(() => app.close());

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

it('puts the caller’s trace id and the correlation id on every line of the request, once', async () => {
  const response = await fetch(`${baseUrl}/things/a1`, {
    headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`, 'x-correlation-id': 'corr-9' },
  });
  expect(response.status).toBe(200);
  const mine = lines.filter((line) => line['correlationId'] === 'corr-9');
  expect(mine.map((line) => line['msg'])).toEqual([
    'incoming request',
    'inside the handler',
    'request completed',
  ]);
  for (const line of mine) expect(line).toMatchObject({ traceId: TRACE_ID, service: 'http-test' });
});

it('gives a request without a traceparent a trace id of its own', async () => {
  await fetch(`${baseUrl}/things/a2`, { headers: { 'x-correlation-id': 'corr-10' } });
  await fetch(`${baseUrl}/things/a3`, { headers: { 'x-correlation-id': 'corr-11' } });
  const traceOf = (id: string) => lines.find((line) => line['correlationId'] === id)?.['traceId'];
  expect(traceOf('corr-10')).toMatch(/^[0-9a-f]{32}$/);
  expect(traceOf('corr-11')).toMatch(/^[0-9a-f]{32}$/);
  expect(traceOf('corr-10')).not.toBe(traceOf('corr-11'));
});

it('serves /metrics with requests by method, route pattern and status (no ids in labels)', async () => {
  await fetch(`${baseUrl}/things/secret-id-1`);
  await fetch(`${baseUrl}/things/secret-id-2`);
  await fetch(`${baseUrl}/nowhere/secret-id-3`);
  const response = await fetch(`${baseUrl}/metrics`);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  expect(text).toMatch(
    /^http_server_request_duration_seconds_count\{method="GET",route="\/things\/:id",status_code="200"\} [2-9]/m,
  );
  expect(text).toMatch(
    /^http_server_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} [1-9]/m,
  );
  expect(text).not.toContain('secret-id');
  expect(text).toContain('# TYPE http_server_active_requests gauge');
});
