// Real loopback sockets, as in app.spec.ts.
import type { AddressInfo } from 'node:net';
import { createHttpApp } from './app';
import { createServiceLogger } from './logger';
import { registerOpenApi } from './openapi';
import { problemSchema } from './problem';

it('serves the routes as OpenAPI 3.1 at /docs/json, shared schemas under their $id, and the UI at /docs', async () => {
  const app = createHttpApp({ logger: createServiceLogger('http-test', 'silent') });
  app.addSchema(problemSchema);
  await registerOpenApi(app, { info: { title: 'test-api', version: '1.2.3', description: 'For a test.' } });
  app.get(
    '/things/:id',
    {
      schema: {
        summary: 'One thing',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: {
          200: { type: 'object', properties: { id: { type: 'string' } } },
          404: { $ref: 'Problem#' },
        },
      },
    },
    (request) => request.params,
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const document = (await (await fetch(`${base}/docs/json`)).json()) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, { get: { summary: string } }>;
      components: { schemas: Record<string, unknown> };
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({ title: 'test-api', version: '1.2.3' });
    expect(document.paths['/things/{id}']?.get.summary).toBe('One thing');
    expect(Object.keys(document.components.schemas)).toContain('Problem');
    const ui = await fetch(`${base}/docs`, { redirect: 'manual' });
    expect(ui.status).toBeLessThan(400);
  } finally {
    await app.close();
  }
});
