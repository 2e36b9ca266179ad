import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel, type Admin, type ITopicConfig } from 'kafkajs';
import { freePort } from '../infra';
import { eventually } from '../poll';
import {
  makeTempDir,
  removeTempDir,
  spawnOwned,
  tailOf,
  waitUntilAnswers,
  type OwnedProcess,
} from './processes';
import { runtime, stackPlan } from './stack-runtime';
import { TcpFaultProxy } from './tcp-proxy';

export interface ClusterBroker {
  id: number;
  /** Where clients reach it: its fault proxy when it has one, else its own listener. */
  address: string;
  /** Its client listener (behind the proxy, if any). */
  port: number;
  internalPort: number;
  controllerPort: number;
  dataDir: string;
  logFile: string;
  alive(): boolean;
}

/** A KRaft cluster of a test's own (1 or 3 nodes, each broker and controller) to kill and restart. */
export interface KafkaCluster {
  brokers: ClusterBroker[];
  /** The brokers' client addresses, for KAFKA_BROKERS. */
  bootstrap: string;
  /** A kafkajs client of the cluster (through the proxies, like any client). */
  kafka: Kafka;
  /** kill -9 of one broker (and its JVM's children); its proxy, if any, stays and refuses the relay. */
  kill9(id: number): Promise<void>;
  /** Starts a killed or stopped broker again on its ports and data dir; waits until it answers. */
  restart(id: number): Promise<void>;
  /** The broker id leading a partition now (-1 while none does). */
  leaderOf(topic: string, partition: number): Promise<number>;
  /** Resolves once every partition of `topics` has its full replica set in sync. */
  waitInSync(topics: string[], timeoutMs?: number): Promise<void>;
  /** The fault proxy in front of a broker (started with `proxies: true`). */
  proxy(id: number): TcpFaultProxy;
  /** Creates topics (replication = cluster size, min ISR = size - 1 unless the configs say otherwise). */
  createTopics(topics: ITopicConfig[]): Promise<void>;
  /** Kills every broker, closes the proxies and removes every data dir (safe to call twice). */
  stop(): Promise<void>;
}

interface Node {
  broker: ClusterBroker;
  configFile: string;
  logsDir: string;
  process?: OwnedProcess;
  proxy?: TcpFaultProxy;
}

const quiet = { logLevel: logLevel.NOTHING, connectionTimeout: 2000, retry: { retries: 0 } };

async function answersMetadata(address: string, brokers: number): Promise<boolean> {
  const admin = new Kafka({ clientId: 'tideline-cluster-probe', brokers: [address], ...quiet }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length >= brokers;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Starts `brokers` KRaft nodes from the local stack's jar cache (tools/local-stack/runtime.cjs)
 * on free ports, with data dirs in one temp dir. With `proxies`, each broker advertises its own
 * {@link TcpFaultProxy} as its client listener, so every client connection to that broker
 * (bootstrap and after metadata discovery) goes through the proxy; replication and the
 * controller quorum use their own listeners and are not proxied.
 */
export async function startKafkaCluster({
  brokers: size = 3,
  proxies = false,
  heap = '512m',
  overrides = {},
  timeoutMs = 180_000,
}: {
  brokers?: 1 | 3;
  proxies?: boolean;
  heap?: string;
  /** server.properties settings for every node. */
  overrides?: Record<string, string | number>;
  timeoutMs?: number;
} = {}): Promise<KafkaCluster> {
  const plan = stackPlan();
  const root = makeTempDir('tdl-kafka');
  const nodes: Node[] = [];
  let stopped = false;

  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    for (const node of nodes) node.process?.signal('SIGKILL');
    await Promise.all(nodes.map((node) => node.process?.exited ?? Promise.resolve(null)));
    await Promise.all(nodes.map((node) => node.proxy?.close() ?? Promise.resolve()));
    removeTempDir(root);
  };

  const launch = (node: Node) => {
    node.process = spawnOwned(
      plan.kafkaJava,
      runtime.kafkaArgs(plan, node.logsDir, 'kafka.Kafka', [node.configFile], runtime.brokerJvm(heap)),
      { logFile: node.broker.logFile, cwd: root },
    );
  };

  const ready = (node: Node, brokers: number) =>
    waitUntilAnswers(
      node.process!,
      `broker ${node.broker.id} answering metadata with ${brokers} brokers`,
      () => answersMetadata(`127.0.0.1:${node.broker.port}`, brokers),
      { logFile: node.broker.logFile, timeoutMs, intervalMs: 500 },
    );

  try {
    const ports = [];
    for (let i = 0; i < size; i++) {
      ports.push({
        port: await freePort(),
        internalPort: await freePort(),
        controllerPort: await freePort(),
      });
    }
    for (const [i, p] of ports.entries()) {
      const proxy = proxies ? await TcpFaultProxy.start({ port: p.port }) : undefined;
      const dir = path.join(root, `broker-${i + 1}`);
      const node: Node = {
        configFile: path.join(dir, 'server.properties'),
        logsDir: path.join(dir, 'logs'),
        ...(proxy ? { proxy } : {}),
        broker: {
          id: i + 1,
          address: proxy ? proxy.address : `127.0.0.1:${p.port}`,
          ...p,
          dataDir: path.join(dir, 'data'),
          logFile: path.join(dir, 'logs', 'kafka.out'),
          alive: () => node.process?.alive() ?? false,
        },
      };
      fs.mkdirSync(node.broker.dataDir, { recursive: true });
      fs.mkdirSync(node.logsDir, { recursive: true });
      nodes.push(node);
    }
    const layout = nodes.map((n) => ({
      port: n.broker.port,
      internalPort: n.broker.internalPort,
      controllerPort: n.broker.controllerPort,
      ...(n.proxy ? { advertisedPort: n.proxy.port } : {}),
    }));
    const clusterId = runtime.newClusterId();
    for (const node of nodes) {
      fs.writeFileSync(
        node.configFile,
        runtime.kafkaNodeConfig({
          id: node.broker.id,
          nodes: layout,
          dataDir: node.broker.dataDir,
          overrides,
        }),
      );
      runtime.formatStorage(plan, node.logsDir, node.configFile, node.broker.dataDir, {
        clusterId,
        standalone: false,
      });
    }
    nodes.forEach(launch);
    await Promise.all(nodes.map((node) => ready(node, size)));
  } catch (error) {
    const logs = nodes.map((n) => `--- broker ${n.broker.id}\n${tailOf(n.broker.logFile, 10)}`).join('\n');
    await stopAll();
    throw new Error(`${(error as Error).message}\n${logs}`);
  }

  const bootstrap = nodes.map((n) => n.broker.address).join(',');
  const kafka = new Kafka({
    clientId: 'tideline-fault-cluster',
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  });
  const node = (id: number) => {
    const found = nodes[id - 1];
    if (!found) throw new Error(`no broker ${id} in a cluster of ${size}`);
    return found;
  };
  const withAdmin = async <T>(use: (admin: Admin) => Promise<T>): Promise<T> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await use(admin);
    } finally {
      await admin.disconnect();
    }
  };

  return {
    brokers: nodes.map((n) => n.broker),
    bootstrap,
    kafka,
    async kill9(id) {
      const target = node(id);
      if (!target.process?.alive()) return;
      target.process.signal('SIGKILL');
      await target.process.exited;
    },
    async restart(id) {
      const target = node(id);
      if (target.process?.alive()) throw new Error(`broker ${id} is still running: kill9 it first`);
      launch(target);
      await ready(target, 1);
      await eventually(
        `broker ${id} to rejoin the cluster`,
        async () => ((await answersMetadata(`127.0.0.1:${target.broker.port}`, size)) ? true : undefined),
        { timeoutMs, intervalMs: 500 },
      );
    },
    leaderOf: (topic, partition) =>
      withAdmin(async (admin) => {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        return topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader ?? -1;
      }),
    async waitInSync(topics, waitMs = timeoutMs) {
      await eventually(
        `every replica of ${topics.join(', ')} in sync`,
        () =>
          withAdmin(async (admin) => {
            const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
            const lagging = metadata.flatMap((t) =>
              t.partitions
                .filter((p) => p.isr.length < p.replicas.length)
                .map((p) => `${t.name}/${p.partitionId}`),
            );
            if (lagging.length > 0) throw new Error(`not in sync: ${lagging.join(', ')}`);
            return true;
          }),
        { timeoutMs: waitMs, intervalMs: 500 },
      );
    },
    proxy(id) {
      const proxy = node(id).proxy;
      if (!proxy)
        throw new Error('the cluster was started without proxies (startKafkaCluster({ proxies: true }))');
      return proxy;
    },
    createTopics: (topics) =>
      withAdmin(async (admin) => {
        // Not kafkajs's waitForLeaders: on several brokers it fails when one that has not seen the
        // new topics yet answers UNKNOWN_TOPIC_OR_PARTITION (the topics exist); poll for leaders instead.
        await admin.createTopics({
          waitForLeaders: false,
          topics: topics.map((t) => ({
            replicationFactor: size,
            ...t,
            configEntries: [
              { name: 'min.insync.replicas', value: String(Math.max(1, size - 1)) },
              ...(t.configEntries ?? []),
            ],
          })),
        });
        const names = topics.map((t) => t.topic);
        await eventually(
          `leaders for every partition of ${names.join(', ')}`,
          async () => {
            const { topics: described } = await admin.fetchTopicMetadata({ topics: names });
            return described.length === names.length &&
              described.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
              ? true
              : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 200 },
        );
      }),
    stop: stopAll,
  };
}
