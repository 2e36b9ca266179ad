import net from 'node:net';
import { databaseUrl, infrastructureVariables, loadConfig, topicReplication } from '@tideline/config';

/** Where the integration tests find Kafka, the registry and PostgreSQL. */
export interface TestInfra {
  kafkaBrokers: string[];
  registryUrl: string;
  databaseUrl: string;
  /**
   * The development override tests provision the catalog's topics with (TOPIC_REPLICATION,
   * default 1): the stacks tests run on (local stack, compose, testcontainers) have one broker.
   */
  topicReplication: number;
}

/** Reads KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL the way the services do; defaults are the local stack. */
export function testInfra(env: NodeJS.ProcessEnv = process.env): TestInfra {
  const config = loadConfig(
    { ...infrastructureVariables, DATABASE_URL: databaseUrl, TOPIC_REPLICATION: topicReplication },
    env,
  );
  return {
    kafkaBrokers: [...config.KAFKA_BROKERS],
    registryUrl: config.SCHEMA_REGISTRY_URL,
    databaseUrl: config.DATABASE_URL,
    topicReplication: config.TOPIC_REPLICATION ?? 1,
  };
}

function tcpAnswers(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface ProbeResult {
  kafka: boolean;
  registry: boolean;
  postgres: boolean;
}

/** Cheap reachability probe of the three services (no client libraries, no side effects). */
export async function probeInfra(infra: TestInfra): Promise<ProbeResult> {
  const [host, port] = (infra.kafkaBrokers[0] ?? '').split(':');
  const pg = new URL(infra.databaseUrl);
  const [kafka, registry, postgres] = await Promise.all([
    tcpAnswers(host ?? '127.0.0.1', Number(port)),
    fetch(`${infra.registryUrl}/subjects`, { signal: AbortSignal.timeout(3000) }).then(
      (response) => response.ok,
      () => false,
    ),
    tcpAnswers(pg.hostname, Number(pg.port || 5432)),
  ]);
  return { kafka, registry, postgres };
}

/** A 127.0.0.1 port nothing listens on right now (for a child service, or a dead broker). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
