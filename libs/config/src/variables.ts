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

const SIGNING_POLICIES = ['required', 'optional', 'off'] as const;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const MIN_SECRET_BYTES = 32;

function decodeSecret(raw: string): Buffer | undefined {
  const bytes = Buffer.from(raw, 'base64');
  return bytes.length >= MIN_SECRET_BYTES ? bytes : undefined;
}

/** A comma-separated `name=value` list, each pair checked by `parse`. */
function pairList<Value>(describe: string, parse: (name: string, value: string) => Value | string) {
  return z
    .string()
    .default('')
    .transform((raw, ctx) => {
      const entries = new Map<string, Value>();
      for (const pair of raw.split(',').map((p) => p.trim())) {
        if (pair === '') continue;
        const at = pair.indexOf('=');
        const name = pair.slice(0, at).trim();
        const parsed = at > 0 ? parse(name, pair.slice(at + 1).trim()) : `"${pair}" is not ${describe}`;
        if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
        else entries.set(name, parsed);
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
  SIGNING_VERIFY_KEYS: pairList('key-id=base64-secret', (id, value) => {
    if (!KEY_ID.test(id)) return `key id "${id}" must be 1-64 letters, digits, ".", "_" or "-"`;
    return (
      decodeSecret(value) ?? `the secret of key "${id}" must be base64 of at least ${MIN_SECRET_BYTES} bytes`
    );
  }),
  SIGNING_POLICY: z.enum(SIGNING_POLICIES).default('required'),
  SIGNING_TOPIC_POLICIES: pairList('topic=required|optional|off', (topic, value) =>
    (SIGNING_POLICIES as readonly string[]).includes(value)
      ? (value as (typeof SIGNING_POLICIES)[number])
      : `policy "${value}" for ${topic} is not required, optional or off`,
  ),
};
