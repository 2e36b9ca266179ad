// The order events bench:rebuild rebuilds from: generated deterministically, produced once into
// dedicated topics (bench.rebuild-<N>-order-<event>.v1) and reused while they are complete.
import { createHash } from 'node:crypto';
import type { OrderCancelled, OrderConfirmed, OrderRejected, TopicDescriptor } from '@tideline/contracts';
import { Publisher, RecordSigner, type Admin } from '@tideline/messaging';
import { salesTopics, type SalesTopics } from '@tideline/read-models';
import type { BenchEnv } from './env';

/**
 * The benchmark topics' signing key: fixed (derived from a label), so a later run can verify
 * the records an earlier run produced. For these local benchmark topics only.
 */
export const BENCH_SIGNING_KEY = {
  id: 'bench-rebuild',
  secret: createHash('sha256').update('tideline bench:rebuild, local benchmark topics only').digest(),
};

export const benchSigner = () =>
  new RecordSigner({ signingKey: BENCH_SIGNING_KEY, defaultPolicy: 'required' });

const PARTITIONS = 6;
const SKUS = 1_000;
/** Confirmation times spread over 30 days, in log order (as a real log has them). */
const T0 = Date.UTC(2026, 9, 1);
const SPAN_MS = 30 * 24 * 3_600_000;

/** The benchmark's copies of the three topics the sales projection reads. */
export function benchTopics(events: number): SalesTopics {
  const copy = <Value>(topic: TopicDescriptor<Value>, event: string): TopicDescriptor<Value> => {
    const name = `bench.rebuild-${events}-${event}.v1`;
    return { ...topic, name, valueSubject: `${name}-value`, partitions: PARTITIONS };
  };
  return {
    confirmed: copy(salesTopics.confirmed, 'order-confirmed'),
    rejected: copy(salesTopics.rejected, 'order-rejected'),
    cancelled: copy(salesTopics.cancelled, 'order-cancelled'),
  };
}

/** One order's events, in the order they are produced. */
export interface OrderPlan {
  orderId: string;
  events: (
    | { topic: 'confirmed'; value: OrderConfirmed; redelivery: boolean }
    | { topic: 'rejected'; value: OrderRejected }
    | { topic: 'cancelled'; value: OrderCancelled }
  )[];
}

/** mulberry32: a small seeded PRNG, so every run generates the same events. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Exactly `total` events over about 0.89 × `total` orders: 85 % confirmed (1-4 lines over
 * 1,000 SKUs, popular ones more often; 10 % in USD), 15 % rejected; 10 % of the confirmed
 * ones cancelled later, 2 % redelivered (the same event id again).
 */
export function* orderPlans(total: number): Generator<OrderPlan> {
  const next = random(20261123);
  const approxOrders = Math.ceil(total / 1.12);
  let left = total;
  for (let i = 0; left > 0; i += 1) {
    const orderId = `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`;
    const at = T0 + Math.floor((i / approxOrders) * SPAN_MS);
    const events: OrderPlan['events'] = [];
    if (next() < 0.15) {
      events.push({
        topic: 'rejected',
        value: {
          orderId,
          customerId: `customer-${i % 50_000}`,
          reasons: [{ code: 'PRODUCT_INACTIVE', sku: 'SKU-00001', message: 'SKU-00001 is not active' }],
          rejectedAt: at,
        },
      });
    } else {
      const currency = next() < 0.1 ? 'USD' : 'EUR';
      const lines = Array.from({ length: 1 + Math.floor(next() * 4) }, () => {
        const index = Math.floor(SKUS * next() ** 2);
        const quantity = 1 + Math.floor(next() * 3);
        const unitPriceCents = 199 + ((index * 37) % 5_000);
        return {
          sku: `SKU-${String(index).padStart(5, '0')}`,
          quantity,
          unitPriceCents,
          lineTotalCents: quantity * unitPriceCents,
        };
      });
      const value: OrderConfirmed = {
        orderId,
        customerId: `customer-${i % 50_000}`,
        currency,
        lines,
        totalCents: lines.reduce((sum, line) => sum + line.lineTotalCents, 0),
        confirmedAt: at,
      };
      events.push({ topic: 'confirmed', value, redelivery: false });
      if (next() < 0.1)
        events.push({ topic: 'cancelled', value: { orderId, reason: null, cancelledAt: at + 600_000 } });
      if (next() < 0.02) events.push({ topic: 'confirmed', value, redelivery: true });
    }
    const taken = events.slice(0, left);
    left -= taken.length;
    yield { orderId, events: taken };
  }
}

/** How many records each topic holds once `total` events were produced. */
export function expectedCounts(total: number): Record<keyof SalesTopics, number> {
  const counts = { confirmed: 0, rejected: 0, cancelled: 0 };
  for (const plan of orderPlans(total)) for (const event of plan.events) counts[event.topic] += 1;
  return counts;
}

async function recordCounts(
  admin: Admin,
  topics: SalesTopics,
): Promise<Record<keyof SalesTopics, number> | undefined> {
  const existing = new Set(await admin.listTopics());
  const counts = { confirmed: 0, rejected: 0, cancelled: 0 };
  for (const role of ['confirmed', 'rejected', 'cancelled'] as const) {
    const name = topics[role].name;
    if (!existing.has(name)) return undefined;
    const offsets = await admin.fetchTopicOffsets(name);
    if (offsets.length !== PARTITIONS) return undefined;
    counts[role] = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  }
  return counts;
}

/**
 * The benchmark topics with all `total` events: reused when complete, otherwise (re)created and
 * produced with Publisher.publish(), as services write them (Avro, signed), with progress.
 */
export async function ensureBenchTopics(
  env: BenchEnv,
  total: number,
  progress: (line: string) => void,
): Promise<{
  topics: SalesTopics;
  counts: Record<keyof SalesTopics, number>;
  producedSeconds: number | null;
}> {
  const topics = benchTopics(total);
  const expected = expectedCounts(total);
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    const counts = await recordCounts(admin, topics);
    if (counts && (['confirmed', 'rejected', 'cancelled'] as const).every((r) => counts[r] === expected[r])) {
      progress(
        `reusing the complete benchmark topics bench.rebuild-${total}-order-*.v1 (${JSON.stringify(counts)})`,
      );
      return { topics, counts, producedSeconds: null };
    }
    const names = Object.values(topics).map((t: TopicDescriptor<unknown>) => t.name);
    const present = (await admin.listTopics()).filter((name) => names.includes(name));
    if (present.length > 0) {
      progress(`deleting incomplete benchmark topics ${present.join(', ')}`);
      await admin.deleteTopics({ topics: present, timeout: 30_000 });
      const deadline = Date.now() + 60_000;
      while ((await admin.listTopics()).some((name) => present.includes(name))) {
        if (Date.now() > deadline) throw new Error(`Kafka did not delete ${present.join(', ')} within 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    await admin.createTopics({
      waitForLeaders: true,
      topics: names.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
    });
    for (const topic of Object.values(topics) as TopicDescriptor<unknown>[]) await env.codec.register(topic);
    const seconds = await produce(env, topics, total, progress);
    return { topics, counts: expected, producedSeconds: seconds };
  } finally {
    await admin.disconnect();
  }
}

async function produce(
  env: BenchEnv,
  topics: SalesTopics,
  total: number,
  progress: (line: string) => void,
): Promise<number> {
  const publisher = new Publisher({
    kafka: env.kafka,
    codec: env.codec,
    signer: benchSigner(),
    service: 'bench-rebuild',
    maxBatchSize: 1_000,
  });
  await publisher.connect();
  const plans = orderPlans(total);
  let produced = 0;
  const started = performance.now();
  let lastReport = started;
  const caller = async () => {
    for (let plan = plans.next(); !plan.done; plan = plans.next()) {
      let firstEventId: string | undefined;
      for (const event of plan.value.events) {
        const key = plan.value.orderId;
        if (event.topic === 'confirmed') {
          const options = event.redelivery && firstEventId ? { eventId: firstEventId } : {};
          const receipt = await publisher.publish(topics.confirmed, key, event.value, options);
          firstEventId ??= receipt.eventId;
        } else if (event.topic === 'rejected') await publisher.publish(topics.rejected, key, event.value);
        else await publisher.publish(topics.cancelled, key, event.value);
        produced += 1;
      }
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        const seconds = (lastReport - started) / 1000;
        progress(
          `producing: ${produced.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} events (${Math.round(produced / seconds).toLocaleString('en-US')}/s)`,
        );
      }
    }
  };
  try {
    progress(
      `producing ${total.toLocaleString('en-US')} order events into bench.rebuild-${total}-order-*.v1 (once)`,
    );
    await Promise.all(Array.from({ length: 1_000 }, caller));
  } finally {
    await publisher.close();
  }
  const seconds = (performance.now() - started) / 1000;
  progress(`produced ${produced.toLocaleString('en-US')} events in ${seconds.toFixed(0)} s`);
  return seconds;
}
