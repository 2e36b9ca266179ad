import { allTopics, type TopicDescriptor } from '@tideline/contracts';
import { CatalogError, loadTopics } from '@tideline/contracts/catalog';
import {
  createKafka,
  kafkaConnection,
  RegistryCodec,
  signerFromConfig,
  type Kafka,
  type RecordSigner,
} from '@tideline/messaging';
import { ConfigError, DEFAULT_DATABASE_URL, type Env } from '@tideline/config';
import { createDatabasePool } from '@tideline/projections';
import type { Pool } from 'pg';
import { CliError } from './cli-error';
import { loadSigningConfig, type OpsConfig } from './config';
import type { OptionValues } from './options';
import type { Output } from './output';
import { createProgress, type Progress, type ProgressTerminal } from './progress';

export interface CommandContext {
  config: OpsConfig;
  out: Output;
  execute: boolean;
  topics: readonly TopicDescriptor<unknown>[];
  codec: () => RegistryCodec;
  kafka: () => Kafka;
  /** The command's options (only the ones it takes can be set). */
  options: OptionValues;
  /** Its positional arguments (after the command's words). */
  args: readonly string[];
  /** Verifies records like the services do (SIGNING_* variables); a one-line error when they are incomplete. */
  signer: () => RecordSigner;
  /** A progress bar on stderr when it is a terminal (not with --json); its summary line goes to stdout. */
  progress: (label: string, unit: string) => Progress;
  /** PostgreSQL (projection positions): DATABASE_URL, or the local default when unset (`explicit: false`). */
  database: () => Database;
  now: () => number;
  /** Releases what the command opened (the database pool). */
  close: () => Promise<void>;
}

export interface Database {
  pool: Pool;
  url: string;
  /** DATABASE_URL was set: failing to reach it is an error, not a reason to skip. */
  explicit: boolean;
}

/** What the CLI's caller gives besides the configuration. */
export interface ContextExtras {
  options?: OptionValues;
  args?: readonly string[];
  /** The environment (SIGNING_* is read only by the commands that verify records). */
  env?: Env;
  /** stderr when it is a terminal. */
  terminal?: ProgressTerminal | undefined;
  now?: () => number;
}

export function topicsFrom(schemasDir: string | undefined): readonly TopicDescriptor<unknown>[] {
  if (schemasDir === undefined) return allTopics;
  try {
    return loadTopics(schemasDir);
  } catch (error) {
    if (error instanceof CatalogError)
      throw new CliError(error.problems.join('; '), 'TDL_CLI_CATALOG_INVALID');
    throw new CliError(
      `cannot read schemas from ${schemasDir}: ${(error as Error).message}`,
      'TDL_CLI_CATALOG_INVALID',
    );
  }
}

export function createContext(
  config: OpsConfig,
  out: Output,
  execute: boolean,
  schemasDir: string | undefined,
  extras: ContextExtras = {},
): CommandContext {
  let codec: RegistryCodec | undefined;
  let kafka: Kafka | undefined;
  let database: Database | undefined;
  return {
    options: extras.options ?? {},
    args: extras.args ?? [],
    signer: () => {
      try {
        return signerFromConfig(loadSigningConfig(extras.env ?? {}));
      } catch (error) {
        if (error instanceof ConfigError)
          throw new CliError(`invalid configuration: ${error.problems.join('; ')}`, error.code);
        throw error;
      }
    },
    now: extras.now ?? Date.now,
    progress: (label, unit) =>
      createProgress({
        label,
        unit,
        terminal: out.json ? undefined : extras.terminal,
        summary: (line) => out.line(line),
        ...(extras.now ? { now: extras.now } : {}),
      }),
    database: () =>
      (database ??= {
        pool: createDatabasePool(
          { ...config, DATABASE_URL: config.DATABASE_URL ?? DEFAULT_DATABASE_URL },
          { max: 2 },
        ),
        url: config.DATABASE_URL ?? DEFAULT_DATABASE_URL,
        explicit: config.DATABASE_URL !== undefined,
      }),
    close: async () => {
      await database?.pool.end().catch(() => undefined);
    },
    config,
    out,
    execute,
    topics: topicsFrom(schemasDir),
    codec: () => (codec ??= new RegistryCodec({ registryUrl: config.SCHEMA_REGISTRY_URL })),
    kafka: () => (kafka ??= createKafka(kafkaConnection(config, 'tideline-ops', { failFast: true }))),
  };
}
