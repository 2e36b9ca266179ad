// What a generated service needs to know of its event's Avro schema: a JSON schema for the HTTP
// body a producer accepts, and a sample value for its tests.

type Avro =
  | string
  | { type: unknown; logicalType?: string; fields?: Field[]; items?: unknown; symbols?: string[] }
  | Avro[];
interface Field {
  name: string;
  type: Avro;
}

export interface RecordSchema {
  namespace?: string;
  name: string;
  fields: Field[];
}

function jsonType(type: Avro): unknown {
  if (Array.isArray(type)) return { anyOf: type.map(jsonType) };
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return { type: 'string', minLength: 1 };
      case 'int':
      case 'long':
        return { type: 'integer' };
      case 'float':
      case 'double':
        return { type: 'number' };
      case 'boolean':
        return { type: 'boolean' };
      case 'null':
        return { type: 'null' };
      default:
        return {};
    }
  }
  if (type.type === 'record') return jsonSchemaOf(type as unknown as RecordSchema);
  if (type.type === 'array') return { type: 'array', items: jsonType(type.items as Avro) };
  if (type.type === 'enum') return { type: 'string', enum: type.symbols };
  return jsonType(type.type as Avro);
}

/** The JSON schema of a record's JSON form (strict: every field required, nothing else). */
export function jsonSchemaOf(record: RecordSchema): unknown {
  return {
    type: 'object',
    additionalProperties: false,
    required: record.fields.map((f) => f.name),
    properties: Object.fromEntries(record.fields.map((f) => [f.name, jsonType(f.type)])),
  };
}

function sample(type: Avro, name: string): string {
  if (Array.isArray(type)) return sample(type.find((t) => t !== 'null') ?? 'null', name);
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return `\`${name}-\${run}\``;
      case 'int':
      case 'long':
        return '1';
      case 'float':
      case 'double':
        return '1.5';
      case 'boolean':
        return 'true';
      default:
        return 'null';
    }
  }
  if (type.logicalType?.startsWith('timestamp')) return 'Date.now()';
  if (type.type === 'record') return sampleOf(type as unknown as RecordSchema);
  if (type.type === 'array') return `[${sample(type.items as Avro, name)}]`;
  if (type.type === 'enum') return `'${type.symbols?.[0] ?? ''}'`;
  return sample(type.type as Avro, name);
}

/** A TypeScript expression of a valid value, with strings made of `run` (a variable of the test). */
export function sampleOf(record: RecordSchema): string {
  return `{ ${record.fields.map((f) => `${f.name}: ${sample(f.type, f.name)}`).join(', ')} }`;
}
