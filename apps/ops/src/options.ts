import { kafkaBrokers, schemaRegistryUrl, type Env } from '@tideline/config';
import { isMessagingError, parseOffsetTarget, type OffsetTarget } from '@tideline/messaging';
import { usageError } from './cli-error';

/** Every option of the CLI; each command says which it takes (anything else is a usage error). */
export const OPTIONS = {
  json: { type: 'boolean', help: 'machine-readable output on stdout, no human lines' },
  execute: { type: 'boolean', help: 'act (commands that change something are dry runs without it)' },
  schemas: {
    type: 'string',
    value: 'DIR',
    help: 'read topics and schemas from a schemas/ folder instead of the built-in contracts',
  },
  replication: {
    type: 'string',
    value: 'N',
    help: "development clusters only: at most N replicas per topic instead of the catalog's replication factor (its min.insync.replicas stays; Kafka requires at most the replicas there are); overrides TOPIC_REPLICATION",
  },
  group: { type: 'string', value: 'G', help: 'the consumer group' },
  topic: { type: 'string', value: 'T', help: 'the topic' },
  to: {
    type: 'string',
    value: 'TARGET',
    help: 'earliest | latest | an ISO time with timezone (2026-11-23T10:00:00Z) | partition:offset,… (0:1200,3:980)',
  },
  fingerprint: {
    type: 'string',
    value: 'F',
    help: 'only dead letters with this failure fingerprint (or prefix)',
  },
  since: {
    type: 'string',
    value: 'TIME',
    help: 'only dead letters since an ISO time, or a time ago such as 30m, 6h, 2d',
  },
  limit: { type: 'string', value: 'N', help: 'at most N records' },
  rate: { type: 'string', value: 'R', help: 'at most R records per second (default 100)' },
  'to-retry': {
    type: 'string',
    value: 'N',
    help: "redrive into the group's retry tier N instead of the original topic (only this group sees them again)",
  },
  service: { type: 'string', value: 'S', help: "only this service's part" },
  'allow-differences': {
    type: 'boolean',
    help: 'switch to the rebuilt tables even when they differ from the live ones (the rebuild fixes them)',
  },
  out: {
    type: 'string',
    value: 'DIR',
    help: 'write the files into DIR (created if missing) instead of printing them',
  },
  check: {
    type: 'boolean',
    help: 'write nothing: exit 1 naming each file in --out DIR that differs from what the catalog gives',
  },
  cluster: {
    type: 'string',
    value: 'NAME',
    help: 'the Strimzi Kafka resource (label strimzi.io/cluster; default kafka)',
  },
  'bootstrap-server': {
    type: 'string',
    value: 'HOST:PORT,…',
    help: 'the Kafka brokers (as KAFKA_BROKERS, which it overrides)',
  },
  registry: {
    type: 'string',
    value: 'URL',
    help: 'the Confluent-compatible schema registry API (as SCHEMA_REGISTRY_URL, which it overrides)',
  },
  help: { type: 'boolean', short: 'h', help: 'show help' },
  version: { type: 'boolean', help: "print the CLI's version" },
} as const;

export type OptionName = keyof typeof OPTIONS;

export type OptionValues = {
  [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

/** The parseArgs `options` for every option (no defaults, so a given flag can be told from an absent one). */
export const parseArgsOptions = Object.fromEntries(
  Object.entries(OPTIONS).map(([name, spec]) => [
    name,
    'short' in spec ? { type: spec.type, short: spec.short } : { type: spec.type },
  ]),
) as { [K in OptionName]: { type: (typeof OPTIONS)[K]['type']; short?: string } };

/** `--name VALUE` as help prints it. */
export function optionLabel(name: OptionName): string {
  const spec = OPTIONS[name];
  return `${'short' in spec ? `-${spec.short}, ` : ''}--${name}${'value' in spec ? ` ${spec.value}` : ''}`;
}

/** A whole number from 1 to `max`, as typed after `--name`. */
export function positiveInteger(name: OptionName, raw: string, max = 1_000_000_000): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw usageError(`--${name} must be a whole number from 1 to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

/** Records per second: a number from 0.1 to 100000. */
export function rate(raw: string): number {
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 0.1 && value <= 100_000)) {
    throw usageError(`--rate must be records per second from 0.1 to 100000 (got "${raw}")`);
  }
  return value;
}

const AGO_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO time with timezone, or a time ago (`30m`, `6h`, `2d`). Returns ms since the epoch. */
export function since(raw: string, now: number): number {
  const ago = /^(\d+)(s|m|h|d)$/.exec(raw.trim());
  if (ago) return now - Number(ago[1]) * (AGO_UNITS_MS[ago[2]!] ?? 0);
  let target: OffsetTarget | undefined;
  try {
    target = /^\d{4}-/.test(raw.trim()) ? parseOffsetTarget(raw) : undefined;
  } catch (error) {
    if (isMessagingError(error)) throw usageError(`--since: ${error.message}`);
    throw error;
  }
  if (target?.kind !== 'timestamp') {
    throw usageError(
      `--since must be an ISO time with timezone (2026-11-23T10:00:00Z) or a time ago such as 30m, 6h, 2d (got "${raw}")`,
    );
  }
  return target.timestamp;
}

/** `--to` of replay. */
export function offsetTarget(raw: string): OffsetTarget {
  try {
    return parseOffsetTarget(raw);
  } catch (error) {
    if (isMessagingError(error)) throw usageError(`--to: ${error.message}`);
    throw error;
  }
}

/** The flags that stand for environment variables: each wins over its variable. */
const CONNECTION_FLAGS = [
  { option: 'bootstrap-server', variable: 'KAFKA_BROKERS', schema: kafkaBrokers },
  { option: 'registry', variable: 'SCHEMA_REGISTRY_URL', schema: schemaRegistryUrl },
] as const;

/**
 * The environment with `--bootstrap-server` and `--registry` in place of their variables, each flag checked
 * by its variable's rule first (a bad value is a usage error naming the flag).
 */
export function withConnectionFlags(env: Env, values: OptionValues): Env {
  const merged: Record<string, string | undefined> = { ...env };
  for (const { option, variable, schema } of CONNECTION_FLAGS) {
    const raw = values[option];
    if (raw === undefined) continue;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      throw usageError(
        `--${option}: ${parsed.error.issues.map((issue) => issue.message).join('; ')} (got "${raw}")`,
      );
    }
    merged[variable] = raw;
  }
  return merged;
}
