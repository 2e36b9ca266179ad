/**
 * A consumer process for the crash and shutdown tests: consumes one topic in a group and
 * applies each event once to an effects table through the idempotency helper. Prints one
 * JSON line per step on stdout. Started with one JSON argument (ChildConfig).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { defineTopic, orderPlacedTopic, type OrderPlaced } from '@tideline/contracts';
import { Pool } from 'pg';
import { RegistryCodec } from '../codec';
import { createConsumer, subscribe } from '../consumer';
import { processOnce } from '../idempotency';
import { createKafka } from '../kafka';
import { exitOnSignal } from '../shutdown';
import { RecordSigner } from '../signing';

export interface ChildConfig {
  brokers: string[];
  registryUrl: string;
  databaseUrl: string;
  topic: string;
  partitions: number;
  groupId: string;
  keyId: string;
  /** base64 */
  secret: string;
  effectsTable: string;
  /** Simulated work per record. */
  workMs: number;
  /** After this many effects, the next handler never returns (so a kill lands mid-batch). */
  stallAfter?: number;
  /** Instead of database effects: emit each record to this topic (consume→produce). */
  forwardTo?: string;
  transactional?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const topic = defineTopic<OrderPlaced>({
  ...orderPlacedTopic,
  name: config.topic,
  partitions: config.partitions,
});
const output = config.forwardTo
  ? defineTopic<OrderPlaced>({ ...orderPlacedTopic, name: config.forwardTo, partitions: config.partitions })
  : undefined;
const pool = new Pool({ connectionString: config.databaseUrl, max: 4 });
let effects = 0;

const consumer = createConsumer({
  kafka: createKafka({ brokers: config.brokers, clientId: `child-${process.pid}` }),
  codec: new RegistryCodec({ registryUrl: config.registryUrl }),
  signer: new RecordSigner({
    signingKey: { id: config.keyId, secret: Buffer.from(config.secret, 'base64') },
    defaultPolicy: 'required',
  }),
  groupId: config.groupId,
  provisionTopics: true,
  transactional: config.transactional ?? false,
  heartbeatIntervalMs: 500,
  // The broker's minimum: a killed member's partitions move on after 6 s instead of 30 s.
  sessionTimeoutMs: 6_000,
  subscriptions: [
    subscribe(topic, async (order, record) => {
      say({ started: record.eventId, offset: record.offset, partition: record.partition });
      await delay(config.workMs);
      if (output) {
        await record.emit(output, order.orderId, order);
        say({ handled: record.eventId });
        return;
      }
      const applied = await processOnce(pool, config.groupId, record.eventId, async (client) => {
        await client.query(`INSERT INTO ${config.effectsTable} (event_id, order_id) VALUES ($1, $2)`, [
          record.eventId,
          order.orderId,
        ]);
      });
      say(applied ? { handled: record.eventId } : { skipped: record.eventId });
      if (applied) effects += 1;
      if (config.stallAfter !== undefined && effects >= config.stallAfter) {
        say({ stalled: record.eventId });
        await new Promise(() => undefined);
      }
    }),
  ],
});

exitOnSignal(async () => {
  await consumer.stop(8_000);
  await pool.end();
  say({ stopped: true });
});

consumer.start().then(
  () => say({ running: true }),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  },
);
