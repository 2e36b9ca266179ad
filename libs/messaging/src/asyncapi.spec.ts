import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { allTopics, orderPlacedTopic } from '@tideline/contracts';
import { asyncApiDocument } from './asyncapi';

const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());

/** Errors and warnings the AsyncAPI parser reports (information and hints left out). */
async function problems(document: unknown): Promise<string[]> {
  const { diagnostics } = await parser.parse(JSON.stringify(document));
  return (
    diagnostics
      // Errors (0) and warnings (1); information and hints left out.
      .filter((d) => Number(d.severity) <= Number(DiagnosticSeverity.Warning))
      .map((d) => `${d.code}: ${d.message} at ${d.path.join('/')}`)
  );
}

type Doc = {
  channels: Record<string, { address: string; messages: Record<string, unknown>; bindings: unknown }>;
  operations: Record<string, { action: string; bindings?: { kafka: { groupId: { enum: string[] } } } }>;
  components: { messages: Record<string, { payload: { schemaFormat: string; schema: unknown } }> };
};

describe('asyncApiDocument', () => {
  it('describes every catalog topic, its message, producer and consumer groups as a valid AsyncAPI 3 document', async () => {
    const document = asyncApiDocument(allTopics) as unknown as Doc;
    expect(await problems(document)).toEqual([]);
    for (const topic of allTopics) {
      expect(document.channels[topic.name]?.address).toBe(topic.name);
      expect(document.operations[`${topic.owner}.send.${topic.name}`]?.action).toBe('send');
      for (const group of topic.consumers) {
        expect(document.operations[`${group}.receive.${topic.name}`]?.bindings?.kafka.groupId.enum).toEqual([
          group,
        ]);
      }
      expect(document.components.messages[topic.eventType]?.payload).toEqual({
        schemaFormat: 'application/vnd.apache.avro;version=1.9.0',
        schema: topic.valueSchema,
      });
    }
    expect(Object.keys(document.channels)).toEqual(
      expect.arrayContaining(['order-processor.retry.1', 'order-processor.dlt', 'order-projection.dlt']),
    );
    expect(document.channels['orders.order-placed.v1']?.bindings).toEqual({
      kafka: {
        topic: 'orders.order-placed.v1',
        partitions: 6,
        replicas: 3,
        topicConfiguration: { 'cleanup.policy': ['delete'], 'retention.ms': 2_592_000_000 },
        bindingVersion: '0.5.0',
      },
    });
  });

  it("gives a service only its part: what it produces, what its group reads, and its group's retry and dead-letter topics", async () => {
    const api = asyncApiDocument(allTopics, { service: 'order-api' }) as unknown as Doc;
    expect(await problems(api)).toEqual([]);
    expect(Object.keys(api.channels).sort()).toEqual(
      allTopics
        .filter((t) => t.owner === 'order-api')
        .map((t) => t.name)
        .sort(),
    );
    expect(Object.values(api.operations).every((o) => o.action === 'send')).toBe(true);

    const processor = asyncApiDocument(allTopics, { service: 'order-processor' }) as unknown as Doc;
    expect(await problems(processor)).toEqual([]);
    expect(Object.keys(processor.channels)).toContain('order-processor.dlt');
    expect(Object.keys(processor.channels)).not.toContain('order-projection.dlt');
    expect(processor.operations['order-processor.receive.orders.order-placed.v1']).toBeDefined();
    expect(processor.operations['order-api.send.orders.order-placed.v1']).toBeUndefined();
  });

  it('is checked for real: the parser rejects a document whose operation names a missing channel', async () => {
    const document = asyncApiDocument([orderPlacedTopic]) as unknown as Doc;
    const broken = {
      ...document,
      operations: { nowhere: { action: 'send', channel: { $ref: '#/channels/missing' } } },
    };
    expect((await problems(broken)).join('\n')).toMatch(/missing/);
  });
});
