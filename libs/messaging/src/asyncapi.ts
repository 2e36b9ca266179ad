import type { TopicDescriptor } from '@tideline/contracts';
import { defaultRetryPolicy, groupTopics, retryTopicName, type RetryPolicy } from './group-topics';
import { AVRO_CONTENT_TYPE, FAILURE_HEADERS, HEADER } from './headers';
import { desiredConfig } from './topic-admin';

/** An AsyncAPI 3.0 document, as plain JSON. */
export type AsyncApiDocument = Record<string, unknown> & { asyncapi: '3.0.0' };

export interface AsyncApiOptions {
  /** Only the part of this service: the topics it produces (owner) or its consumer group reads, and its group topics. */
  service?: string | undefined;
  title?: string;
  version?: string;
  retry?: RetryPolicy;
}

const AVRO_SCHEMA_FORMAT = 'application/vnd.apache.avro;version=1.9.0';
const BINDING_VERSION = '0.5.0';

const HEADER_DOCS: Record<string, string> = {
  [HEADER.specVersion]: 'CloudEvents spec version (1.0)',
  [HEADER.eventId]: 'event id (UUIDv7); consumers deduplicate by it',
  [HEADER.eventType]: 'Avro full name of the value; equals the topic’s event type',
  [HEADER.producer]: 'the producing service',
  [HEADER.producedAt]: 'when the event was produced (ISO 8601)',
  [HEADER.contentType]: `${AVRO_CONTENT_TYPE} (absent on tombstones)`,
  [HEADER.correlationId]: 'id of the request that started the chain',
  [HEADER.causationId]: 'event id this event reacts to',
  [HEADER.traceparent]: 'W3C trace context',
  [HEADER.tracestate]: 'W3C trace state',
  [HEADER.signature]: 'HMAC-SHA256 over topic, key, value and the signed headers (base64url)',
  [HEADER.signatureKeyId]: 'id of the key that signed the record',
  [HEADER.redrivenFrom]: 'on a redriven record: <dead-letter topic>:<partition>:<offset> it came from',
};

const REQUIRED_HEADERS = [
  HEADER.specVersion,
  HEADER.eventId,
  HEADER.eventType,
  HEADER.producer,
  HEADER.producedAt,
  HEADER.correlationId,
];

/** JSON Schema of the record headers; the failure headers only on retry and dead-letter topics. */
function headersSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, description] of Object.entries(HEADER_DOCS))
    properties[name] = { type: 'string', description };
  for (const name of FAILURE_HEADERS)
    properties[name] = { type: 'string', description: 'on retry and dead-letter topics only' };
  return { type: 'object', required: REQUIRED_HEADERS, properties };
}

const channelRef = (channel: string) => ({ $ref: `#/channels/${channel}` });
const messageKey = (topic: TopicDescriptor<unknown>) => topic.eventType;

interface Channel {
  name: string;
  description: string;
  partitions: number;
  replicas: number;
  config: Record<string, string>;
  messages: TopicDescriptor<unknown>[];
  extensions: Record<string, unknown>;
}

interface Operation {
  id: string;
  action: 'send' | 'receive';
  channel: Channel;
  summary: string;
  groupId?: string;
}

function channelObject(channel: Channel): Record<string, unknown> {
  return {
    address: channel.name,
    description: channel.description,
    messages: Object.fromEntries(
      channel.messages.map((topic) => [
        messageKey(topic),
        { $ref: `#/components/messages/${messageKey(topic)}` },
      ]),
    ),
    bindings: {
      kafka: {
        topic: channel.name,
        partitions: channel.partitions,
        replicas: channel.replicas,
        topicConfiguration: {
          'cleanup.policy': channel.config['cleanup.policy']?.split(',') ?? ['delete'],
          'retention.ms': Number(channel.config['retention.ms'] ?? -1),
        },
        bindingVersion: BINDING_VERSION,
      },
    },
    ...channel.extensions,
  };
}

function operationObject(operation: Operation): Record<string, unknown> {
  return {
    action: operation.action,
    channel: channelRef(operation.channel.name),
    summary: operation.summary,
    messages: operation.channel.messages.map((topic) => ({
      $ref: `#/channels/${operation.channel.name}/messages/${messageKey(topic)}`,
    })),
    ...(operation.groupId === undefined
      ? {}
      : {
          bindings: {
            kafka: {
              groupId: { type: 'string', enum: [operation.groupId] },
              bindingVersion: BINDING_VERSION,
            },
          },
        }),
  };
}

function messageObject(topic: TopicDescriptor<unknown>): Record<string, unknown> {
  const schema = topic.valueSchema as { doc?: string; name?: string };
  return {
    name: topic.eventType.split('.').pop(),
    title: topic.eventType,
    ...(schema.doc ? { summary: schema.doc } : {}),
    contentType: AVRO_CONTENT_TYPE,
    headers: { $ref: '#/components/schemas/RecordHeaders' },
    payload: { schemaFormat: AVRO_SCHEMA_FORMAT, schema: topic.valueSchema },
    bindings: {
      kafka: {
        key: { type: 'string', description: `the ${topic.key} (UTF-8)` },
        schemaIdLocation: 'payload',
        schemaIdPayloadEncoding: 'confluent',
        schemaLookupStrategy: 'TopicNameStrategy',
        bindingVersion: BINDING_VERSION,
      },
    },
  };
}

/**
 * An AsyncAPI 3.0 document generated from the topic catalog: one channel per topic (and per consumer group's retry
 * and dead-letter topics), one message per event type with its Avro schema, a `send` operation for each topic's
 * producer and a `receive` operation per consumer group. With `service`, only that service's part. Pure.
 */
export function asyncApiDocument(
  topics: readonly TopicDescriptor<unknown>[],
  options: AsyncApiOptions = {},
): AsyncApiDocument {
  const policy = options.retry ?? defaultRetryPolicy;
  const { service } = options;
  const channels: Channel[] = [];
  const operations: Operation[] = [];
  const used = new Set<TopicDescriptor<unknown>>();
  const sourcesByGroup = new Map<string, TopicDescriptor<unknown>[]>();

  for (const topic of topics) {
    const groups = topic.consumers.filter((g) => service === undefined || g === service);
    const produced = service === undefined || topic.owner === service;
    if (!produced && groups.length === 0) continue;
    const channel: Channel = {
      name: topic.name,
      description: `${topic.eventType} events keyed by ${topic.key}${topic.cleanup === 'compact' ? '; compacted: the latest record per key is kept, a tombstone (no value) deletes the key' : ''}.`,
      partitions: topic.partitions,
      replicas: topic.replicationFactor,
      config: desiredConfig(topic),
      messages: [topic],
      extensions: { 'x-owner': topic.owner, 'x-consumer-groups': [...topic.consumers] },
    };
    channels.push(channel);
    used.add(topic);
    if (produced) {
      operations.push({
        id: `${topic.owner}.send.${topic.name}`,
        action: 'send',
        channel,
        summary: `${topic.owner} publishes ${topic.eventType}`,
      });
    }
    for (const group of groups) {
      sourcesByGroup.set(group, [...(sourcesByGroup.get(group) ?? []), topic]);
      operations.push({
        id: `${group}.receive.${topic.name}`,
        action: 'receive',
        channel,
        summary: `consumer group ${group} reads ${topic.eventType}`,
        groupId: group,
      });
    }
  }

  for (const [group, sources] of sourcesByGroup) {
    const retryTopics = new Set(policy.delaysMs.map((_, index) => retryTopicName(group, index + 1)));
    for (const managed of groupTopics(group, sources, policy)) {
      const retry = retryTopics.has(managed.name);
      const channel: Channel = {
        name: managed.name,
        description: retry
          ? `Retry tier of consumer group ${group}: records whose handling failed, due again at tdl-retry-due-at.`
          : `Dead letters of consumer group ${group}: records retrying cannot help, with the failure in tdl-* headers (\`tideline dlq\`). Redrive markers (tdl-redrive-of, no value) record what was redriven.`,
        partitions: managed.partitions,
        replicas: managed.replicationFactor,
        config: desiredConfig(managed),
        messages: sources,
        extensions: { 'x-owner': group, 'x-consumer-groups': retry ? [group] : [] },
      };
      channels.push(channel);
      operations.push({
        id: `${group}.send.${managed.name}`,
        action: 'send',
        channel,
        summary: `consumer group ${group} forwards failed records`,
      });
      if (retry) {
        operations.push({
          id: `${group}.receive.${managed.name}`,
          action: 'receive',
          channel,
          summary: `consumer group ${group} retries`,
          groupId: group,
        });
      }
    }
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: options.title ?? (service === undefined ? 'Tideline' : `Tideline: ${service}`),
      version: options.version ?? '1.0.0',
      description:
        service === undefined
          ? 'Every Kafka topic of Tideline: the events on it (Avro, Confluent wire format), who produces it and which consumer groups read it. Generated from the topic catalog.'
          : `The topics ${service} produces and consumes. Generated from the topic catalog.`,
    },
    defaultContentType: AVRO_CONTENT_TYPE,
    channels: Object.fromEntries(channels.map((c) => [c.name, channelObject(c)])),
    operations: Object.fromEntries(operations.map((o) => [o.id, operationObject(o)])),
    components: {
      schemas: { RecordHeaders: headersSchema() },
      messages: Object.fromEntries([...used].map((topic) => [messageKey(topic), messageObject(topic)])),
    },
  };
}
