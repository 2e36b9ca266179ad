import { allTopics, type TopicDescriptor } from '@tideline/contracts';
import { CatalogError, loadTopics } from '@tideline/contracts/catalog';
import { createKafka, RegistryCodec, type Kafka } from '@tideline/messaging';
import { CliError } from './cli-error';
import type { OpsConfig } from './config';
import type { Output } from './output';

export interface CommandContext {
  config: OpsConfig;
  out: Output;
  execute: boolean;
  topics: readonly TopicDescriptor<unknown>[];
  codec: () => RegistryCodec;
  kafka: () => Kafka;
}

export function topicsFrom(schemasDir: string | undefined): readonly TopicDescriptor<unknown>[] {
  if (schemasDir === undefined) return allTopics;
  try {
    return loadTopics(schemasDir);
  } catch (error) {
    if (error instanceof CatalogError) throw new CliError(error.problems.join('; '));
    throw new CliError(`cannot read schemas from ${schemasDir}: ${(error as Error).message}`);
  }
}

export function createContext(
  config: OpsConfig,
  out: Output,
  execute: boolean,
  schemasDir: string | undefined,
): CommandContext {
  let codec: RegistryCodec | undefined;
  let kafka: Kafka | undefined;
  return {
    config,
    out,
    execute,
    topics: topicsFrom(schemasDir),
    codec: () => (codec ??= new RegistryCodec({ registryUrl: config.SCHEMA_REGISTRY_URL })),
    kafka: () =>
      (kafka ??= createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'tideline-ops', failFast: true })),
  };
}
