import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** The OpenAPI document's fixed parts; the paths come from the route schemas. */
export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  /** More components than the route schemas give, e.g. `securitySchemes`. */
  components?: Record<string, unknown>;
}

/**
 * Serves an OpenAPI 3.1 document built from the route schemas at `/docs/json` and the UI at
 * `/docs`. A shared schema with an `$id` (such as `Problem`) keeps it as its name. Register
 * it before the routes.
 */
export async function registerOpenApi(app: FastifyInstance, document: OpenApiDocument): Promise<void> {
  await app.register(swagger, {
    openapi: { openapi: '3.1.0', ...document } as FastifyDynamicSwaggerOptions['openapi'],
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
