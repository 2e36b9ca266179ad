import { infrastructureVariables, loadConfig, type Env } from './index';
import { problemsFor as problemsOf } from './test-support/problems';

const problemsFor = (env: Env) => problemsOf(infrastructureVariables, env);

describe('Kafka TLS and SASL variables', () => {
  it('default to plaintext without authentication', () => {
    const config = loadConfig(infrastructureVariables, {});
    expect(config.KAFKA_SSL).toBe(false);
    expect(config.KAFKA_SASL_MECHANISM).toBeUndefined();
    expect(config.KAFKA_SASL_USERNAME).toBeUndefined();
    expect(config.KAFKA_SASL_PASSWORD).toBeUndefined();
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('accept SASL %s with TLS', (mechanism) => {
    const config = loadConfig(infrastructureVariables, {
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: mechanism,
      KAFKA_SASL_USERNAME: 'tideline',
      KAFKA_SASL_PASSWORD: 's3cret',
    });
    expect(config).toMatchObject({
      KAFKA_SSL: true,
      KAFKA_SASL_MECHANISM: mechanism,
      KAFKA_SASL_USERNAME: 'tideline',
      KAFKA_SASL_PASSWORD: 's3cret',
    });
  });

  it('accepts TLS alone', () => {
    expect(loadConfig(infrastructureVariables, { KAFKA_SSL: 'true' }).KAFKA_SSL).toBe(true);
  });

  it('rejects another KAFKA_SSL value and an unknown mechanism, showing them', () => {
    expect(
      problemsFor({
        KAFKA_SSL: 'yes',
        KAFKA_SASL_MECHANISM: 'gssapi',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
      }),
    ).toEqual([
      'KAFKA_SSL: must be true or false (got "yes")',
      'KAFKA_SASL_MECHANISM: must be one of plain, scram-sha-256, scram-sha-512 (got "gssapi")',
    ]);
  });

  it('refuses a mechanism without credentials, naming both missing variables', () => {
    expect(problemsFor({ KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toEqual([
      'KAFKA_SASL_USERNAME: required when KAFKA_SASL_MECHANISM is set',
      'KAFKA_SASL_PASSWORD: required when KAFKA_SASL_MECHANISM is set',
    ]);
  });

  it('refuses a mechanism with only a username', () => {
    expect(problemsFor({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' })).toEqual([
      'KAFKA_SASL_PASSWORD: required when KAFKA_SASL_MECHANISM is set',
    ]);
  });

  it('refuses credentials without a mechanism, never showing the password', () => {
    const problems = problemsFor({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'hunter2-secret' });
    expect(problems).toEqual([
      'KAFKA_SASL_MECHANISM: required when KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are set (plain, scram-sha-256, scram-sha-512)',
    ]);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('hides an empty password but names it', () => {
    expect(
      problemsFor({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: '' }),
    ).toEqual(['KAFKA_SASL_PASSWORD: must not be empty (value hidden)']);
  });

  it('lists the SASL problems together with the other bad variables', () => {
    expect(problemsFor({ KAFKA_BROKERS: 'no-port', KAFKA_SASL_PASSWORD: 'p' })).toEqual([
      'KAFKA_BROKERS: each broker must be host:port (got "no-port")',
      'KAFKA_SASL_MECHANISM: required when KAFKA_SASL_PASSWORD is set (plain, scram-sha-256, scram-sha-512)',
    ]);
  });

  it('checks the combination only for shapes that have the SASL variables', () => {
    const { KAFKA_BROKERS } = infrastructureVariables;
    expect(loadConfig({ KAFKA_BROKERS }, { KAFKA_SASL_PASSWORD: 'p' }).KAFKA_BROKERS).toEqual([
      '127.0.0.1:9092',
    ]);
  });
});
