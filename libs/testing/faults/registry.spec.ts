import { startKafkaCluster, type KafkaCluster } from '../src/faults/kafka-cluster';
import { startPrivateRegistry, type PrivateRegistry } from '../src/faults/registry';

const schema = JSON.stringify({
  type: 'record',
  name: 'Probe',
  namespace: 'test.faults',
  fields: [{ name: 'n', type: 'int' }],
});

async function register(url: string): Promise<number> {
  const response = await fetch(`${url}/subjects/probe-value/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema }),
  });
  if (!response.ok) throw new Error(`register answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: number }).id;
}

describe('startPrivateRegistry', () => {
  let cluster: KafkaCluster | undefined;
  let registry: PrivateRegistry | undefined;
  afterAll(async () => {
    await registry?.stop();
    await cluster?.stop();
  });

  it('keeps its schemas across a kill -9 and restart (kafkasql journal in the cluster)', async () => {
    cluster = await startKafkaCluster({ brokers: 1 });
    registry = await startPrivateRegistry({ bootstrap: cluster.bootstrap });
    const id = await register(registry.url);

    await registry.kill9();
    expect(registry.alive()).toBe(false);
    await expect(fetch(`${registry.url}/subjects`)).rejects.toThrow();

    await registry.restart();
    const response = await fetch(`${registry.url}/schemas/ids/${id}`);
    expect(response.status).toBe(200);
    expect(JSON.parse(((await response.json()) as { schema: string }).schema)).toEqual(JSON.parse(schema));
  });
});
