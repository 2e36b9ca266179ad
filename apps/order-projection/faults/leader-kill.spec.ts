// kill -9 of the broker leading the most order-placed partitions and processor transaction
// coordinators, mid-load, on a private 3-broker cluster (the catalog's replication factor 3,
// min.insync.replicas 2); restarted once the load has gone on without it. A client that retries
// on its Idempotency-Key after a 503, a timeout or a reset sees every order acknowledged once;
// nothing acknowledged is lost, no order or decision exists twice, the read model equals a
// recomputation from the topics, and every service is ready and caught up.
import { orderPlacedTopic } from '@tideline/contracts';
import { driveOrders, eventually } from '@tideline/testing';
import { expectNothingLostOrTwice, FaultSystem, report, step, watchLoad } from './system';

const RATE = 40;
const ORDERS = 2_400;
let system: FaultSystem | undefined;

afterAll(async () => {
  await system?.stop();
}, 120_000);

it('loses and duplicates nothing when the leader broker is killed with kill -9 mid-load and restarted', async () => {
  const started = Date.now();
  system = await FaultSystem.start({ brokers: 3 });
  const { cluster } = system;
  const bootMs = Date.now() - started;
  const admin = cluster.kafka.admin();
  await admin.connect();
  const placed = async () =>
    (await admin.fetchTopicOffsets(orderPlacedTopic.name).catch(() => [])).reduce(
      (sum, p) => sum + Number(p.high),
      0,
    );
  try {
    const watch = watchLoad(system);
    const loadStarted = Date.now();
    const loading = driveOrders({
      url: system.api.url,
      rate: RATE,
      count: ORDERS,
      maxDurationMs: 120_000,
      body: FaultSystem.body,
      requestTimeoutMs: 10_000,
      maxAttempts: 100,
      giveUpAfterMs: 90_000,
      onRetry: watch.onRetry,
    });
    await eventually(
      'orders flowing before the kill',
      async () => ((await placed()) >= RATE * 10 ? true : undefined),
      {
        timeoutMs: 60_000,
      },
    );
    const target = await system.leaderToKill();
    const before = await placed();
    const killedAt = Date.now();
    step(`kill -9 of broker ${target.broker} (${JSON.stringify(target)}), ${before} orders placed`);
    await cluster.kill9(target.broker);
    // Orders flow again on the two brokers left: new leaders, new coordinators.
    await eventually(
      'orders placed again after the kill',
      async () => ((await placed()) >= before + 50 ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 250,
      },
    );
    const placingAgainMs = Date.now() - killedAt;
    step(`orders placed again ${placingAgainMs} ms after the kill`);
    await eventually(
      'the load to go on without the broker',
      async () => ((await placed()) >= before + RATE * 15 ? true : undefined),
      { timeoutMs: 90_000 },
    );
    const downMs = Date.now() - killedAt;
    const restartedAt = Date.now();
    step(`restarting broker ${target.broker}`);
    await cluster.restart(target.broker);
    step('broker rejoined');
    const restartMs = Date.now() - restartedAt;
    const load = await watch.within(loading, 170_000 - (Date.now() - loadStarted));
    const loadMs = Date.now() - loadStarted;
    step(
      `load done: ${load.acknowledged.length} acknowledged, ${load.failed.length} given up, ${load.retries} retries`,
    );
    await cluster.waitInSync([orderPlacedTopic.name], 60_000);
    const catchUpMs = await system.caughtUp(load);
    step(`caught up ${catchUpMs} ms after the load`);
    const verdict = await system.verdict(load);
    report('leader broker kill -9 + restart (3 brokers)', {
      orders: load.orders.length,
      rate: RATE,
      killed: target,
      ...verdict,
      givenUp: load.failed.length,
      retries: load.retries,
      errors: load.errors,
      latencyMs: load.latency,
      late: load.late,
      crashes: Object.fromEntries(system.services.map((s) => [s.name, s.crashes.length])),
      producerReplacedLogLines: Object.fromEntries(
        system.services.map((s) => [s.name, s.seen['producerReplaced'] ?? 0]),
      ),
      bootMs,
      placingAgainAfterKillMs: placingAgainMs,
      brokerDownMs: downMs,
      restartMs,
      loadMs,
      catchUpAfterLoadMs: catchUpMs,
      testMs: Date.now() - started,
    });
    expectNothingLostOrTwice(verdict, load);
  } finally {
    await admin.disconnect();
  }
}, 420_000);
