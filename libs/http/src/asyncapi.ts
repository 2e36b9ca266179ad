import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';

export const YAML_CONTENT_TYPE = 'application/yaml';

const asyncApiSchema = {
  summary: "The service's AsyncAPI 3 document: the Kafka topics it produces and consumes",
  description:
    'JSON by default; YAML with `?format=yaml` or an `Accept` header naming `application/yaml` (or `text/yaml`).',
  tags: ['contract'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { format: { type: 'string', enum: ['json', 'yaml'] } },
  },
} as const;

const wantsYaml = (format: string | undefined, accept: string | undefined): boolean =>
  format === 'yaml' || (format === undefined && /\b(application|text)\/(x-)?yaml\b/i.test(accept ?? ''));

/** `GET /asyncapi`: serves `document` as JSON, or YAML (`?format=yaml`, `Accept: application/yaml`). */
export function registerAsyncApiRoute(app: FastifyInstance, document: object): void {
  const json = JSON.stringify(document);
  const yaml = stringify(document);
  app.get<{ Querystring: { format?: 'json' | 'yaml' } }>(
    '/asyncapi',
    { schema: asyncApiSchema },
    (request, reply) =>
      wantsYaml(request.query.format, request.headers.accept)
        ? reply.type(`${YAML_CONTENT_TYPE}; charset=utf-8`).send(yaml)
        : reply.type('application/json; charset=utf-8').send(json),
  );
}
