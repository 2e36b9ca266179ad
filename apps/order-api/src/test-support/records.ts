import { testKafka, uniqueName, type ReadRecord } from '@tideline/testing';

/**
 * Every record with `key` that a shared topic holds right now: reads each partition from
 * its start to the end offset it had when called (so a missing record is proven missing,
 * not just not seen yet). For catalog topics that other tests and services share.
 */
export async function recordsWithKey(topic: string, key: string, timeoutMs = 30_000): Promise<ReadRecord[]> {
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(
      offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]),
    );
  } finally {
    await admin.disconnect();
  }
  const found: ReadRecord[] = [];
  if (ends.size === 0) return found;

  const consumer = kafka.consumer({ groupId: uniqueName('order-api-read'), maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`did not reach the end of ${topic} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const pending = new Set(ends.keys());
      void consumer.run({
        eachMessage: ({ partition, message }) => {
          if (message.key?.toString() === key) {
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(message.headers ?? {}))
              if (value !== undefined) headers[name] = value.toString();
            found.push({
              topic,
              partition,
              offset: message.offset,
              timestamp: message.timestamp,
              key: message.key,
              value: message.value,
              headers,
            });
          }
          const end = ends.get(partition);
          if (end !== undefined && BigInt(message.offset) >= end - 1n) pending.delete(partition);
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
    return found;
  } finally {
    await consumer.disconnect();
  }
}
