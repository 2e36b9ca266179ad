import net from 'node:net';

/** Where the integration tests find Kafka, the registry and PostgreSQL. */
export interface TestInfra {
  kafkaBrokers: string[];
  registryUrl: string;
  databaseUrl: string;
}

/** Reads KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL; defaults are the local stack. */
export function testInfra(env: NodeJS.ProcessEnv = process.env): TestInfra {
  return {
    kafkaBrokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:9092')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    registryUrl: (env['SCHEMA_REGISTRY_URL'] ?? 'http://127.0.0.1:8081/apis/ccompat/v7').replace(/\/+$/, ''),
    databaseUrl: env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/tideline',
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
