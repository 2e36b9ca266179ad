import type { FastifyReply, FastifyRequest } from 'fastify';

/** One bad input field, named like `items[0].quantity`. */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem details body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  correlationId?: string;
  code?: string;
  errors?: FieldError[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Problem types every service uses; the others are `about:blank` (the status says it all).
 * A service adds its own next to these (`{ ...problemTypes, mine: 'urn:tideline:problem:…' }`).
 */
export const problemTypes = {
  validation: 'urn:tideline:problem:validation-failed',
  unavailable: 'urn:tideline:problem:dependency-unavailable',
} as const;

/** {@link Problem} as a JSON schema: `app.addSchema(problemSchema)`, then `{ $ref: 'Problem#' }` in route schemas. */
export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details (application/problem+json).',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    correlationId: { type: 'string' },
    code: { type: 'string', description: 'Error code of the failed dependency, for 503s.' },
    errors: {
      type: 'array',
      description: 'Each bad field of a 400.',
      items: {
        type: 'object',
        properties: {
          field: { type: 'string', examples: ['items[0].quantity'] },
          message: { type: 'string' },
        },
      },
    },
  },
  required: ['type', 'title', 'status'],
} as const;

export function problem(
  request: FastifyRequest,
  fields: Omit<Problem, 'instance' | 'correlationId' | 'type'> & { type?: string },
): Problem {
  return {
    type: fields.type ?? 'about:blank',
    ...fields,
    instance: request.url,
    correlationId: request.id,
  };
}

/**
 * Sends a problem as `application/problem+json`; pre-serialized, so no response schema trims it.
 * `retryAfterSeconds` adds `Retry-After`: the request may succeed if the client tries it again then.
 */
export function sendProblem(
  reply: FastifyReply,
  body: Problem,
  options: { retryAfterSeconds?: number } = {},
): FastifyReply {
  if (options.retryAfterSeconds !== undefined)
    void reply.header('retry-after', String(options.retryAfterSeconds));
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** What ajv reports for one failed keyword (fastify's FastifySchemaValidationError). */
export interface SchemaIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** `/items/0/quantity` → `items[0].quantity`. */
export function fieldName(instancePath: string, child?: string): string {
  const segments = instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) segments.push(child);
  let name = '';
  for (const segment of segments) {
    if (/^\d+$/.test(segment)) name += `[${segment}]`;
    else name += name === '' ? segment : `.${segment}`;
  }
  return name === '' ? '(body)' : name;
}

function describe(issue: SchemaIssue): FieldError {
  const { keyword, instancePath, params } = issue;
  if (keyword === 'required' && typeof params['missingProperty'] === 'string')
    return { field: fieldName(instancePath, params['missingProperty']), message: 'is required' };
  if (keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string')
    return {
      field: fieldName(instancePath, params['additionalProperty']),
      message: 'is not a known field',
    };
  return { field: fieldName(instancePath), message: issue.message ?? `fails ${keyword}` };
}

/** One entry per bad field (its messages joined), in the order ajv found them. */
export function fieldErrors(issues: readonly SchemaIssue[], context?: string): FieldError[] {
  const byField = new Map<string, string[]>();
  for (const issue of issues) {
    const { field, message } = describe(issue);
    const name = context === undefined || context === 'body' ? field : `${context}.${field}`;
    const messages = byField.get(name) ?? [];
    if (!messages.includes(message)) messages.push(message);
    byField.set(name, messages);
  }
  return [...byField].map(([field, messages]) => ({ field, message: messages.join('; ') }));
}
