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

const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' });

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tideline';

export const databaseUrl = postgresUrl.default(DEFAULT_DATABASE_URL);

/** For tools that use PostgreSQL only when it is there: undefined when unset (callers may try DEFAULT_DATABASE_URL). */
export const optionalDatabaseUrl = postgresUrl.optional();

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/** `true` or `false`, nothing else. */
export const flag = z
  .enum(['true', 'false'], { error: 'must be true or false' })
  .default('false')
  .transform((raw) => raw === 'true');

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

const nonEmpty = z.string().min(1, 'must not be empty');

/**
 * How to reach a Kafka cluster that wants TLS and/or SASL. Unset: plaintext, no authentication
 * (the local stack). A private CA is trusted through Node's own `NODE_EXTRA_CA_CERTS`.
 * Incomplete SASL settings are refused by loadConfig (see kafkaSecurityProblems).
 */
export const kafkaSecurityVariables = {
  KAFKA_SSL: flag,
  KAFKA_SASL_MECHANISM: z
    .enum(KAFKA_SASL_MECHANISMS, { error: `must be one of ${KAFKA_SASL_MECHANISMS.join(', ')}` })
    .optional(),
  KAFKA_SASL_USERNAME: nonEmpty.optional(),
  KAFKA_SASL_PASSWORD: nonEmpty.optional(),
};

/**
 * The SASL variables that are missing for the ones that are set: a mechanism needs a username
 * and a password, and a username or password needs a mechanism. Never shows a value.
 */
export function kafkaSecurityProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  const set = (name: string) => env[name] !== undefined;
  const problems: string[] = [];
  if (set('KAFKA_SASL_MECHANISM')) {
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'])
      if (!set(name)) problems.push(`${name}: required when KAFKA_SASL_MECHANISM is set`);
  } else {
    const given = ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'].filter(set);
    if (given.length > 0)
      problems.push(
        `KAFKA_SASL_MECHANISM: required when ${given.join(' and ')} ${given.length > 1 ? 'are' : 'is'} set (${KAFKA_SASL_MECHANISMS.join(', ')})`,
      );
  }
  return problems;
}

/** The infrastructure every Kafka-facing process needs. */
export const infrastructureVariables = {
  KAFKA_BROKERS: kafkaBrokers,
  SCHEMA_REGISTRY_URL: schemaRegistryUrl,
  ...kafkaSecurityVariables,
};

const SIGNING_POLICIES = ['required', 'optional', 'off'] as const;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const MIN_SECRET_BYTES = 32;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Strict base64 of at least MIN_SECRET_BYTES bytes, or undefined. */
function decodeSecret(raw: string): Buffer | undefined {
  if (!BASE64.test(raw) || raw.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(raw, 'base64');
  return bytes.length >= MIN_SECRET_BYTES ? bytes : undefined;
}

type Parsed<Value> = { value: Value } | { problem: string };

/**
 * A comma-separated `name=value` list. `parse` checks one pair and gets its 1-based
 * position, so messages can point at an entry without repeating it (for secrets).
 */
function pairList<Value>(
  describe: (entry: string, position: number) => string,
  parse: (name: string, value: string, position: number) => Parsed<Value>,
) {
  return z
    .string()
    .default('')
    .transform((raw, ctx) => {
      const entries = new Map<string, Value>();
      const pairs = raw
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      for (const [index, pair] of pairs.entries()) {
        const at = pair.indexOf('=');
        const name = pair.slice(0, at).trim();
        const parsed: Parsed<Value> =
          at > 0 ? parse(name, pair.slice(at + 1).trim(), index + 1) : { problem: describe(pair, index + 1) };
        if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
        else if (entries.has(name))
          ctx.addIssue({ code: 'custom', message: `entry ${index + 1} repeats a name listed before it` });
        else entries.set(name, parsed.value);
      }
      return entries;
    });
}

/**
 * Record signing (HMAC-SHA256). Secrets are base64 of at least 32 bytes, e.g.
 * `openssl rand -base64 32`. They come from the environment (a Kubernetes Secret), never the repo.
 */
export const signingVariables = {
  SIGNING_KEY_ID: z.string().regex(KEY_ID, 'must be 1-64 letters, digits, ".", "_" or "-"').optional(),
  SIGNING_KEY: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      const secret = decodeSecret(raw);
      if (!secret)
        ctx.addIssue({ code: 'custom', message: `must be base64 of at least ${MIN_SECRET_BYTES} bytes` });
      return secret;
    }),
  // Messages name an entry by its position or (once valid) its key id, never by its content: it holds a secret.
  SIGNING_VERIFY_KEYS: pairList<Buffer>(
    (_entry, position) => `entry ${position} is not key-id=base64-secret`,
    (id, value, position) => {
      if (!KEY_ID.test(id))
        return { problem: `entry ${position}: the key id must be 1-64 letters, digits, ".", "_" or "-"` };
      const secret = decodeSecret(value);
      return secret
        ? { value: secret }
        : { problem: `entry ${position}: the secret must be base64 of at least ${MIN_SECRET_BYTES} bytes` };
    },
  ),
  SIGNING_POLICY: z.enum(SIGNING_POLICIES).default('required'),
  SIGNING_TOPIC_POLICIES: pairList<(typeof SIGNING_POLICIES)[number]>(
    (entry) => `"${entry}" is not topic=required|optional|off`,
    (topic, value) =>
      (SIGNING_POLICIES as readonly string[]).includes(value)
        ? { value: value as (typeof SIGNING_POLICIES)[number] }
        : { problem: `policy "${value}" for ${topic} is not required, optional or off` },
  ),
};

const MIN_API_KEY_LENGTH = 16;

/** API_KEYS: comma-separated keys a client presents (Authorization: Bearer or X-API-Key), each at least 16 characters. */
export const apiKeys = z
  .string()
  .default('')
  .transform((raw) =>
    raw
      .split(',')
      .map((key) => key.trim())
      .filter((key) => key !== ''),
  )
  .refine(
    (keys) => keys.every((key) => key.length >= MIN_API_KEY_LENGTH),
    `each key must have at least ${MIN_API_KEY_LENGTH} characters`,
  );

/** A whole number in [min, max], written in decimal digits only (no `1e3`, no `0x10`). */
export function integer(fallback: number, min: number, max: number) {
  return z
    .string()
    .default(String(fallback))
    .refine((raw) => /^\d+$/.test(raw.trim()), `must be a whole number from ${min} to ${max}`)
    .transform((raw) => Number(raw.trim()))
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);
}

/** A TCP port to listen on (0: any free port). */
export const port = (fallback: number) => integer(fallback, 0, 65535);

/** The interface to listen on. */
export const host = z.string().trim().min(1, 'must not be empty').default('127.0.0.1');

/**
 * How long the group coordinator waits for a silent member (a crashed process) before it
 * hands its partitions to the others. Shorter: faster takeover after a crash; too short:
 * needless rebalances on a busy machine.
 */
export const sessionTimeoutMs = integer(30_000, 6_000, 300_000);

/**
 * TOPIC_REPLICATION: a development override of the catalog's replication factor for `tideline
 * topics plan|apply` on a cluster with fewer brokers (the one-broker local stack: 1). Unset (or
 * empty): the catalog's durability, which a small cluster refuses. Never set it for production.
 */
export const topicReplication = z
  .string()
  .optional()
  .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw.trim()))
  .refine((raw) => raw === undefined || /^\d+$/.test(raw), 'must be a whole number from 1 to 32')
  .transform((raw) => (raw === undefined ? undefined : Number(raw)))
  .refine((n) => n === undefined || (n >= 1 && n <= 32), 'must be a whole number from 1 to 32');
