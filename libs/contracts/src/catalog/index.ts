// @tideline/contracts/catalog — reads schemas/ at runtime (codegen, `tideline --schemas DIR`).
import { defineTopic, type TopicDescriptor } from '../topic';
import { readCatalog } from './read-catalog';

export { CatalogError, parseRetention, PRODUCTION_DURABILITY, readCatalog } from './read-catalog';
export type { AvroField, AvroRecordSchema, CatalogTopic, Durability } from './read-catalog';

/** Topic descriptors built from a schemas/ folder instead of the generated contracts. */
export function loadTopics(schemasDir: string): TopicDescriptor<unknown>[] {
  return readCatalog(schemasDir).map((topic) =>
    defineTopic<unknown>({
      name: topic.name,
      key: topic.key,
      valueSchema: topic.schema as unknown as TopicDescriptor<unknown>['valueSchema'],
      partitions: topic.partitions,
      replicationFactor: topic.replicationFactor,
      minInsyncReplicas: topic.minInsyncReplicas,
      cleanup: topic.cleanup,
      retentionMs: topic.retentionMs,
      owner: topic.owner,
      consumers: topic.consumers,
    }),
  );
}
