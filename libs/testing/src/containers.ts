// Fallback for machines with Docker but without the local stack: start Kafka, the
// registry and PostgreSQL with testcontainers. Loaded lazily: most runs never need it.
import type { ProbeResult, TestInfra } from './infra';

export interface StartedInfra {
  infra: Partial<TestInfra>;
  stop: () => Promise<void>;
}

export async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/** Starts a container for each service the probe did not find. */
export async function startMissing(probe: ProbeResult): Promise<StartedInfra> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const stops: (() => Promise<unknown>)[] = [];
  const infra: Partial<TestInfra> = {};
  if (!probe.kafka) {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const kafka = await new KafkaContainer('confluentinc/cp-kafka:8.1.0')
      .withEnvironment({
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      })
      .start();
    stops.push(() => kafka.stop());
    infra.kafkaBrokers = [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`];
  }
  if (!probe.registry) {
    // In-memory storage: the container lives only for this test run.
    const registry = await new GenericContainer('apicurio/apicurio-registry:3.3.3')
      .withEnvironment({
        APICURIO_RULES_GLOBAL_COMPATIBILITY: 'BACKWARD',
        QUARKUS_MANAGEMENT_ENABLED: 'false',
      })
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080).forStatusCode(200))
      .start();
    stops.push(() => registry.stop());
    infra.registryUrl = `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`;
  }
  if (!probe.postgres) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const postgres = await new PostgreSqlContainer('postgres:17-alpine').withDatabase('tideline').start();
    stops.push(() => postgres.stop());
    infra.databaseUrl = postgres.getConnectionUri();
  }
  return {
    infra,
    stop: async () => {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}
