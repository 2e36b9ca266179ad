import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { render } from '../scripts/render';
import { CatalogError, loadTopics, readCatalog } from './catalog';
import { allTopics, orderPlacedTopic, productUpdatedTopic, topics, type OrderPlaced } from './index';

const schemasDir = path.resolve(__dirname, '..', '..', '..', 'schemas');
const generatedDir = path.join(__dirname, 'generated');

describe('generated contracts', () => {
  it('match schemas/ (run `npm run contracts:generate` after changing a schema)', () => {
    const expected = render(readCatalog(schemasDir));
    const onDisk = new Map(
      fs
        .readdirSync(generatedDir)
        .map((name) => [name, fs.readFileSync(path.join(generatedDir, name), 'utf8')]),
    );
    expect([...onDisk.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, content] of expected) expect(onDisk.get(name)).toBe(content);
  });

  it('describe every catalog topic with its subject, event type and settings', () => {
    expect(allTopics.map((t) => t.name)).toEqual([
      'orders.order-placed.v1',
      'orders.order-cancelled.v1',
      'orders.order-confirmed.v1',
      'orders.order-rejected.v1',
      'catalog.product-updated.v1',
    ]);
    expect(topics.orderPlaced).toBe(orderPlacedTopic);
    expect(orderPlacedTopic.valueSubject).toBe('orders.order-placed.v1-value');
    expect(orderPlacedTopic.eventType).toBe('dev.tideline.orders.OrderPlaced');
    expect(productUpdatedTopic.cleanup).toBe('compact');
    expect(productUpdatedTopic.retentionMs).toBeNull();
    expect(orderPlacedTopic.retentionMs).toBe(30 * 86_400_000);
    for (const topic of allTopics) {
      expect([topic.name, topic.replicationFactor, topic.minInsyncReplicas]).toEqual([topic.name, 3, 2]);
    }
    expect(Object.isFrozen(orderPlacedTopic)).toBe(true);
  });

  it('round-trip a typed value through the avsc Type', () => {
    const value: OrderPlaced = {
      orderId: '0193a4c2-7b1e-7000-8000-000000000001',
      customerId: 'c-1',
      currency: 'EUR',
      lines: [{ sku: 'SKU-1', quantity: 2 }],
      placedAt: 1_763_856_000_000,
    };
    const decoded: unknown = orderPlacedTopic.valueType.fromBuffer(
      orderPlacedTopic.valueType.toBuffer(value),
    );
    expect(decoded).toEqual(value);
  });

  it('load the same descriptors from a schemas/ folder at runtime', () => {
    const loaded = loadTopics(schemasDir);
    const settings = (t: (typeof allTopics)[number]) => [
      t.name,
      t.eventType,
      t.partitions,
      t.replicationFactor,
      t.minInsyncReplicas,
    ];
    expect(loaded.map(settings)).toEqual(allTopics.map(settings));
  });
});

describe('catalog validation', () => {
  function withCatalog(catalog: string, files: Record<string, unknown>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-catalog-'));
    fs.writeFileSync(path.join(dir, 'catalog.yaml'), catalog);
    for (const [name, content] of Object.entries(files))
      fs.writeFileSync(path.join(dir, name), JSON.stringify(content));
    return dir;
  }

  it('lists every problem at once', () => {
    const dir = withCatalog(
      `topics:
  - name: Orders_Placed
    key: orderId
    value: a.avsc
    partitions: 0
    cleanup: delete
    retention: soon
    owner: order-api
    consumers: [x]
  - name: orders.thing.v1
    key: id
    value: b.avsc
    partitions: 1
    cleanup: compact
    owner: x
    consumers: []
`,
      {
        'a.avsc': {
          type: 'record',
          name: 'A',
          namespace: 'n',
          fields: [{ name: 'f', type: 'string', doc: 'd' }],
        },
        'b.avsc': {
          type: 'record',
          name: 'B',
          namespace: 'n',
          fields: [{ name: 'undocumented', type: 'string' }],
        },
      },
    );
    let caught: unknown;
    try {
      readCatalog(dir);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CatalogError);
    expect((caught as CatalogError).problems).toEqual([
      'catalog.yaml topics[0] (Orders_Placed): name must look like <domain>.<event-name>.v<major>',
      'catalog.yaml topics[0] (Orders_Placed): partitions must be a positive whole number',
      'catalog.yaml topics[0] (Orders_Placed): retention must be like 7d, 12h, 30m or forever',
      'b.avsc: field "B.undocumented" has no doc',
    ]);
  });

  it('refuses two topics carrying the same event type', () => {
    const record = {
      type: 'record',
      name: 'A',
      namespace: 'n',
      fields: [{ name: 'f', type: 'string', doc: 'd' }],
    };
    const entry = (name: string) =>
      `  - { name: ${name}, key: id, value: a.avsc, partitions: 1, cleanup: delete, retention: 1d, owner: x, consumers: [y] }\n`;
    const dir = withCatalog(`topics:\n${entry('d.one.v1')}${entry('d.two.v1')}`, { 'a.avsc': record });
    expect(() => readCatalog(dir)).toThrow(/n\.A is already the event type of d\.one\.v1/);
  });

  const record = {
    type: 'record',
    name: 'A',
    namespace: 'n',
    fields: [{ name: 'f', type: 'string', doc: 'd' }],
  };
  const files = { 'a.avsc': record, 'b.avsc': { ...record, name: 'B' } };
  const topicLine = (name: string, extra = '') =>
    `  - { name: ${name}, key: id, value: ${name === 'd.one.v1' ? 'a' : 'b'}.avsc, partitions: 1, cleanup: delete, retention: 1d, owner: x, consumers: [y]${extra} }\n`;

  it('gives every topic the defaults block durability, a topic its own where it says so, and production durability without defaults', () => {
    const withDefaults = withCatalog(
      `defaults: { replication: 5, minInsyncReplicas: 3 }\ntopics:\n${topicLine('d.one.v1')}${topicLine('d.two.v1', ', replication: 2, minInsyncReplicas: 1')}`,
      files,
    );
    expect(readCatalog(withDefaults).map((t) => [t.replicationFactor, t.minInsyncReplicas])).toEqual([
      [5, 3],
      [2, 1],
    ]);
    const without = withCatalog(`topics:\n${topicLine('d.one.v1')}`, { 'a.avsc': record });
    expect(readCatalog(without).map((t) => [t.replicationFactor, t.minInsyncReplicas])).toEqual([[3, 2]]);
  });

  it('refuses durability that is not a positive whole number, or min.insync.replicas above the replication factor (Kafka would not enforce it)', () => {
    const dir = withCatalog(
      `defaults: { replication: 0 }\ntopics:\n${topicLine('d.one.v1', ', replication: 2, minInsyncReplicas: 3')}${topicLine('d.two.v1', ', minInsyncReplicas: two')}`,
      files,
    );
    let caught: unknown;
    try {
      readCatalog(dir);
    } catch (error) {
      caught = error;
    }
    expect((caught as CatalogError).problems).toEqual([
      'catalog.yaml defaults: replication must be a positive whole number',
      'catalog.yaml topics[0] (d.one.v1): minInsyncReplicas 3 is above replication 2: Kafka would require only 2 in-sync copies',
      'catalog.yaml topics[1] (d.two.v1): minInsyncReplicas must be a positive whole number',
    ]);
  });
});
