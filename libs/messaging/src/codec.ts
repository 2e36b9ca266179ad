import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { TopicDescriptor } from '@tideline/contracts';
import type avro from 'avsc';
import { MessagingError } from './errors';

const MAGIC_BYTE = 0;
const HEADER_LENGTH = 5;

export interface RegistryCodecOptions {
  /** Base URL of a Confluent-compatible API, e.g. http://127.0.0.1:8081/apis/ccompat/v7 */
  registryUrl: string;
  /**
   * Register a topic's schema on first use (local development). Off by default: in
   * production schemas are registered by `tideline schemas register` and a producer
   * only looks its schema's id up.
   */
  autoRegister?: boolean;
}

/** The Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body. */
export function frame(schemaId: number, body: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  framed.writeUInt8(MAGIC_BYTE, 0);
  framed.writeInt32BE(schemaId, 1);
  body.copy(framed, HEADER_LENGTH);
  return framed;
}

export function unframe(framed: Buffer): { schemaId: number; body: Buffer } {
  if (framed.length < HEADER_LENGTH) {
    throw new MessagingError(
      'TDL_MSG_DECODE_FAILED',
      `record value has ${framed.length} bytes; a framed Avro value has at least ${HEADER_LENGTH}`,
    );
  }
  const magic = framed.readUInt8(0);
  if (magic !== MAGIC_BYTE) {
    throw new MessagingError(
      'TDL_MSG_DECODE_FAILED',
      `record value starts with byte ${magic}, not the Confluent magic byte 0`,
    );
  }
  return { schemaId: framed.readInt32BE(1), body: framed.subarray(HEADER_LENGTH) };
}

export function httpStatus(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'status' in error && typeof error.status === 'number')
    return error.status;
  return undefined;
}

// Node's socket errors and the HTTP client's own timeouts: the registry was not reached.
const UNREACHABLE =
  /\b(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up|Timeout after)\b/i;

/**
 * True when a registry call failed without an answer from the registry. The Confluent client
 * (mappersmith) reports a connection error as a response with status 400 and the socket
 * error as its text ("Error, status 400: connect ECONNREFUSED …"), like a real 400.
 */
export function registryUnreachable(error: unknown): boolean {
  const status = httpStatus(error);
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNREACHABLE.test(code)) return true;
  const message = (error as { message?: unknown } | null)?.message;
  return (status === undefined || status === 400) && typeof message === 'string' && UNREACHABLE.test(message);
}

/** Paths of the fields that make `value` invalid for `type`, e.g. `lines.0.quantity`. */
export function invalidPaths(type: avro.Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path) => paths.push(path.join('.')) });
  return paths;
}

/**
 * Encodes and decodes record values in the Confluent wire format through a schema
 * registry, caching schema ids and writer→reader resolvers.
 */
export class RegistryCodec {
  readonly registry: SchemaRegistry;
  private readonly autoRegister: boolean;
  // Keyed by descriptor, not topic name: two builds of a topic (old and new schema) differ.
  private readonly ids = new WeakMap<TopicDescriptor<unknown>, Promise<number>>();
  // Settled resolvers (null: the writer is the reader), for the synchronous hot path.
  private readonly settled = new WeakMap<TopicDescriptor<unknown>, Map<number, avro.Resolver | null>>();
  private readonly resolvers = new WeakMap<
    TopicDescriptor<unknown>,
    Map<number, Promise<avro.Resolver | undefined>>
  >();

  constructor(options: RegistryCodecOptions) {
    this.registry = new SchemaRegistry({ host: options.registryUrl, retry: { retries: 2 } });
    this.autoRegister = options.autoRegister ?? false;
  }

  /** Registers the topic's value schema (idempotent: an identical schema keeps its id). */
  async register(topic: TopicDescriptor<unknown>): Promise<number> {
    try {
      const { id } = await this.registry.register(
        { type: 'AVRO' as never, schema: JSON.stringify(topic.valueSchema) },
        // The ccompat API answers GET /config/{subject} with the global rule (BACKWARD) once
        // the subject exists, so asking for BACKWARD here matches it; see docs/explanation/schema-registry.md.
        { subject: topic.valueSubject, compatibility: 'BACKWARD' as never },
      );
      this.ids.set(topic, Promise.resolve(id));
      return id;
    } catch (error) {
      throw this.registryError(error, topic, 'register');
    }
  }

  /** The registry id of the topic's current local schema. */
  schemaId(topic: TopicDescriptor<unknown>): Promise<number> {
    let id = this.ids.get(topic);
    if (id === undefined) {
      id = this.lookupId(topic);
      this.ids.set(topic, id);
      id.catch(() => this.ids.delete(topic));
    }
    return id;
  }

  private async lookupId(topic: TopicDescriptor<unknown>): Promise<number> {
    if (this.autoRegister) return this.register(topic);
    try {
      return await this.registry.getRegistryIdBySchema(topic.valueSubject, {
        type: 'AVRO' as never,
        schema: JSON.stringify(topic.valueSchema),
      });
    } catch (error) {
      const status = httpStatus(error) ?? httpStatus((error as { originalError?: unknown }).originalError);
      if (status === 404 || (error as Error).name === 'ConfluentSchemaRegistryError') {
        throw new MessagingError(
          'TDL_MSG_SCHEMA_NOT_REGISTERED',
          `${topic.eventType} is not registered under ${topic.valueSubject}; run \`npm run schemas:register\``,
          { cause: error, details: { subject: topic.valueSubject } },
        );
      }
      throw this.registryError(error, topic, 'look up');
    }
  }

  async encode<Value>(topic: TopicDescriptor<Value>, value: Value): Promise<Buffer> {
    const paths = invalidPaths(topic.valueType, value);
    if (paths.length > 0) {
      throw new MessagingError(
        'TDL_MSG_ENCODE_INVALID',
        `value for ${topic.name} is invalid at ${paths.join(', ')}`,
        {
          details: { fields: paths },
        },
      );
    }
    const id = await this.schemaId(topic);
    return frame(id, topic.valueType.toBuffer(value));
  }

  /** Decodes a framed value into the topic's current (reader) type, whatever compatible schema wrote it. */
  async decode<Value>(topic: TopicDescriptor<Value>, framed: Buffer): Promise<Value> {
    const { schemaId, body } = unframe(framed);
    const resolver = await this.resolver(topic, schemaId);
    return this.read(topic, schemaId, body, resolver);
  }

  /**
   * Decodes without awaiting when the writer schema is already known (every record but the
   * first of each schema id); undefined when it is not, then call `decode`.
   */
  decodeCached<Value>(topic: TopicDescriptor<Value>, framed: Buffer): { value: Value } | undefined {
    const { schemaId, body } = unframe(framed);
    const resolver = this.settled.get(topic)?.get(schemaId);
    if (resolver === undefined) return undefined;
    return { value: this.read(topic, schemaId, body, resolver ?? undefined) };
  }

  private read<Value>(
    topic: TopicDescriptor<Value>,
    schemaId: number,
    body: Buffer,
    resolver: avro.Resolver | undefined,
  ): Value {
    try {
      return topic.valueType.fromBuffer(body, resolver, true) as Value;
    } catch (error) {
      throw new MessagingError(
        'TDL_MSG_DECODE_FAILED',
        `cannot decode ${topic.name} value with schema id ${schemaId}: ${(error as Error).message}`,
        { cause: error, details: { schemaId } },
      );
    }
  }

  private resolver(topic: TopicDescriptor<unknown>, schemaId: number): Promise<avro.Resolver | undefined> {
    let byId = this.resolvers.get(topic);
    if (byId === undefined) {
      byId = new Map();
      this.resolvers.set(topic, byId);
    }
    let resolver = byId.get(schemaId);
    if (resolver === undefined) {
      resolver = this.buildResolver(topic, schemaId);
      byId.set(schemaId, resolver);
      void resolver.then(
        (built) => {
          let settled = this.settled.get(topic);
          if (!settled) this.settled.set(topic, (settled = new Map<number, avro.Resolver | null>()));
          settled.set(schemaId, built ?? null);
        },
        () => undefined,
      );
      resolver.catch(() => byId.delete(schemaId));
    }
    return resolver;
  }

  private async buildResolver(
    topic: TopicDescriptor<unknown>,
    schemaId: number,
  ): Promise<avro.Resolver | undefined> {
    let writer: avro.Type;
    try {
      writer = (await this.registry.getSchema(schemaId)) as unknown as avro.Type;
    } catch (error) {
      if (httpStatus(error) === 404) {
        throw new MessagingError(
          'TDL_MSG_UNKNOWN_SCHEMA_ID',
          `the registry has no schema with id ${schemaId}`,
          {
            cause: error,
            details: { schemaId },
          },
        );
      }
      throw this.registryError(error, topic, `fetch schema ${schemaId} for`);
    }
    if (writer.equals(topic.valueType)) return undefined;
    try {
      return topic.valueType.createResolver(writer);
    } catch (error) {
      throw new MessagingError(
        'TDL_MSG_SCHEMA_MISMATCH',
        `schema id ${schemaId} cannot be read as ${topic.eventType}: ${(error as Error).message}`,
        { cause: error, details: { schemaId } },
      );
    }
  }

  private registryError(error: unknown, topic: TopicDescriptor<unknown>, action: string): MessagingError {
    const status = httpStatus(error);
    const message = (error as Error).message ?? String(error);
    if (registryUnreachable(error)) {
      return new MessagingError(
        'TDL_MSG_REGISTRY_UNAVAILABLE',
        `could not ${action} ${topic.valueSubject}: the schema registry did not answer: ${message}`,
        { cause: error, details: { subject: topic.valueSubject, status } },
      );
    }
    if (status === 409) {
      return new MessagingError(
        'TDL_MSG_SCHEMA_INCOMPATIBLE',
        `the registry refused ${topic.eventType} for ${topic.valueSubject}: ${message}`,
        {
          cause: error,
          details: { subject: topic.valueSubject },
        },
      );
    }
    return new MessagingError(
      status !== undefined && status < 500 ? 'TDL_MSG_REGISTRY_REJECTED' : 'TDL_MSG_REGISTRY_UNAVAILABLE',
      `could not ${action} ${topic.valueSubject} at the schema registry: ${message}`,
      { cause: error, details: { subject: topic.valueSubject, status } },
    );
  }
}
