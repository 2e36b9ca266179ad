import { z } from 'zod';

/** Comma-separated host:port list. */
export const kafkaBrokers = z
  .string()
  .default('127.0.0.1:9092')
  .transform((raw) =>
    raw
      .split(',')
      .map((broker) => broker.trim())
      .filter((broker) => broker !== ''),
  )
  .pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each broker must be host:port'))
      .min(1, 'needs at least one broker as host:port'),
  );

/** Base URL of a Confluent-compatible schema registry API. */
export const schemaRegistryUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .default('http://127.0.0.1:8081/apis/ccompat/v7')
  .transform((url) => url.replace(/\/+$/, ''));

export const databaseUrl = z
  .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
  .default('postgres://postgres@127.0.0.1:5432/tideline');

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/** The infrastructure every Kafka-facing process needs. */
export const infrastructureVariables = {
  KAFKA_BROKERS: kafkaBrokers,
  SCHEMA_REGISTRY_URL: schemaRegistryUrl,
};
