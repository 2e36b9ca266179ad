import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig } from 'kafkajs';

export interface KafkaConnection {
  brokers: readonly string[];
  clientId: string;
  /** Fail fast (tools, probes) instead of kafkajs's default of retrying for about 30 s. */
  failFast?: boolean;
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

export function createKafka(connection: KafkaConnection): Kafka {
  filterKafkajsTimeoutWarning();
  const config: KafkaConfig = {
    clientId: connection.clientId,
    brokers: [...connection.brokers],
    logLevel: KafkaLogLevel.NOTHING,
    ...(connection.failFast ? { connectionTimeout: 3000, retry: { retries: 1, initialRetryTime: 300 } } : {}),
  };
  return new Kafka(config);
}
