import { infrastructureVariables, loadConfig } from '@tideline/config';
import { kafkaClientConfig, kafkaConnection } from './kafka';

const settings = (env: Record<string, string>) => loadConfig(infrastructureVariables, env);

describe('kafkaConnection and kafkaClientConfig', () => {
  it('connect in plaintext without authentication by default', () => {
    const config = kafkaClientConfig(kafkaConnection(settings({ KAFKA_BROKERS: 'a:9092,b:9092' }), 'svc'));
    expect(config.brokers).toEqual(['a:9092', 'b:9092']);
    expect(config.clientId).toBe('svc');
    expect(config.ssl).toBeUndefined();
    expect(config.sasl).toBeUndefined();
  });

  it('turn TLS on with KAFKA_SSL=true', () => {
    expect(kafkaClientConfig(kafkaConnection(settings({ KAFKA_SSL: 'true' }), 'svc')).ssl).toBe(true);
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'])('pass SASL %s to kafkajs', (mechanism) => {
    const config = kafkaClientConfig(
      kafkaConnection(
        settings({
          KAFKA_SSL: 'true',
          KAFKA_SASL_MECHANISM: mechanism,
          KAFKA_SASL_USERNAME: 'tideline',
          KAFKA_SASL_PASSWORD: 'pw',
        }),
        'svc',
      ),
    );
    expect(config.ssl).toBe(true);
    expect(config.sasl).toEqual({ mechanism, username: 'tideline', password: 'pw' });
  });

  it('keep the fail-fast retry settings for tools', () => {
    const config = kafkaClientConfig(kafkaConnection(settings({}), 'ops', { failFast: true }));
    expect(config.connectionTimeout).toBe(3000);
    expect(config.retry).toEqual({ retries: 1, initialRetryTime: 300 });
  });
});
