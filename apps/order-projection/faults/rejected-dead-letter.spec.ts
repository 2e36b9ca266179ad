// A dead-letter write the broker rejects (the dead letter is too large for its topic) on a real
// order-processor process: not a crash loop and not a silent stall. The partition is reported
// (/readyz names it, the metric, an error log line), the process lives, and once the topic takes
// the record again the same record is dead-lettered and every order is decided once.
import { orderPlacedTopic } from '@tideline/contracts';
import { createKafka, deadLetterTopicName, HEADER, RecordSigner } from '@tideline/messaging';
import { eventually, findRecord, testInfra, uniqueName } from '@tideline/testing';
import { OrderStack } from '../e2e/support';

let stack: OrderStack;
afterAll(() => stack?.stop());

const infra = testInfra();
const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('rejected-dlt') });

/** Non-incremental: the per-run topic's other configs go back to the broker's defaults. */
async function setMaxMessageBytes(topic: string, bytes: number) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: 2, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(bytes) }] },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

it('a rejected dead-letter write blocks only its partition, is reported, and recovers once the topic takes it', async () => {
  const started = Date.now();
  stack = await OrderStack.start({ processors: 1 });
  const [processor] = stack.processors;
  const dlt = deadLetterTopicName(stack.processorGroup);
  await stack.putProduct('widget', 500);
  const first = await stack.placeOrder('customer-1', [['widget', 1]]);
  expect((await stack.settled(first.orderId, 60_000)).status).toBe('confirmed');

  await setMaxMessageBytes(dlt, 512);
  const signer = new RecordSigner({ signingKey: stack.signingKey, defaultPolicy: 'required' });
  const key = Buffer.from(`poison-${stack.run}`);
  const value = Buffer.from([7, 1, 2, 3]);
  const headers: Record<string, string> = {};
  signer.sign(orderPlacedTopic.name, key, value, headers);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: orderPlacedTopic.name,
    acks: -1,
    messages: [{ key, value, headers, partition: 0 }],
  });
  await producer.disconnect();

  const report = await eventually(
    'readyz names the blocked partition',
    async () => {
      const response = await fetch(`${processor!.url}/readyz`);
      const text = await response.text();
      return response.status === 503 && text.includes(`${orderPlacedTopic.name}:0`) ? text : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  expect(report).toContain('larger than the max message size');
  const metrics = await (await fetch(`${processor!.url}/metrics`)).text();
  expect(metrics).toMatch(
    new RegExp(`tideline_consumer_partition_blocked\\{[^}]*topic="${orderPlacedTopic.name}"[^}]*\\} 1`),
  );
  expect(processor!.output()).toContain('partition blocked');
  // Orders keep being accepted meanwhile; those on other partitions are decided.
  const during = await Promise.all(
    Array.from({ length: 6 }, (_, n) => stack.placeOrder(`customer-${n + 2}`, [['widget', 1]])),
  );

  await setMaxMessageBytes(dlt, 2 * 1024 * 1024);
  const fixedAt = Date.now();
  await eventually(
    'ready again',
    async () => ((await fetch(`${processor!.url}/readyz`)).status === 200 ? true : undefined),
    { timeoutMs: 90_000, intervalMs: 250 },
  );
  const recoveredMs = Date.now() - fixedAt;
  const letter = await findRecord(dlt, (r) => r.key?.toString() === key.toString(), { timeoutMs: 30_000 });
  expect(letter.headers[HEADER.errorCode]).toBe('TDL_MSG_DECODE_FAILED');
  for (const order of [first, ...during]) {
    const decided = await stack.settled(order.orderId, 60_000);
    expect(decided.timeline.filter((t) => t.status === 'confirmed')).toHaveLength(1);
  }
  expect(processor!.child.exitCode).toBeNull();
  process.stdout.write(
    `rejected-dead-letter scenario: ${1 + during.length} orders, 0 lost, 0 duplicated, recovered ${recoveredMs} ms after the cause was fixed, ${Date.now() - started} ms\n`,
  );
});
