import { eventually, testInfra, uniqueName, uniqueTopicName } from './index';

describe('test harness', () => {
  it('makes names no two tests share', () => {
    const names = new Set(Array.from({ length: 200 }, () => uniqueName('group')));
    expect(names.size).toBe(200);
    expect(uniqueTopicName('orders', 'order-placed')).toMatch(
      /^orders\.order-placed-[a-z0-9]+-[0-9a-f]{6}\.v1$/,
    );
  });

  it('defaults to the local stack and honours the variables', () => {
    expect(testInfra({})).toEqual({
      kafkaBrokers: ['127.0.0.1:9092'],
      registryUrl: 'http://127.0.0.1:8081/apis/ccompat/v7',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/tideline',
      topicReplication: 1,
    });
    expect(testInfra({ TOPIC_REPLICATION: '3' }).topicReplication).toBe(3);
    expect(
      testInfra({ KAFKA_BROKERS: 'a:1, b:2', SCHEMA_REGISTRY_URL: 'http://r/api/' }).kafkaBrokers,
    ).toEqual(['a:1', 'b:2']);
    expect(testInfra({ SCHEMA_REGISTRY_URL: 'http://r/api/' }).registryUrl).toBe('http://r/api');
  });

  it('eventually returns the first defined value', async () => {
    let calls = 0;
    await expect(
      eventually('the third call', () => (++calls === 3 ? calls : undefined), { intervalMs: 1 }),
    ).resolves.toBe(3);
  });

  it('eventually fails with what it waited for and the last error', async () => {
    await expect(
      eventually(
        'a broker',
        () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 30, intervalMs: 5 },
      ),
    ).rejects.toThrow('timed out after 30 ms waiting for a broker; last error: connection refused');
  });
});
