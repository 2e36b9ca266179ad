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

/** Problem types specific to this API; the others are `about:blank` (the status says it all). */
export const problemTypes = {
  validation: 'urn:tideline:problem:validation-failed',
  unavailable: 'urn:tideline:problem:dependency-unavailable',
  idempotencyMismatch: 'urn:tideline:problem:idempotency-key-reused',
  idempotencyInFlight: 'urn:tideline:problem:idempotency-key-in-flight',
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

/** Sends a problem as `application/problem+json`; pre-serialized, so no response schema trims it. */
export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
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
