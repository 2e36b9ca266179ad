import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface HttpRequest {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string as it is (set its content type). */
  payload?: unknown;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | undefined>;
  body: string;
  json<T = unknown>(): T;
}

/** Listens on a free loopback port; returns the base URL. */
export async function listenOnFreePort(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** One real HTTP request (fastify's inject needs light-my-request, whose cookie@2 is ESM that jest cannot load). */
export async function httpRequest(baseUrl: string, request: HttpRequest): Promise<HttpResponse> {
  const headers = { ...request.headers };
  let body: string | undefined;
  if (typeof request.payload === 'string') body = request.payload;
  else if (request.payload !== undefined) {
    body = JSON.stringify(request.payload);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${request.url}`, {
    method: request.method ?? 'GET',
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return {
    statusCode: response.status,
    headers: Object.fromEntries(response.headers),
    body: text,
    json: <T>() => JSON.parse(text) as T,
  };
}
