// Observability end to end: the three services as OS processes, tracing to a span file, one
// trace from POST /orders to the SSE event, a poison record counted by fingerprint, and
// /metrics parsed as Prometheus text with bounded labels.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { orderPlacedTopic } from '@tideline/contracts';
import {
  createKafka,
  deadLetterTopicName,
  HEADER,
  Publisher,
  RecordSigner,
  RegistryCodec,
} from '@tideline/messaging';
import type { SpanLine } from '@tideline/observability';
import {
  eventually,
  openSseClient,
  findRecord,
  scrapeMetrics,
  testInfra,
  uniqueName,
  type ServiceProcess,
} from '@tideline/testing';
import { OrderStack } from './support';

let stack: OrderStack;
let dir: string;
let spanFile: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tideline-spans-'));
  spanFile = path.join(dir, 'spans.jsonl');
  stack = await OrderStack.start({
    processors: 1,
    env: { LOG_LEVEL: 'debug', TIDELINE_TRACE_FILE: spanFile },
  });
  await stack.putProduct('apple', 150);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The JSON log lines a service wrote. */
function logLines(service: ServiceProcess): Record<string, unknown>[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function spans(): SpanLine[] {
  if (!existsSync(spanFile)) return [];
  return readFileSync(spanFile, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as SpanLine);
}

/** The one span of `service` named `name` in the trace; fails if there is none or more than one. */
function only(trace: SpanLine[], service: string, name: string): SpanLine {
  const found = trace.filter((s) => s.service === service && s.name === name);
  if (found.length !== 1)
    throw new Error(
      `expected one ${service} span "${name}", found ${found.length} in ${JSON.stringify(trace.map((s) => `${s.service}:${s.name}`))}`,
    );
  return found[0]!;
}

it('follows one POST /orders in one trace: every service logs and spans it, the SSE event carries it', async () => {
  const sse = await openSseClient(`${stack.projection.url}/stream`);
  const placed = await stack.placeOrder(`${stack.run}-ann`, [['apple', 2]]);
  expect((await stack.settled(placed.orderId)).status).toBe('confirmed');

  const streamed = await eventually('the pending and confirmed changes on the SSE stream', () => {
    const mine = sse.events
      .filter((e) => e.event === 'order-changed')
      .map((e) => JSON.parse(e.data) as { orderId: string; status: string; traceId: string | null })
      .filter((change) => change.orderId === placed.orderId);
    return mine.some((change) => change.status === 'confirmed') ? mine : undefined;
  });
  sse.close();
  const traceId = streamed[0]!.traceId!;
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(streamed.map((change) => change.traceId)).toEqual(streamed.map(() => traceId));

  // Logs: the request's lines in order-api, the decision in order-processor, both records applied in order-projection.
  const apiLines = logLines(stack.api).filter((line) => line['correlationId'] === placed.correlationId);
  expect(apiLines.map((line) => line['msg'])).toEqual(
    expect.arrayContaining(['incoming request', 'request completed']),
  );
  expect(new Set(apiLines.map((line) => line['traceId']))).toEqual(new Set([traceId]));
  const decided = logLines(stack.processors[0]!).filter(
    (line) => line['msg'] === 'order confirmed' && line['orderId'] === placed.orderId,
  );
  expect(decided).toEqual([
    expect.objectContaining({
      traceId,
      eventId: placed.eventId,
      topic: orderPlacedTopic.name,
      groupId: stack.processorGroup,
      service: 'order-processor',
    }),
  ]);
  const applied = await eventually('order-projection to log both records applied', () => {
    const lines = logLines(stack.projection).filter(
      (line) => line['msg'] === 'record applied' && line['traceId'] === traceId,
    );
    return lines.length >= 2 ? lines : undefined;
  });
  expect(applied.map((line) => line['eventId'])).toContain(placed.eventId);

  // Spans: the same trace, each hop the child of the span that sent the record.
  const trace = await eventually(
    'the spans of all three services in the span file',
    () => {
      const found = spans().filter((span) => span.traceId === traceId);
      const services = new Set(found.map((s) => s.service));
      const pushed = found.filter((s) => s.name === 'push order-changed').length >= 2;
      return pushed && services.size === 3 && found.length >= 8 ? found : undefined;
    },
    { timeoutMs: 20_000 },
  );
  const request = only(trace, 'order-api', 'POST /orders');
  expect(request).toMatchObject({ kind: 'SERVER', parentSpanId: null });
  expect(request.attributes).toMatchObject({ 'http.response.status_code': 202, 'http.route': '/orders' });
  const sendPlaced = only(trace, 'order-api', 'send orders.order-placed.v1');
  expect(sendPlaced).toMatchObject({ kind: 'PRODUCER', parentSpanId: request.spanId });
  const decide = only(trace, 'order-processor', 'process orders.order-placed.v1');
  expect(decide).toMatchObject({ kind: 'CONSUMER', parentSpanId: sendPlaced.spanId });
  const sendConfirmed = only(trace, 'order-processor', 'send orders.order-confirmed.v1');
  expect(sendConfirmed.parentSpanId).toBe(decide.spanId);
  const projectPlaced = only(trace, 'order-projection', 'process orders.order-placed.v1');
  expect(projectPlaced).toMatchObject({ kind: 'CONSUMER', parentSpanId: sendPlaced.spanId });
  const projectConfirmed = only(trace, 'order-projection', 'process orders.order-confirmed.v1');
  expect(projectConfirmed.parentSpanId).toBe(sendConfirmed.spanId);
  const pushes = trace.filter((s) => s.service === 'order-projection' && s.name === 'push order-changed');
  expect(pushes.map((s) => s.parentSpanId).sort()).toEqual([sendPlaced.spanId, sendConfirmed.spanId].sort());
  // The projection's store transaction is a span of its own, linked from the record spans it applied.
  const apply = spans().find((s) => s.spanId === projectPlaced.links[0]?.spanId);
  expect(apply).toMatchObject({ service: 'order-projection', name: `apply ${stack.projectionGroup}` });
});

it('counts a poison record under its fingerprint, and its dead letter still carries its trace', async () => {
  const traceId = randomBytes(16).toString('hex');
  const key = `${stack.run}-poison`;
  const infra = testInfra();
  const publisher = new Publisher({
    kafka: createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('poison') }),
    codec: new RegistryCodec({ registryUrl: infra.registryUrl }),
    signer: new RecordSigner({ defaultPolicy: 'off' }),
    service: 'e2e-poison',
  });
  try {
    // Unsigned and not Avro: every group that reads it must dead-letter it.
    await publisher.send({
      topic: orderPlacedTopic.name,
      key: Buffer.from(key),
      value: Buffer.from('not an order'),
      headers: {
        [HEADER.eventId]: uniqueName('poison'),
        [HEADER.eventType]: orderPlacedTopic.eventType,
        [HEADER.correlationId]: uniqueName('poison'),
        [HEADER.traceparent]: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      },
    });
  } finally {
    await publisher.close();
  }

  // Other tests' records on the shared topics are dead-lettered here too: find ours by its key.
  const deadLetteredBy = (group: string) =>
    findRecord(deadLetterTopicName(group), (record) => record.key?.toString() === key);
  const deadLetter = await deadLetteredBy(stack.processorGroup);
  expect(deadLetter.headers[HEADER.traceparent]).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  expect(deadLetter.headers[HEADER.errorCode]).toBe('TDL_MSG_SIGNATURE_MISSING');
  const fingerprint = deadLetter.headers[HEADER.errorFingerprint]!;
  expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);

  const counted = await eventually('order-processor to count the dead letter', async () => {
    const scrape = await scrapeMetrics(stack.processors[0]!.url);
    const labels = { group: stack.processorGroup, fingerprint };
    return scrape.sum('tideline_consumer_dead_letters_total', labels) > 0 ? scrape : undefined;
  });
  // Other tests' records on the shared topics may be dead-lettered too, under other fingerprints.
  const ours = counted.samples.filter(
    (sample) =>
      sample.name === 'tideline_consumer_dead_letters_total' && sample.labels['fingerprint'] === fingerprint,
  );
  expect(ours).toEqual([
    {
      name: 'tideline_consumer_dead_letters_total',
      labels: {
        group: stack.processorGroup,
        topic: orderPlacedTopic.name,
        error_code: 'TDL_MSG_SIGNATURE_MISSING',
        fingerprint,
      },
      value: 1,
    },
  ]);
  // order-projection reads the topic too: its own dead letter, counted the same way, same trace.
  const projected = await deadLetteredBy(stack.projectionGroup);
  expect(projected.headers[HEADER.traceparent]).toContain(`-${traceId}-`);
  await eventually('order-projection to count its dead letter', async () => {
    const scrape = await scrapeMetrics(stack.projection.url);
    return (
      scrape.sum('tideline_consumer_dead_letters_total', {
        group: stack.projectionGroup,
        fingerprint: projected.headers[HEADER.errorFingerprint]!,
      }) === 1 || undefined
    );
  });
});

/** Label names a Tideline service exports: ours, the histogram bucket bound, prom-client's process metrics. */
const KNOWN_LABELS = new Set([
  'group',
  'topic',
  'partition',
  'outcome',
  'tier',
  'error_code',
  'fingerprint',
  'projection',
  'transport',
  'method',
  'route',
  'status_code',
  'le',
  'version',
  'major',
  'minor',
  'patch',
  'space',
  'kind',
  'type',
]);

it('serves /metrics on every service in the Prometheus text format, no label unbounded', async () => {
  const placed = await stack.placeOrder(`${stack.run}-bob`, [['apple', 1]]);
  await stack.settled(placed.orderId);
  const ids = [placed.orderId, placed.eventId, placed.correlationId, `${stack.run}-bob`];
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

  const [api, processor, projection] = await Promise.all(
    [stack.api, stack.processors[0]!, stack.projection].map((service) => scrapeMetrics(service.url)),
  );
  for (const scrape of [api!, processor!, projection!]) {
    for (const [label, values] of scrape.labelValues()) {
      expect(KNOWN_LABELS).toContain(label);
      expect(values.size).toBeLessThanOrEqual(100);
      for (const value of values) {
        expect(value).not.toMatch(uuid);
        for (const id of ids) expect(value).not.toContain(id);
      }
    }
  }
  expect(
    api!.sum('http_server_request_duration_seconds', {
      method: 'POST',
      route: '/orders',
      status_code: '202',
    }),
  ).toBeGreaterThanOrEqual(1);
  expect(
    api!.sum('tideline_producer_records_total', { topic: orderPlacedTopic.name, outcome: 'acked' }),
  ).toBeGreaterThanOrEqual(1);
  const group = { group: stack.processorGroup, topic: orderPlacedTopic.name };
  expect(
    processor!.sum('tideline_consumer_records_total', { ...group, outcome: 'processed' }),
  ).toBeGreaterThanOrEqual(1);
  expect(processor!.sum('tideline_consumer_handler_duration_seconds', group)).toBeGreaterThanOrEqual(1);
  expect(
    processor!.sum('tideline_producer_records_total', {
      topic: 'orders.order-confirmed.v1',
      outcome: 'acked',
    }),
  ).toBeGreaterThanOrEqual(1);
  expect(processor!.values('tideline_consumer_lag_records', group).length).toBeGreaterThan(0);
  const projected = { projection: stack.projectionGroup };
  expect(projection!.sum('tideline_projection_batch_records', projected)).toBeGreaterThanOrEqual(1);
  expect(projection!.sum('tideline_projection_apply_duration_seconds', projected)).toBeGreaterThanOrEqual(1);
  expect(projection!.values('tideline_stream_clients', { transport: 'sse' })).toHaveLength(1);
  expect(
    projection!.sum('tideline_consumer_lag_seconds', { group: stack.projectionGroup }),
  ).toBeGreaterThanOrEqual(0);
  expect(projection!.family('process_cpu_seconds_total')?.type).toBe('COUNTER');
});
