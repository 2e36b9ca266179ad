// The two baselines of the orders benchmark's ingest phase, each run as its own OS process
// (started by bench/orders.bench.ts with `node --import tsx`):
//   INGEST_MODE=noop   POST /orders validates the body with order-api's JSON schema and answers
//                      202 with a body of the same shape: the HTTP ceiling of this machine.
//   INGEST_MODE=naive  the same, but first awaits one kafkajs producer.send() per request of the
//                      order as JSON (no Avro, no signing) with acks=all from an idempotent
//                      producer (the real Publisher's producer settings), to BENCH_TOPIC.
// GET /readyz answers 200 once it can serve (naive: the producer is connected).
import { createKafka } from '@tideline/messaging';
import fastify from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { placeOrderSchema } from '../../apps/order-api/src/schemas';

/** The baselines this file serves. */
export type IngestServerMode = 'noop' | 'naive';

interface PlaceOrderBody {
  customerId: string;
  items: { sku: string; quantity: number }[];
  currency: string;
}

const mode = process.env['INGEST_MODE'] as IngestServerMode | undefined;
const port = Number(process.env['PORT']);
const topic = process.env['BENCH_TOPIC'] ?? '';
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
if ((mode !== 'noop' && mode !== 'naive') || !Number.isInteger(port) || (mode === 'naive' && topic === '')) {
  process.stderr.write('ingest-server: needs INGEST_MODE=noop|naive, PORT and (naive) BENCH_TOPIC\n');
  process.exit(2);
}

const kafka = createKafka({ brokers, clientId: `bench-${mode}` });
const producer =
  mode === 'naive'
    ? kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
    : undefined;
let ready = mode === 'noop';

const app = fastify({ logger: false });
app.get('/readyz', (_request, reply) => reply.code(ready ? 200 : 503).send({ ready }));
app.post<{ Body: PlaceOrderBody }>(
  '/orders',
  // Order-api's body schema, and its 202 schema for the response serializer.
  { schema: { body: placeOrderSchema.body, response: { 202: placeOrderSchema.response[202] } } },
  async (request, reply) => {
    const orderId = uuidv7();
    const eventId = uuidv7();
    const { customerId, items, currency } = request.body;
    if (producer) {
      const value = JSON.stringify({
        orderId,
        customerId,
        currency,
        lines: items.map(({ sku, quantity }) => ({ sku, quantity })),
        placedAt: Date.now(),
      });
      try {
        await producer.send({ topic, acks: -1, messages: [{ key: orderId, value }] });
      } catch (error) {
        return reply.code(503).send({ title: 'Kafka unavailable', detail: (error as Error).message });
      }
    }
    const self = `http://127.0.0.1:3002/orders/${orderId}`;
    return reply.code(202).send({
      orderId,
      eventId,
      correlationId: String(request.id),
      status: 'pending',
      links: { self, stream: `${self}/stream` },
    });
  },
);

const shutdown = () => {
  void app
    .close()
    .then(() => producer?.disconnect())
    .finally(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

void (async () => {
  await app.listen({ port, host: '127.0.0.1' });
  if (producer) {
    await producer.connect();
    ready = true;
  }
})().catch((error: unknown) => {
  process.stderr.write(`ingest-server: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
