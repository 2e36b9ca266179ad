// kill -9 of the only broker of a private one-broker cluster mid-load, restarted on its data dir
// after an outage: every service rides it out (or is restarted by its supervisor), a client that
// retries on its Idempotency-Key sees every order acknowledged once, nothing acknowledged is lost,
// no order or decision exists twice, the read model equals a recomputation from the topics, and
// every group is caught up.
import { orderPlacedTopic } from '@tideline/contracts';
import { driveOrders, eventually } from '@tideline/testing';
import { expectNothingLostOrTwice, FaultSystem, report, step, watchLoad } from './system';

const RATE = 40;
const ORDERS = 2_000;
const OUTAGE_MS = 10_000;
let system: FaultSystem | undefined;

afterAll(async () => {
  await system?.stop();
}, 120_000);

it('loses and duplicates nothing when the single broker is killed with kill -9 mid-load and restarted', async () => {
  const started = Date.now();
  system = await FaultSystem.start({ brokers: 1 });
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
    const killedAt = Date.now();
    step('kill -9 of the broker');
    await cluster.kill9(1);
    // The outage: how long the broker stays down is the fault itself, not a wait for a condition.
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const restartedAt = Date.now();
    step('restarting the broker');
    await cluster.restart(1);
    step('broker answers');
    const restartMs = Date.now() - restartedAt;
    const before = await placed();
    await eventually(
      'orders placed again after the restart',
      async () => ((await placed()) >= before + 50 ? true : undefined),
      {
        timeoutMs: 90_000,
        intervalMs: 250,
      },
    );
    const placingAgainMs = Date.now() - killedAt;
    const load = await watch.within(loading, 170_000 - (Date.now() - loadStarted));
    const loadMs = Date.now() - loadStarted;
    step(
      `load done: ${load.acknowledged.length} acknowledged, ${load.failed.length} given up, ${load.retries} retries`,
    );
    const catchUpMs = await system.caughtUp(load);
    step(`caught up ${catchUpMs} ms after the load`);
    const verdict = await system.verdict(load);
    report('single broker kill -9 + restart (1 broker)', {
      orders: load.orders.length,
      rate: RATE,
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
      outageMs: OUTAGE_MS,
      restartMs,
      placingAgainAfterKillMs: placingAgainMs,
      loadMs,
      catchUpAfterLoadMs: catchUpMs,
      testMs: Date.now() - started,
    });
    expectNothingLostOrTwice(verdict, load);
  } finally {
    await admin.disconnect();
  }
}, 420_000);
