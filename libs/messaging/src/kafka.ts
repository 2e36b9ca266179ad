import type { KafkaSaslMechanism } from '@tideline/config';
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { registerCompressionCodecs } from './compression';

export interface KafkaSasl {
  mechanism: KafkaSaslMechanism;
  username: string;
  password: string;
}

export interface KafkaConnection {
  brokers: readonly string[];
  clientId: string;
  /** Fail fast (tools, probes) instead of kafkajs's default of retrying for about 30 s. */
  failFast?: boolean;
  /** TLS to the brokers, verified against Node's CAs (plus `NODE_EXTRA_CA_CERTS`). */
  ssl?: boolean;
  /** SASL authentication (PLAIN or SCRAM); over TLS unless the cluster offers SASL_PLAINTEXT. */
  sasl?: KafkaSasl;
}

/** The Kafka part of a service's validated configuration (libs/config infrastructureVariables). */
export interface KafkaSettings {
  KAFKA_BROKERS: readonly string[];
  KAFKA_SSL: boolean;
  KAFKA_SASL_MECHANISM?: KafkaSaslMechanism | undefined;
  KAFKA_SASL_USERNAME?: string | undefined;
  KAFKA_SASL_PASSWORD?: string | undefined;
}

let warningFilterInstalled = false;

/**
 * kafkajs 2.2.4 schedules a negative timeout on Node 24 (tulios/kafkajs#1751): Node
 * clamps it to 1 ms and prints a TimeoutNegativeWarning. Harmless; drop just that one.
 */
function filterKafkajsTimeoutWarning(): void {
  if (warningFilterInstalled) return;
  warningFilterInstalled = true;
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    // Node's own printer is one of these listeners (none under --no-warnings).
    for (const listener of listeners) listener(warning);
  });
}

export type { Admin, Kafka } from 'kafkajs';

/** The kafkajs client settings for a connection. */
export function kafkaClientConfig(connection: KafkaConnection): KafkaConfig {
  const { sasl } = connection;
  return {
    clientId: connection.clientId,
    brokers: [...connection.brokers],
    logLevel: KafkaLogLevel.NOTHING,
    ...(connection.failFast ? { connectionTimeout: 3000, retry: { retries: 1, initialRetryTime: 300 } } : {}),
    ...(connection.ssl ? { ssl: true } : {}),
    ...(sasl
      ? {
          // One literal per mechanism: kafkajs types each mechanism's options separately.
          sasl: {
            mechanism: sasl.mechanism,
            username: sasl.username,
            password: sasl.password,
          } as SASLOptions,
        }
      : {}),
  };
}

export function createKafka(connection: KafkaConnection): Kafka {
  filterKafkajsTimeoutWarning();
  registerCompressionCodecs();
  return new Kafka(kafkaClientConfig(connection));
}

/**
 * A service's connection from its validated config: brokers, TLS and SASL. loadConfig has
 * already refused a mechanism without its username and password.
 */
export function kafkaConnection(
  settings: KafkaSettings,
  clientId: string,
  options: { failFast?: boolean } = {},
): KafkaConnection {
  const {
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: username,
    KAFKA_SASL_PASSWORD: password,
  } = settings;
  return {
    brokers: settings.KAFKA_BROKERS,
    clientId,
    ...options,
    ssl: settings.KAFKA_SSL,
    ...(mechanism !== undefined && username !== undefined && password !== undefined
      ? { sasl: { mechanism, username, password } }
      : {}),
  };
}
