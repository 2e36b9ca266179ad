import {
  apiKeys,
  ConfigError,
  databaseUrl,
  flag,
  host,
  integer,
  port,
  infrastructureVariables,
  loadConfig,
  logLevel,
  signingVariables,
  type Env,
} from '@tideline/config';
import { orderCancelledTopic, orderPlacedTopic, productUpdatedTopic } from '@tideline/contracts';
import { signerFromConfig } from '@tideline/messaging';
import { telemetryVariables } from '@tideline/observability';
import { z } from 'zod';

/** The topics order-api publishes to (and checks at the registry for readiness). */
export const producedTopics = [orderPlacedTopic, orderCancelledTopic, productUpdatedTopic] as const;

export const orderApiVariables = {
  PORT: port(3000),
  HOST: host,
  ...infrastructureVariables,
  DATABASE_URL: databaseUrl,
  ...signingVariables,
  API_KEYS: apiKeys,
  AUTH_DISABLED: flag,
  LOG_LEVEL: logLevel,
  ...telemetryVariables,
  IDEMPOTENCY_TTL_HOURS: integer(24, 1, 24 * 365),
  PUBLISH_TIMEOUT_MS: integer(5000, 100, 120_000),
  /** How long an attempt holds its key before a retry may take over; 0: 2 × PUBLISH_TIMEOUT_MS + 30 s. */
  IDEMPOTENCY_LEASE_MS: integer(0, 0, 3_600_000),
  BODY_LIMIT_BYTES: integer(65_536, 1024, 10 * 1024 * 1024),
  PROJECTION_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('http://127.0.0.1:3002')
    .transform((url) => url.replace(/\/+$/, '')),
};

export type OrderApiConfig = Readonly<z.infer<z.ZodObject<typeof orderApiVariables>>>;

/** Rules that span variables; each is checked even when other variables are bad, so all problems show at once. */
function crossVariableProblems(env: Env): string[] {
  const problems: string[] = [];
  const authDisabled = orderApiVariables.AUTH_DISABLED.safeParse(env['AUTH_DISABLED']);
  const keys = orderApiVariables.API_KEYS.safeParse(env['API_KEYS']);
  if (authDisabled.success && !authDisabled.data && keys.success && keys.data.length === 0)
    problems.push('API_KEYS: required (comma-separated keys) unless AUTH_DISABLED=true');

  let signing;
  try {
    signing = loadConfig(signingVariables, env);
  } catch (error) {
    if (error instanceof ConfigError) return problems; // already listed by the main schema
    throw error;
  }
  try {
    const signer = signerFromConfig(signing);
    const unsigned = producedTopics.filter((topic) => !signer.canSign(topic.name)).map((t) => t.name);
    if (unsigned.length > 0)
      problems.push(
        `SIGNING_KEY: order-api must sign what it publishes to ${unsigned.join(', ')}; set SIGNING_KEY_ID and SIGNING_KEY (or turn signing off for those topics)`,
      );
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems);
    else throw error;
  }
  return problems;
}

/** How long an attempt holds its Idempotency-Key: longer than a request can take, so only a dead holder's claim is taken over. */
export function idempotencyLeaseMs(
  config: Pick<OrderApiConfig, 'IDEMPOTENCY_LEASE_MS' | 'PUBLISH_TIMEOUT_MS'>,
): number {
  return config.IDEMPOTENCY_LEASE_MS > 0
    ? config.IDEMPOTENCY_LEASE_MS
    : 2 * config.PUBLISH_TIMEOUT_MS + 30_000;
}

/** The only place order-api reads its environment. Throws a ConfigError listing every bad variable. */
export function loadOrderApiConfig(env: Env): OrderApiConfig {
  let config: OrderApiConfig | undefined;
  const problems: string[] = [];
  try {
    config = loadConfig(orderApiVariables, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  problems.push(...crossVariableProblems(env));
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return config;
}
