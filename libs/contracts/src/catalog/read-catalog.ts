// Reads and validates schemas/: the topic catalog and the Avro schemas it names.
// Every problem is collected, so one run lists them all.
import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { parse } from 'yaml';

export interface CatalogTopic {
  name: string;
  key: string;
  valueFile: string;
  schema: AvroRecordSchema;
  partitions: number;
  replicationFactor: number;
  minInsyncReplicas: number;
  cleanup: 'delete' | 'compact';
  retentionMs: number | null;
  owner: string;
  consumers: string[];
}

/** A topic's durability: copies of each partition, and how many an `acks=all` write needs. */
export interface Durability {
  replicationFactor: number;
  minInsyncReplicas: number;
}

/**
 * What a catalog without a `defaults` block gets: production durability. A cluster with fewer
 * brokers needs an explicit, visible override (`tideline topics apply --replication N`).
 */
export const PRODUCTION_DURABILITY: Readonly<Durability> = Object.freeze({
  replicationFactor: 3,
  minInsyncReplicas: 2,
});

export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace: string;
  doc?: string;
  fields: AvroField[];
}

export interface AvroField {
  name: string;
  type: unknown;
  doc?: string;
  default?: unknown;
}

export class CatalogError extends Error {
  constructor(readonly problems: string[]) {
    super(`schemas/ has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
    this.name = 'CatalogError';
  }
}

const TOPIC_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*\.[a-z][a-z0-9]*(-[a-z0-9]+)*\.v[1-9][0-9]*$/;
const RETENTION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseRetention(raw: unknown): number | null | undefined {
  if (raw === 'forever') return null;
  if (typeof raw !== 'string') return undefined;
  const match = RETENTION.exec(raw);
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Every named record inside a schema must document every field. */
function checkDocs(schema: unknown, where: string, problems: string[]): void {
  if (Array.isArray(schema)) {
    schema.forEach((branch) => checkDocs(branch, where, problems));
    return;
  }
  if (schema === null || typeof schema !== 'object') return;
  const node = schema as Record<string, unknown>;
  if (node['type'] === 'record') {
    for (const field of (node['fields'] as AvroField[] | undefined) ?? []) {
      if (typeof field.doc !== 'string' || field.doc.trim() === '') {
        problems.push(`${where}: field "${String(node['name'])}.${field.name}" has no doc`);
      }
      checkDocs(field.type, where, problems);
    }
  }
  if (node['type'] === 'array') checkDocs(node['items'], where, problems);
  if (node['type'] === 'map') checkDocs(node['values'], where, problems);
}

const positive = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1;

/**
 * `replication` and `minInsyncReplicas` of `entry` (a topic or the defaults block), each
 * falling back to `fallback`. Kafka requires at most as many in-sync copies as a partition
 * has replicas, so min.insync.replicas above the replication factor promises what Kafka will
 * not enforce: a problem.
 */
function readDurability(
  entry: Record<string, unknown>,
  fallback: Durability,
  where: string,
  problems: string[],
): Durability {
  const { replication = fallback.replicationFactor, minInsyncReplicas = fallback.minInsyncReplicas } = entry;
  const before = problems.length;
  if (!positive(replication)) problems.push(`${where}: replication must be a positive whole number`);
  if (!positive(minInsyncReplicas))
    problems.push(`${where}: minInsyncReplicas must be a positive whole number`);
  if (problems.length > before) return fallback;
  if ((minInsyncReplicas as number) > (replication as number))
    problems.push(
      `${where}: minInsyncReplicas ${String(minInsyncReplicas)} is above replication ${String(replication)}: Kafka would require only ${String(replication)} in-sync copies`,
    );
  return { replicationFactor: replication as number, minInsyncReplicas: minInsyncReplicas as number };
}

export function readCatalog(schemasDir: string): CatalogTopic[] {
  const problems: string[] = [];
  const catalogFile = path.join(schemasDir, 'catalog.yaml');
  const raw = parse(fs.readFileSync(catalogFile, 'utf8')) as { topics?: unknown; defaults?: unknown } | null;
  if (!raw || !Array.isArray(raw.topics)) throw new CatalogError([`${catalogFile}: needs a "topics" list`]);
  if (raw.defaults !== undefined && (raw.defaults === null || typeof raw.defaults !== 'object'))
    throw new CatalogError([`${catalogFile}: defaults must be a mapping (replication, minInsyncReplicas)`]);
  const defaults = readDurability(
    (raw.defaults ?? {}) as Record<string, unknown>,
    PRODUCTION_DURABILITY,
    'catalog.yaml defaults',
    problems,
  );

  const topics: CatalogTopic[] = [];
  const seenNames = new Set<string>();
  const seenEvents = new Map<string, string>();
  raw.topics.forEach((entry: Record<string, unknown>, index: number) => {
    const where = `catalog.yaml topics[${index}]${typeof entry['name'] === 'string' ? ` (${entry['name']})` : ''}`;
    const before = problems.length;
    const name = entry['name'];
    if (typeof name !== 'string' || !TOPIC_NAME.test(name)) {
      problems.push(`${where}: name must look like <domain>.<event-name>.v<major>`);
    } else if (seenNames.has(name)) {
      problems.push(`${where}: topic listed twice`);
    } else seenNames.add(name);
    if (typeof entry['key'] !== 'string' || entry['key'] === '')
      problems.push(`${where}: key must name the entity id`);
    const partitions = entry['partitions'];
    if (!positive(partitions)) problems.push(`${where}: partitions must be a positive whole number`);
    const durability = readDurability(entry, defaults, where, problems);
    const cleanup = entry['cleanup'];
    if (cleanup !== 'delete' && cleanup !== 'compact')
      problems.push(`${where}: cleanup must be delete or compact`);
    let retentionMs: number | null = null;
    if (cleanup === 'delete') {
      const parsed = parseRetention(entry['retention']);
      if (parsed === undefined) problems.push(`${where}: retention must be like 7d, 12h, 30m or forever`);
      else retentionMs = parsed;
    } else if (entry['retention'] !== undefined) {
      problems.push(`${where}: a compacted topic keeps the latest value per key; drop retention`);
    }
    if (typeof entry['owner'] !== 'string' || entry['owner'] === '')
      problems.push(`${where}: owner must name the producing service`);
    const consumers = entry['consumers'];
    if (!Array.isArray(consumers) || consumers.some((c) => typeof c !== 'string' || c === '')) {
      problems.push(`${where}: consumers must be a list of consumer group names`);
    }

    const valueFile = entry['value'];
    let schema: AvroRecordSchema | undefined;
    if (typeof valueFile !== 'string') {
      problems.push(`${where}: value must name an .avsc file`);
    } else {
      const file = path.join(schemasDir, valueFile);
      try {
        schema = JSON.parse(fs.readFileSync(file, 'utf8')) as AvroRecordSchema;
      } catch (error) {
        problems.push(`${where}: cannot read ${valueFile}: ${(error as Error).message}`);
      }
      if (schema) {
        if (
          schema.type !== 'record' ||
          typeof schema.namespace !== 'string' ||
          typeof schema.name !== 'string'
        ) {
          problems.push(`${valueFile}: must be one namespaced record`);
        } else {
          try {
            avro.Type.forSchema(schema as avro.Schema);
          } catch (error) {
            problems.push(`${valueFile}: not a valid Avro schema: ${(error as Error).message}`);
          }
          checkDocs(schema, valueFile, problems);
          const fullName = `${schema.namespace}.${schema.name}`;
          const other = seenEvents.get(fullName);
          if (other !== undefined)
            problems.push(
              `${where}: ${fullName} is already the event type of ${other} (one event type per topic)`,
            );
          else if (typeof name === 'string') seenEvents.set(fullName, name);
        }
      }
    }
    if (problems.length === before && schema) {
      topics.push({
        name: name as string,
        key: entry['key'] as string,
        valueFile: valueFile as string,
        schema,
        partitions: partitions as number,
        ...durability,
        cleanup: cleanup as 'delete' | 'compact',
        retentionMs,
        owner: entry['owner'] as string,
        consumers: consumers as string[],
      });
    }
  });
  if (problems.length > 0) throw new CatalogError(problems);
  return topics;
}
