import { productUpdatedTopic, type ProductUpdated } from '@tideline/contracts';
import { eventually } from '@tideline/testing';
import { createTable, type Table } from './table';
import { MessagingFixture, testSigner } from './test-support/fixtures';

const fixture = new MessagingFixture();
const signer = testSigner();
const tables: Table<ProductUpdated>[] = [];
afterAll(async () => {
  await Promise.all(tables.map((t) => t.stop()));
  await fixture.cleanup();
});

const product = (sku: string, version: number, active = true): ProductUpdated => ({
  sku,
  name: `${sku} v${version}`,
  priceCents: 100 * version,
  currency: 'EUR',
  active,
  updatedAt: 1_763_856_000_000 + version,
});

function table(topic: typeof productUpdatedTopic): Table<ProductUpdated> {
  const created = createTable({
    kafka: fixture.kafka,
    codec: fixture.codec,
    signer,
    topic,
    service: 'table-test',
  });
  tables.push(created);
  return created;
}

it('a late-joining table becomes ready only once it holds the latest value per key, then stays current', async () => {
  const topic = await fixture.topic(productUpdatedTopic);
  const publisher = fixture.publisher(signer);
  // 40 products, each updated 5 times; every fourth deleted by a tombstone after its updates.
  const expected = new Map<string, ProductUpdated>();
  for (let version = 1; version <= 5; version += 1) {
    await Promise.all(
      Array.from({ length: 40 }, (_, n) => {
        const value = product(`SKU-${n}`, version, n % 3 !== 0);
        expected.set(value.sku, value);
        return publisher.publish(topic, value.sku, value);
      }),
    );
  }
  for (let n = 0; n < 40; n += 4) {
    await publisher.tombstone(topic, `SKU-${n}`);
    expected.delete(`SKU-${n}`);
  }

  const late = table(topic);
  expect(late.ready()).toBe(false);
  await late.start();
  await late.whenReady();
  // Ready means caught up: the table equals the latest value per key at that moment.
  expect(new Map(late.entries())).toEqual(expected);
  expect(late.status()).toMatchObject({ ready: true, size: 30, applied: 200, skipped: 0 });

  // And it stays current: an update and a delete after it became ready.
  await publisher.publish(topic, 'SKU-1', product('SKU-1', 6, false));
  await publisher.tombstone(topic, 'SKU-2');
  await eventually('the table follows new records', () =>
    late.get('SKU-1')?.priceCents === 600 && !late.has('SKU-2') ? true : undefined,
  );
  expect(late.size).toBe(29);
});

it('an empty topic is ready at once', async () => {
  const topic = await fixture.topic(productUpdatedTopic);
  const empty = table(topic);
  await empty.start();
  await eventually('ready', () => (empty.ready() ? true : undefined), { timeoutMs: 5_000 });
  expect(empty.size).toBe(0);
});

it('skips a record with a bad signature instead of applying it (a forged tombstone deletes nothing)', async () => {
  const topic = await fixture.topic(productUpdatedTopic);
  await fixture.publisher(signer).publish(topic, 'SKU-1', product('SKU-1', 1));
  await fixture.publisher(testSigner()).tombstone(topic, 'SKU-1');
  const guarded = table(topic);
  await guarded.start();
  await guarded.whenReady();
  expect(guarded.get('SKU-1')?.name).toBe('SKU-1 v1');
  expect(guarded.status().skipped).toBe(1);
});

it('a stopped table leaves no consumer group behind, so restarts do not pile groups up', async () => {
  const topic = await fixture.topic(productUpdatedTopic);
  const admin = fixture.kafka.admin();
  await admin.connect();
  try {
    const groupsOf = async () =>
      (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(topic.name));
    for (let start = 0; start < 2; start += 1) {
      const restarted = table(topic);
      await restarted.start();
      await restarted.whenReady();
      // Stop once it has joined: kafkajs's disconnect during a join waits out the rebalance timeout.
      await eventually(
        'the table to join its group',
        async () =>
          (await admin.describeGroups([restarted.groupId])).groups[0]?.state === 'Stable' ? true : undefined,
        { timeoutMs: 30_000 },
      );
      expect(await groupsOf()).toEqual([
        `table-test.table.${topic.name}.${restarted.groupId.split('.').pop()}`,
      ]);
      await restarted.stop();
      expect(await groupsOf()).toEqual([]);
    }
  } finally {
    await admin.disconnect();
  }
});
