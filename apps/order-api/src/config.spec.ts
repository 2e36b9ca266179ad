import { randomBytes } from 'node:crypto';
import { ConfigError, type Env } from '@tideline/config';
import { idempotencyLeaseMs, loadOrderApiConfig } from './config';

const SIGNING = { SIGNING_KEY_ID: 'order-api-1', SIGNING_KEY: randomBytes(32).toString('base64') };
const KEY = 'config-test-key-0123456789';

function problemsFor(env: Env): readonly string[] {
  let caught: unknown;
  try {
    loadOrderApiConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return (caught as ConfigError).problems;
}

describe('loadOrderApiConfig', () => {
  it('applies the defaults', () => {
    const config = loadOrderApiConfig({ ...SIGNING, API_KEYS: KEY });
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tideline',
      API_KEYS: [KEY],
      AUTH_DISABLED: false,
      LOG_LEVEL: 'info',
      IDEMPOTENCY_TTL_HOURS: 24,
      PUBLISH_TIMEOUT_MS: 5000,
      IDEMPOTENCY_LEASE_MS: 0,
      BODY_LIMIT_BYTES: 65536,
      PROJECTION_URL: 'http://127.0.0.1:3002',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadOrderApiConfig({
      ...SIGNING,
      PORT: '8080',
      HOST: '0.0.0.0',
      KAFKA_BROKERS: 'k1:9092,k2:9092',
      API_KEYS: ` ${KEY} , second-key-0123456789 ,`,
      LOG_LEVEL: 'debug',
      IDEMPOTENCY_TTL_HOURS: '48',
      PUBLISH_TIMEOUT_MS: '1500',
      IDEMPOTENCY_LEASE_MS: '4000',
      BODY_LIMIT_BYTES: '2048',
      PROJECTION_URL: 'https://projection.example/',
    });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      KAFKA_BROKERS: ['k1:9092', 'k2:9092'],
      API_KEYS: [KEY, 'second-key-0123456789'],
      LOG_LEVEL: 'debug',
      IDEMPOTENCY_TTL_HOURS: 48,
      PUBLISH_TIMEOUT_MS: 1500,
      IDEMPOTENCY_LEASE_MS: 4000,
      BODY_LIMIT_BYTES: 2048,
      PROJECTION_URL: 'https://projection.example',
    });
  });

  it('derives the idempotency lease from the publish timeout unless it is set', () => {
    expect(idempotencyLeaseMs({ IDEMPOTENCY_LEASE_MS: 0, PUBLISH_TIMEOUT_MS: 5000 })).toBe(40_000);
    expect(idempotencyLeaseMs({ IDEMPOTENCY_LEASE_MS: 4000, PUBLISH_TIMEOUT_MS: 5000 })).toBe(4000);
  });

  it('needs no API_KEYS when AUTH_DISABLED=true', () => {
    const config = loadOrderApiConfig({ ...SIGNING, AUTH_DISABLED: 'true' });
    expect(config.AUTH_DISABLED).toBe(true);
    expect(config.API_KEYS).toEqual([]);
  });

  it('needs no signing key when signing is off', () => {
    expect(loadOrderApiConfig({ API_KEYS: KEY, SIGNING_POLICY: 'off' }).SIGNING_POLICY).toBe('off');
  });

  it('lists every bad variable at once, hiding secrets', () => {
    const problems = problemsFor({
      PORT: 'abc',
      HOST: ' ',
      KAFKA_BROKERS: 'no-port',
      SCHEMA_REGISTRY_URL: 'ftp://registry',
      DATABASE_URL: 'mysql://db',
      AUTH_DISABLED: 'yes',
      LOG_LEVEL: 'loud',
      IDEMPOTENCY_TTL_HOURS: '0',
      PUBLISH_TIMEOUT_MS: '1.5',
      BODY_LIMIT_BYTES: '-1',
      PROJECTION_URL: 'nope',
      SIGNING_KEY: 'c2hvcnQ=',
    });
    expect(problems).toEqual([
      'PORT: must be a whole number from 0 to 65535 (got "abc")',
      'HOST: must not be empty (got " ")',
      'KAFKA_BROKERS: each broker must be host:port (got "no-port")',
      'SCHEMA_REGISTRY_URL: must be an http(s) URL (got "ftp://registry")',
      'DATABASE_URL: must be a postgres:// URL (got "mysql://db")',
      'SIGNING_KEY: must be base64 of at least 32 bytes (value hidden)',
      'AUTH_DISABLED: must be true or false (got "yes")',
      expect.stringMatching(/^LOG_LEVEL: .* \(got "loud"\)$/),
      'IDEMPOTENCY_TTL_HOURS: must be a whole number from 1 to 8760 (got "0")',
      'PUBLISH_TIMEOUT_MS: must be a whole number from 100 to 120000 (got "1.5")',
      'BODY_LIMIT_BYTES: must be a whole number from 1024 to 10485760 (got "-1")',
      'PROJECTION_URL: must be an http(s) URL (got "nope")',
    ]);
  });

  it('requires API_KEYS unless auth is disabled, alongside the other problems', () => {
    expect(problemsFor({ ...SIGNING, PORT: '70000' })).toEqual([
      'PORT: must be a whole number from 0 to 65535 (got "70000")',
      'API_KEYS: required (comma-separated keys) unless AUTH_DISABLED=true',
    ]);
  });

  it('rejects short API keys without showing them', () => {
    const problems = problemsFor({ ...SIGNING, API_KEYS: `${KEY},short` });
    expect(problems).toEqual(['API_KEYS: each key must have at least 16 characters (value hidden)']);
    expect(problems.join()).not.toContain(KEY);
  });

  it('requires a signing key to publish while signing is on', () => {
    expect(problemsFor({ API_KEYS: KEY })).toEqual([
      'SIGNING_KEY: signing is on (SIGNING_POLICY) but neither SIGNING_KEY nor SIGNING_VERIFY_KEYS is set',
    ]);
    expect(problemsFor({ API_KEYS: KEY, SIGNING_VERIFY_KEYS: `other=${SIGNING.SIGNING_KEY}` })).toEqual([
      expect.stringMatching(
        /^SIGNING_KEY: order-api must sign what it publishes to orders\.order-placed\.v1, orders\.order-cancelled\.v1, catalog\.product-updated\.v1; set SIGNING_KEY_ID and SIGNING_KEY/,
      ),
    ]);
    expect(problemsFor({ API_KEYS: KEY, SIGNING_KEY: SIGNING.SIGNING_KEY })).toEqual([
      'SIGNING_KEY_ID: must be set when SIGNING_KEY is',
    ]);
  });
});
