import type { TopicDescriptor } from '@tideline/contracts';
import { MessagingError } from './errors';

/** One difference between a local Avro record schema and the registered one, by field path (`lines[].sku`). */
export type FieldChange =
  | { kind: 'added'; path: string; type: string; default?: unknown }
  | { kind: 'removed'; path: string; type: string; default?: unknown }
  | { kind: 'type'; path: string; from: string; to: string }
  | { kind: 'default'; path: string; from?: unknown; to?: unknown }
  | { kind: 'doc'; path: string; from?: string; to?: string };

export interface SchemaDiff {
  topic: string;
  subject: string;
  /** `new-subject`: nothing registered yet. */
  status: 'unchanged' | 'changed' | 'new-subject';
  latestId?: number;
  latestVersion?: number;
  changes: FieldChange[];
}

type Schema = unknown;
interface Field {
  name: string;
  type: Schema;
  doc?: string;
  default?: unknown;
}
interface Node {
  type?: unknown;
  name?: string;
  namespace?: string;
  doc?: string;
  fields?: Field[];
  items?: Schema;
  values?: Schema;
}

const isNode = (schema: Schema): schema is Node =>
  typeof schema === 'object' && schema !== null && !Array.isArray(schema);

/** The schema without docs (and with defaults kept), to compare types. */
function shape(schema: Schema): Schema {
  if (Array.isArray(schema)) return schema.map(shape);
  if (!isNode(schema)) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'doc') continue;
    copy[key] =
      key === 'fields'
        ? (value as Field[]).map(({ doc: _doc, ...field }) => ({ ...field, type: shape(field.type) }))
        : shape(value);
  }
  return copy;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A short rendering of a type: `string`, `["null","string"]`, `array<OrderLine>`, `record OrderLine`. Pure. */
export function renderType(schema: Schema): string {
  if (typeof schema === 'string') return schema.split('.').pop()!;
  if (Array.isArray(schema)) return `[${schema.map(renderType).join(',')}]`;
  if (!isNode(schema)) return JSON.stringify(schema);
  switch (schema.type) {
    case 'record':
    case 'enum':
    case 'fixed':
      return `${schema.type} ${schema.name?.split('.').pop() ?? ''}`;
    case 'array':
      return `array<${renderType(schema.items)}>`;
    case 'map':
      return `map<${renderType(schema.values)}>`;
    default: {
      const logical = (schema as { logicalType?: string }).logicalType;
      return `${renderType(schema.type)}${logical ? ` (${logical})` : ''}`;
    }
  }
}

const nameOf = (schema: Schema): string | undefined =>
  isNode(schema) && typeof schema.name === 'string' ? schema.name.split('.').pop() : undefined;

function diffType(path: string, registered: Schema, local: Schema, changes: FieldChange[]): void {
  if (same(shape(registered), shape(local))) {
    // Types equal but nested docs may differ.
    if (isNode(registered) && isNode(local) && registered.type === 'record')
      diffRecord(`${path}.`, registered, local, changes);
    return;
  }
  if (isNode(registered) && isNode(local)) {
    if (registered.type === 'record' && local.type === 'record' && nameOf(registered) === nameOf(local))
      return diffRecord(`${path}.`, registered, local, changes);
    if (registered.type === 'array' && local.type === 'array')
      return diffType(`${path}[]`, registered.items, local.items, changes);
    if (registered.type === 'map' && local.type === 'map')
      return diffType(`${path}{}`, registered.values, local.values, changes);
  }
  if (Array.isArray(registered) && Array.isArray(local) && registered.length === local.length) {
    const branches = registered.map((branch, i) => [branch, local[i]] as const);
    if (
      branches.every(
        ([a, b]) => same(shape(a), shape(b)) || (nameOf(a) !== undefined && nameOf(a) === nameOf(b)),
      )
    ) {
      for (const [a, b] of branches) diffType(path, a, b, changes);
      return;
    }
  }
  changes.push({ kind: 'type', path, from: renderType(registered), to: renderType(local) });
}

function diffRecord(prefix: string, registered: Node, local: Node, changes: FieldChange[]): void {
  const before = new Map((registered.fields ?? []).map((f) => [f.name, f]));
  const after = new Map((local.fields ?? []).map((f) => [f.name, f]));
  const withDefault = (field: Field) => ('default' in field ? { default: field.default } : {});
  for (const field of local.fields ?? []) {
    const path = `${prefix}${field.name}`;
    const old = before.get(field.name);
    if (!old) {
      changes.push({ kind: 'added', path, type: renderType(field.type), ...withDefault(field) });
      continue;
    }
    diffType(path, old.type, field.type, changes);
    if (!same(old.default, field.default) || 'default' in old !== 'default' in field)
      changes.push({
        kind: 'default',
        path,
        ...('default' in old ? { from: old.default } : {}),
        ...('default' in field ? { to: field.default } : {}),
      });
    if (old.doc !== field.doc)
      changes.push({
        kind: 'doc',
        path,
        ...(old.doc === undefined ? {} : { from: old.doc }),
        ...(field.doc === undefined ? {} : { to: field.doc }),
      });
  }
  for (const field of registered.fields ?? []) {
    if (!after.has(field.name))
      changes.push({
        kind: 'removed',
        path: `${prefix}${field.name}`,
        type: renderType(field.type),
        ...withDefault(field),
      });
  }
}

/** The field-by-field differences from the `registered` record schema to the `local` one. Pure. */
export function schemaFieldChanges(registered: unknown, local: unknown): FieldChange[] {
  const changes: FieldChange[] = [];
  if (isNode(registered) && isNode(local) && registered.type === 'record' && local.type === 'record') {
    diffRecord('', registered, local, changes);
    if (registered.doc !== local.doc)
      changes.push({
        kind: 'doc',
        path: '(record)',
        ...(registered.doc === undefined ? {} : { from: String(registered.doc) }),
        ...(local.doc === undefined ? {} : { to: String(local.doc) }),
      });
  } else if (!same(registered, local)) {
    changes.push({ kind: 'type', path: '(value)', from: renderType(registered), to: renderType(local) });
  }
  return changes;
}

/**
 * Each topic's local value schema against the latest version registered under its subject, field by field.
 *
 * @throws MessagingError TDL_MSG_REGISTRY_UNAVAILABLE, TDL_MSG_REGISTRY_REJECTED.
 */
export async function diffSchemas(
  registryUrl: string,
  topics: readonly TopicDescriptor<unknown>[],
): Promise<SchemaDiff[]> {
  const diffs: SchemaDiff[] = [];
  for (const topic of topics) {
    let response: Response;
    try {
      response = await fetch(
        `${registryUrl}/subjects/${encodeURIComponent(topic.valueSubject)}/versions/latest`,
        {
          headers: { accept: 'application/vnd.schemaregistry.v1+json' },
          signal: AbortSignal.timeout(10_000),
        },
      );
    } catch (error) {
      throw new MessagingError(
        'TDL_MSG_REGISTRY_UNAVAILABLE',
        `the schema registry at ${registryUrl} did not answer: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (response.status === 404) {
      diffs.push({ topic: topic.name, subject: topic.valueSubject, status: 'new-subject', changes: [] });
      continue;
    }
    if (!response.ok) {
      throw new MessagingError(
        'TDL_MSG_REGISTRY_REJECTED',
        `reading the latest ${topic.valueSubject} failed: ${response.status} ${await response.text()}`,
      );
    }
    const latest = (await response.json()) as { id: number; version: number; schema: string };
    const changes = schemaFieldChanges(JSON.parse(latest.schema), topic.valueSchema);
    diffs.push({
      topic: topic.name,
      subject: topic.valueSubject,
      status: changes.length === 0 ? 'unchanged' : 'changed',
      latestId: latest.id,
      latestVersion: latest.version,
      changes,
    });
  }
  return diffs;
}
