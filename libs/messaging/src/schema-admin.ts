import type { TopicDescriptor } from '@tideline/contracts';
import type avro from 'avsc';
import { httpStatus, type RegistryCodec } from './codec';
import { MessagingError } from './errors';

export type SchemaCheckStatus = 'unchanged' | 'new-subject' | 'compatible' | 'incompatible';

export interface SchemaCheck {
  topic: string;
  subject: string;
  status: SchemaCheckStatus;
  /** Registry id of the latest registered version, when the subject exists. */
  latestId?: number;
  /** Why a schema is incompatible, naming the field. */
  reasons: string[];
}

/**
 * Why `reader` cannot read data written with `writer` (BACKWARD compatibility), e.g.
 * `no matching field for default-less dev.tideline.orders.OrderPlaced.channel`.
 */
export function backwardProblems(reader: avro.Type, writer: avro.Type): string[] {
  try {
    reader.createResolver(writer);
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

async function registryVerdict(registryUrl: string, topic: TopicDescriptor<unknown>): Promise<boolean> {
  // @kafkajs/confluent-schema-registry has no call for the compatibility endpoint.
  const response = await fetch(
    `${registryUrl}/compatibility/subjects/${encodeURIComponent(topic.valueSubject)}/versions/latest`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(topic.valueSchema) }),
      signal: AbortSignal.timeout(10_000),
    },
  );
  if (!response.ok) {
    throw new MessagingError(
      'TDL_MSG_REGISTRY_REJECTED',
      `compatibility check for ${topic.valueSubject} failed: ${response.status} ${await response.text()}`,
    );
  }
  const body = (await response.json()) as { is_compatible?: boolean };
  return body.is_compatible === true;
}

function unavailable(error: unknown, registryUrl: string): MessagingError {
  if (error instanceof MessagingError) return error;
  return new MessagingError(
    'TDL_MSG_REGISTRY_UNAVAILABLE',
    `the schema registry at ${registryUrl} did not answer: ${(error as Error).message}`,
    {
      cause: error,
    },
  );
}

/** Compares each topic's local schema with the latest version registered under its subject. */
export async function checkSchemas(
  codec: RegistryCodec,
  registryUrl: string,
  topics: readonly TopicDescriptor<unknown>[],
): Promise<SchemaCheck[]> {
  const checks: SchemaCheck[] = [];
  for (const topic of topics) {
    let latestId: number;
    try {
      latestId = await codec.registry.getLatestSchemaId(topic.valueSubject);
    } catch (error) {
      if (httpStatus(error) === 404) {
        checks.push({ topic: topic.name, subject: topic.valueSubject, status: 'new-subject', reasons: [] });
        continue;
      }
      throw unavailable(error, registryUrl);
    }
    try {
      const latest = (await codec.registry.getSchema(latestId)) as unknown as avro.Type;
      if (latest.equals(topic.valueType)) {
        checks.push({
          topic: topic.name,
          subject: topic.valueSubject,
          status: 'unchanged',
          latestId,
          reasons: [],
        });
        continue;
      }
      const reasons = backwardProblems(topic.valueType, latest);
      const registryAccepts = await registryVerdict(registryUrl, topic);
      if (!registryAccepts && reasons.length === 0)
        reasons.push('the registry reports the schema as incompatible with the latest version');
      checks.push({
        topic: topic.name,
        subject: topic.valueSubject,
        status: reasons.length === 0 && registryAccepts ? 'compatible' : 'incompatible',
        latestId,
        reasons,
      });
    } catch (error) {
      throw unavailable(error, registryUrl);
    }
  }
  return checks;
}

export interface SchemaRegistration {
  topic: string;
  subject: string;
  id: number;
}

/** Registers every topic's value schema; idempotent (an unchanged schema keeps its id). */
export async function registerSchemas(
  codec: RegistryCodec,
  topics: readonly TopicDescriptor<unknown>[],
): Promise<SchemaRegistration[]> {
  const registered: SchemaRegistration[] = [];
  for (const topic of topics) {
    registered.push({ topic: topic.name, subject: topic.valueSubject, id: await codec.register(topic) });
  }
  return registered;
}
