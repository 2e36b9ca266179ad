// Partition hand-back in transactional mode, on a private Kafka cluster: order-processor runs as
// real processes, scaled 1 → 2 → 1 → 2 under a steady order load; then the broker's answers are
// lost for a moment and every connection reset (a commit that went through although its client
// saw it fail: kafkajs stays in COMMITTING); then one processor is frozen (SIGSTOP) past its
// transaction timeout and its session timeout, and thawed (SIGCONT). Each
// input partition has its own transactional producer; every move of a partition fences the
// previous owner's. Every order must get exactly one decision (none lost, none twice), every
// phase must drain (no partition stalls), and a routine hand-back must not block a partition.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  allTopics,
  orderConfirmedTopic,
  orderPlacedTopic,
  orderRejectedTopic,
  productUpdatedTopic,
  type OrderPlaced,
} from '@tideline/contracts';
import {
  applyTopicPlan,
  catalogGroupTopics,
  createKafka,
  deadLetterTopicName,
  HEADER,
  planTopics,
  Publisher,
  RecordSigner,
  RegistryCodec,
  registerSchemas,
} from '@tideline/messaging';
import {
  eventually,
  freePort,
  startKafkaCluster,
  startService,
  testInfra,
  uniqueName,
  type KafkaCluster,
  type ServiceProcess,
} from '@tideline/testing';

const entry = path.resolve(__dirname, '..', 'src', 'main.ts');
const GROUP = 'order-processor';
const SESSION_TIMEOUT_MS = 6_000;
const TRANSACTION_TIMEOUT_MS = 3_000;
const ORDER_INTERVAL_MS = 40;
const DRAIN_TIMEOUT_MS = 45_000;

const run = uniqueName('txnfault');
const key = { id: uniqueName('key'), secret: randomBytes(32) };
const signer = new RecordSigner({ signingKey: key, defaultPolicy: 'required' });
const codec = new RegistryCodec({ registryUrl: testInfra().registryUrl });
const services: ServiceProcess[] = [];
let cluster: KafkaCluster | undefined;
let publisher: Publisher | undefined;
let watcher: ReturnType<KafkaCluster['kafka']['consumer']> | undefined;

afterAll(async () => {
  for (const service of services) service.child.kill('SIGCONT');
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await watcher?.disconnect().catch(() => undefined);
  await publisher?.close().catch(() => undefined);
  await cluster?.stop();
});

/** Lines of a service's output that contain `text`, counted as they come. */
function counter(service: ServiceProcess, text: string): () => number {
  let count = 0;
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.includes(text)) count += 1;
  };
  service.child.stdout?.on('data', onData);
  service.child.stderr?.on('data', onData);
  return () => count;
}

it('hands partitions back and forth (1 → 2 → 1 → 2) and survives a frozen processor: one decision per order', async () => {
  const started = Date.now();
  cluster = await startKafkaCluster({
    brokers: 1,
    proxies: true,
    // The coordinator looks for transactions past their timeout every second (default 10 s).
    overrides: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 1_000 },
  });
  const admin = cluster.kafka.admin();
  await admin.connect();
  const plan = await planTopics(admin, [...allTopics, ...catalogGroupTopics(allTopics)], { replication: 1 });
  if (plan.changes) await applyTopicPlan(admin, plan);
  await registerSchemas(codec, allTopics);

  const kafka = createKafka({ brokers: cluster.bootstrap.split(','), clientId: run });
  publisher = new Publisher({ kafka, codec, signer, service: 'order-api' });
  await publisher.publish(productUpdatedTopic, 'SKU-1', {
    sku: 'SKU-1',
    name: 'apple',
    priceCents: 150,
    currency: 'EUR',
    active: true,
    updatedAt: Date.now(),
  });

  // Every decision, read committed: an aborted transaction's records are never seen.
  const decisions = new Map<string, string[]>();
  let lastDecisionAt = Date.now();
  watcher = cluster.kafka.consumer({ groupId: uniqueName('watch'), maxWaitTimeInMs: 200 });
  await watcher.connect();
  await watcher.subscribe({
    topics: [orderConfirmedTopic.name, orderRejectedTopic.name],
    fromBeginning: true,
  });
  await watcher.run({
    eachMessage: ({ message }) => {
      const id = message.key?.toString() ?? '';
      const eventId = message.headers?.[HEADER.eventId]?.toString() ?? '';
      decisions.set(id, [...(decisions.get(id) ?? []), eventId]);
      lastDecisionAt = Date.now();
      return Promise.resolve();
    },
  });

  const env = {
    KAFKA_BROKERS: cluster.bootstrap,
    SCHEMA_REGISTRY_URL: testInfra().registryUrl,
    SIGNING_KEY_ID: key.id,
    SIGNING_KEY: key.secret.toString('base64'),
    GROUP_ID: GROUP,
    RETRY_DELAYS_MS: '500',
    LOG_LEVEL: 'warn',
    SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
    TRANSACTION_TIMEOUT_MS: String(TRANSACTION_TIMEOUT_MS),
    SHUTDOWN_TIMEOUT_MS: '5000',
  };
  const counts = { redone: [] as (() => number)[], blocked: [] as (() => number)[] };
  const startProcessor = async () => {
    const service = await startService('order-processor', entry, { port: await freePort(), env });
    services.push(service);
    counts.redone.push(counter(service, 'transaction failed: redoing'));
    counts.blocked.push(counter(service, 'partition blocked'));
    return service;
  };

  // A steady flow of orders; `acked` holds those Kafka acknowledged, `uncertain` those whose
  // publish failed while the broker's answers were lost (written or not: at most one decision).
  const acked: string[] = [];
  const uncertain: string[] = [];
  let flowing = true;
  const flow = (async () => {
    for (let i = 0; flowing; i++) {
      const orderId = `${run}-o${i}`;
      const order: OrderPlaced = {
        orderId,
        customerId: `${run}-c${i % 7}`,
        currency: 'EUR',
        lines: [{ sku: 'SKU-1', quantity: 1 + (i % 3) }],
        placedAt: Date.now(),
      };
      try {
        await publisher.publish(orderPlacedTopic, orderId, order);
        acked.push(orderId);
      } catch {
        uncertain.push(orderId);
      }
      await new Promise((resolve) => setTimeout(resolve, ORDER_INTERVAL_MS));
    }
  })();
  /** Lets the flow run for `ms` more (load, not a condition). */
  const flowFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** Every order acknowledged so far is decided (no partition stalls). */
  const drained = (phase: string) => {
    const upTo = acked.length;
    return eventually(
      `${phase}: the first ${upTo} orders decided`,
      () => (acked.slice(0, upTo).every((id) => decisions.has(id)) ? true : undefined),
      { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 200 },
    );
  };

  const first = await startProcessor();
  await flowFor(3_000);
  await drained('one processor');
  const second = await startProcessor(); // 1 → 2
  await flowFor(4_000);
  await drained('scaled to two');
  await second.stop('SIGTERM'); // 2 → 1: its partitions come back to the first
  await flowFor(4_000);
  await drained('scaled back to one');
  const third = await startProcessor(); // 1 → 2: and go away again
  await flowFor(4_000);
  await drained('scaled to two again');
  const handedBack = acked.length;
  const handBackSeconds = (Date.now() - started) / 1000;

  // The broker's answers are lost for a moment, then every connection is reset: commits that
  // reached the coordinator fail on the client's side (kafkajs is left in COMMITTING).
  const proxy = cluster.proxy(1);
  await proxy.dropResponses();
  await flowFor(1_500);
  await proxy.reset();
  await proxy.recover();
  await flowFor(3_000);
  await drained('after lost answers');
  const afterLostAnswers = acked.length;

  // Frozen past its transaction timeout and its session: the first takes its partitions over
  // (fencing its producers); thawed, it is a zombie until it rejoins and gets some back.
  third.child.kill('SIGSTOP');
  await flowFor(SESSION_TIMEOUT_MS + TRANSACTION_TIMEOUT_MS + 1_000);
  third.child.kill('SIGCONT');
  await flowFor(5_000);
  flowing = false;
  await flow;
  await drained('after the freeze');

  // An uncertain order that was written has its decision too (drained covers acked ones only).
  await eventually(
    'the last decisions',
    () => Promise.resolve(Date.now() - lastDecisionAt > 2_000 ? true : undefined),
    { timeoutMs: 10_000, intervalMs: 200 },
  );
  // Exactly one decision per acknowledged order, none for anything else.
  const ours = new Set([...acked, ...uncertain]);
  const twice = [...decisions].filter(([, events]) => events.length > 1).map(([id]) => id);
  const lost = acked.filter((id) => !decisions.has(id));
  const foreign = [...decisions.keys()].filter((id) => !ours.has(id));
  const eventIds = [...decisions.values()].flat();
  const deadLetters = await admin.fetchTopicOffsets(deadLetterTopicName(GROUP));
  await admin.disconnect();
  const report = {
    ordersThroughHandBacks: handedBack,
    ordersThroughLostAnswers: afterLostAnswers - handedBack,
    uncertain: uncertain.length,
    ordersTotal: acked.length,
    lost: lost.length,
    duplicated: twice.length,
    redoneTransactions: counts.redone.reduce((sum, c) => sum + c(), 0),
    blockedPartitionLogs: counts.blocked.reduce((sum, c) => sum + c(), 0),
    handBackSeconds,
    seconds: (Date.now() - started) / 1000,
  };
  process.stdout.write(`transactions scenario: ${JSON.stringify(report)}\n`);
  expect({ lost, twice, foreign }).toEqual({ lost: [], twice: [], foreign: [] });
  expect(new Set(eventIds).size).toBe(eventIds.length);
  expect(deadLetters.every((p) => p.high === p.low)).toBe(true);
  // A hand-back is routine: the new producer takes over without blocking the partition.
  expect(report.blockedPartitionLogs).toBe(0);
  expect(first.child.exitCode).toBeNull();
  expect(third.child.exitCode).toBeNull();
}, 240_000);
