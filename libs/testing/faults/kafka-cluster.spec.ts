import fs from 'node:fs';
import { startKafkaCluster, type KafkaCluster } from '../src/faults/kafka-cluster';
import { eventually } from '../src/poll';

describe('startKafkaCluster', () => {
  let cluster: KafkaCluster | undefined;
  afterAll(() => cluster?.stop());

  it('runs 3 brokers behind their proxies, survives a leader kill -9, and restarts it', async () => {
    cluster = await startKafkaCluster({ brokers: 3, proxies: true });
    expect(cluster.brokers).toHaveLength(3);
    expect(cluster.bootstrap.split(',')).toEqual(cluster.brokers.map((b) => cluster!.proxy(b.id).address));
    await cluster.createTopics([{ topic: 'faults.cluster.v1', numPartitions: 1 }]);

    const producer = cluster.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({
        topic: 'faults.cluster.v1',
        acks: -1,
        messages: [{ key: 'k', value: 'before' }],
      });
      const leader = await cluster.leaderOf('faults.cluster.v1', 0);
      expect(leader).toBeGreaterThan(0);
      // Every client connection went through the leader's proxy, also after metadata discovery.
      expect(cluster.proxy(leader).stats.bytesToTarget).toBeGreaterThan(0);

      await cluster.kill9(leader);
      expect(cluster.brokers[leader - 1]!.alive()).toBe(false);
      const next = await eventually(
        'a new leader',
        async () => {
          const now = await cluster!.leaderOf('faults.cluster.v1', 0);
          return now > 0 && now !== leader ? now : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      await producer.send({ topic: 'faults.cluster.v1', acks: -1, messages: [{ key: 'k', value: 'after' }] });
      expect(cluster.proxy(next).stats.bytesToTarget).toBeGreaterThan(0);

      await cluster.restart(leader);
      await cluster.waitInSync(['faults.cluster.v1'], 60_000);
    } finally {
      await producer.disconnect();
    }

    const offsets = await (async () => {
      const admin = cluster.kafka.admin();
      await admin.connect();
      try {
        return await admin.fetchTopicOffsets('faults.cluster.v1');
      } finally {
        await admin.disconnect();
      }
    })();
    expect(offsets[0]?.high).toBe('2');

    const dirs = cluster.brokers.map((b) => b.dataDir);
    await cluster.stop();
    cluster = undefined;
    expect(dirs.filter((dir) => fs.existsSync(dir))).toEqual([]);
  });
});
