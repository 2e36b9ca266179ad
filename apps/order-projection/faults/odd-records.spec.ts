// Every record shape a Kafka client can legally write, on every topic order-processor and
// order-projection consume (real processes, the shared stack, groups started at the end):
// each odd record lands in the consuming group's dead-letter topic exactly once with its
// reason (the processor's catalog table skips its own), orders placed before and after are
// decided once and projected, and every service stays up and ready.
import {
  orderCancelledTopic,
  orderConfirmedTopic,
  orderPlacedTopic,
  orderRejectedTopic,
  productUpdatedTopic,
} from '@tideline/contracts';
import { createKafka, deadLetterTopicName, HEADER, RecordSigner, RegistryCodec } from '@tideline/messaging';
import { ODD_RUN_HEADER, ODD_HEADER, ODD_SHAPES, writeOddRecords } from '@tideline/messaging/testing';
import { findRecord, testInfra, uniqueName, type ReadRecord } from '@tideline/testing';
import { OrderStack } from '../e2e/support';

let stack: OrderStack;
afterAll(() => stack?.stop());

const infra = testInfra();
const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: uniqueName('odd-records') });

/** The letters of this run in a group's dead-letter topic, as `<topic> <shape>` → error code. */
async function lettersOf(groupId: string, count: number, run: string): Promise<Map<string, string>> {
  const mine = (r: ReadRecord) => r.headers[ODD_RUN_HEADER] === run;
  const letters: ReadRecord[] = [];
  // Other runs' records on the shared topics may be dead-lettered too: collect ours until `count`.
  await findRecord(
    deadLetterTopicName(groupId),
    (record) => {
      if (mine(record)) letters.push(record);
      return letters.length >= count;
    },
    { timeoutMs: 120_000 },
  );
  const byShape = new Map<string, string>();
  for (const letter of letters) {
    const name = `${letter.headers[HEADER.originalTopic]} ${letter.headers[ODD_HEADER]}`;
    expect(byShape.has(name)).toBe(false); // exactly once
    byShape.set(name, letter.headers[HEADER.errorCode] ?? '');
    expect(letter.headers[HEADER.errorMessage]).toMatch(/\w/);
    expect(letter.headers[HEADER.errorFingerprint]).toMatch(/^[0-9a-f]{16}$/);
  }
  return byShape;
}

const expected = (topics: string[]) =>
  new Map(topics.flatMap((topic) => ODD_SHAPES.map((s) => [`${topic} ${s.name}`, s.code] as const)));

it('every odd record on every consumed topic is dead-lettered once with its reason; orders flow and every service stays ready', async () => {
  const started = Date.now();
  stack = await OrderStack.start({ processors: 1 });
  const run = stack.run;
  await stack.putProduct('widget', 500);
  const before = await stack.placeOrder('customer-1', [['widget', 2]]);
  expect((await stack.settled(before.orderId, 60_000)).status).toBe('confirmed');

  const signer = new RecordSigner({ signingKey: stack.signingKey, defaultPolicy: 'required' });
  const codec = new RegistryCodec({ registryUrl: infra.registryUrl });
  // A schema id registered under another topic's subject.
  const foreign = {
    confirmed: await codec.schemaId(orderConfirmedTopic),
    rejected: await codec.schemaId(orderRejectedTopic),
  };
  const write = (topic: string, options: { prefix: string; skip?: string[] }) =>
    writeOddRecords({
      kafka,
      brokers: infra.kafkaBrokers,
      topic,
      foreignSchemaId: topic === orderConfirmedTopic.name ? foreign.rejected : foreign.confirmed,
      sign: (t, key, value, headers) => signer.sign(t, key, value, headers),
      ...options,
    });
  const processorTopics = [orderPlacedTopic.name, orderCancelledTopic.name];
  const projectionTopics = [...processorTopics, orderConfirmedTopic.name, orderRejectedTopic.name];
  for (const topic of projectionTopics) await write(topic, { prefix: run });
  // The catalog is compacted: fixed keys, so compaction keeps one record per shape across runs;
  // a compacted topic refuses a record without a key.
  await write(productUpdatedTopic.name, { prefix: 'odd-records-scenario', skip: ['null-key'] });

  await stack.putProduct('gadget', 700);
  const after = await stack.placeOrder('customer-2', [
    ['widget', 1],
    ['gadget', 1],
  ]);
  const decided = await stack.settled(after.orderId, 90_000);
  expect(decided.status).toBe('confirmed');
  expect(decided.timeline.filter((t) => t.status === 'confirmed')).toHaveLength(1);
  expect(
    (await stack.getOrder(before.orderId)).body.timeline.filter((t) => t.status === 'confirmed'),
  ).toHaveLength(1);

  const processorLetters = await lettersOf(
    stack.processorGroup,
    ODD_SHAPES.length * processorTopics.length,
    run,
  );
  expect(processorLetters).toEqual(expected(processorTopics));
  const projectionLetters = await lettersOf(
    stack.projectionGroup,
    ODD_SHAPES.length * projectionTopics.length,
    run,
  );
  expect(projectionLetters).toEqual(expected(projectionTopics));

  for (const service of [stack.api, stack.projection, ...stack.processors]) {
    const ready = await fetch(`${service.url}/readyz`);
    expect({ service: service.name, status: ready.status }).toEqual({ service: service.name, status: 200 });
    expect(service.child.exitCode).toBeNull();
  }
  process.stdout.write(
    `odd-records scenario: ${ODD_SHAPES.length * projectionTopics.length + ODD_SHAPES.length - 1} odd records, 2 orders, ` +
      `${processorLetters.size + projectionLetters.size} dead letters, ${Date.now() - started} ms\n`,
  );
});
