import { ConfigError, infrastructureVariables, loadConfig } from './index';

describe('loadConfig', () => {
  it('applies defaults when nothing is set', () => {
    const config = loadConfig(infrastructureVariables, {});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.SCHEMA_REGISTRY_URL).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('splits and trims a broker list and drops a trailing slash from the registry URL', () => {
    const config = loadConfig(infrastructureVariables, {
      KAFKA_BROKERS: 'a:9092, b:9093',
      SCHEMA_REGISTRY_URL: 'https://registry.example/apis/ccompat/v7/',
    });
    expect(config.KAFKA_BROKERS).toEqual(['a:9092', 'b:9093']);
    expect(config.SCHEMA_REGISTRY_URL).toBe('https://registry.example/apis/ccompat/v7');
  });

  it('lists every bad variable at once, with the value it got', () => {
    let caught: unknown;
    try {
      loadConfig(infrastructureVariables, { KAFKA_BROKERS: 'no-port', SCHEMA_REGISTRY_URL: 'ftp://x' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^KAFKA_BROKERS: each broker must be host:port \(got "no-port"\)$/);
    expect(problems[1]).toMatch(/^SCHEMA_REGISTRY_URL: must be an http\(s\) URL \(got "ftp:\/\/x"\)$/);
  });
});
