// Real loopback sockets, like app.spec.ts (fastify's inject cannot load under jest).
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { parse } from 'yaml';
import { createHttpApp } from './app';
import { registerAsyncApiRoute } from './asyncapi';
import { createServiceLogger } from './logger';

const document = {
  asyncapi: '3.0.0',
  info: { title: 'test', version: '1.0.0' },
  channels: { 'orders.order-placed.v1': { address: 'orders.order-placed.v1' } },
};

let app: FastifyInstance;
let baseUrl: string;

beforeAll(async () => {
  app = createHttpApp({ logger: createServiceLogger('asyncapi-test', 'silent') });
  registerAsyncApiRoute(app, document);
  await app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(() => app.close());

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${baseUrl}${path}`, { headers, signal: AbortSignal.timeout(10_000) });

describe('GET /asyncapi', () => {
  it('serves the document as JSON by default', async () => {
    const response = await get('/asyncapi');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual(document);
  });

  it.each([
    ['?format=yaml', {}],
    ['', { accept: 'application/yaml' }],
    ['', { accept: 'text/yaml, */*;q=0.1' }],
  ])('serves YAML for %s %j', async (query, headers) => {
    const response = await get(`/asyncapi${query}`, headers);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(parse(await response.text())).toEqual(document);
  });

  it('answers an unknown format with a 400 naming the field', async () => {
    const response = await get('/asyncapi?format=xml');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: unknown[] }).errors).toEqual([
      { field: 'querystring.format', message: expect.stringContaining('allowed values') as unknown },
    ]);
  });
});
