import avro from 'avsc';

export type CleanupPolicy = 'delete' | 'compact';

/** Everything a producer, consumer or admin needs to know about one topic. */
export interface TopicDescriptor<Value> {
  /** `<domain>.<event-name>.v<major>` */
  readonly name: string;
  /** The entity id the UTF-8 record key holds. */
  readonly key: string;
  /** Avro full name of the one event type on the topic, also sent as the event-type header. */
  readonly eventType: string;
  /** Registry subject of the value schema (TopicNameStrategy: `<topic>-value`). */
  readonly valueSubject: string;
  /** The Avro schema as written in schemas/. */
  readonly valueSchema: avro.Schema;
  /** The avsc Type built from `valueSchema`: the reader type for every record on the topic. */
  readonly valueType: avro.Type;
  readonly partitions: number;
  /** Copies of each partition on distinct brokers (production: 3). */
  readonly replicationFactor: number;
  /**
   * `min.insync.replicas`: how many copies an `acks=all` write needs before Kafka acknowledges
   * it (production: 2, so one broker may fail without losing or refusing an acknowledged write).
   */
  readonly minInsyncReplicas: number;
  readonly cleanup: CleanupPolicy;
  /** How long records are kept; `null` for forever (and for compacted topics). */
  readonly retentionMs: number | null;
  /** The only service that produces to the topic. */
  readonly owner: string;
  /** The consumer groups that read the topic. */
  readonly consumers: readonly string[];
  /** Type-level only: the decoded value type. Never set at runtime. */
  readonly __value?: Value;
}

/** The decoded value type of a topic descriptor. */
export type ValueOf<Descriptor> = Descriptor extends TopicDescriptor<infer Value> ? Value : never;

export interface TopicSpec {
  name: string;
  key: string;
  valueSchema: avro.Schema;
  partitions: number;
  replicationFactor: number;
  minInsyncReplicas: number;
  cleanup: CleanupPolicy;
  retentionMs: number | null;
  owner: string;
  consumers: readonly string[];
}

export function defineTopic<Value>(spec: TopicSpec): TopicDescriptor<Value> {
  const valueType = avro.Type.forSchema(spec.valueSchema);
  const eventType = valueType.name;
  if (eventType === undefined) throw new Error(`the value schema of ${spec.name} is not a named record`);
  return Object.freeze({
    ...spec,
    consumers: Object.freeze([...spec.consumers]),
    eventType,
    valueSubject: `${spec.name}-value`,
    valueType,
  });
}
