export { ConfigError, loadConfig } from './load-config';
export type { Env } from './load-config';
export {
  databaseUrl,
  flag,
  host,
  integer,
  port,
  infrastructureVariables,
  kafkaBrokers,
  logLevel,
  schemaRegistryUrl,
  sessionTimeoutMs,
  signingVariables,
} from './variables';
