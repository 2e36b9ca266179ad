export { ConfigError, loadConfig } from './load-config';
export type { Env } from './load-config';
export {
  databaseUrl,
  infrastructureVariables,
  kafkaBrokers,
  logLevel,
  schemaRegistryUrl,
  signingVariables,
} from './variables';
