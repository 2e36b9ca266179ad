export { ConfigError, loadConfig } from './load-config';
export type { Env } from './load-config';
export { databaseSessionVariables } from './database';
export type { DatabaseSessionConfig } from './database';
export {
  apiKeys,
  DEFAULT_DATABASE_URL,
  databaseUrl,
  optionalDatabaseUrl,
  flag,
  host,
  integer,
  port,
  infrastructureVariables,
  KAFKA_SASL_MECHANISMS,
  kafkaBrokers,
  kafkaSecurityVariables,
  logLevel,
  schemaRegistryUrl,
  sessionTimeoutMs,
  signingVariables,
  topicReplication,
} from './variables';
export type { KafkaSaslMechanism } from './variables';
