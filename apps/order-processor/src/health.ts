import Fastify, { type FastifyInstance } from 'fastify';
import type { Readiness } from './processor';

/** /healthz (the process answers) and /readyz (catalog caught up, group joined). */
export function buildHealthServer(readiness: () => Readiness): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', (_request, reply) => {
    const state = readiness();
    return reply
      .code(state.ready ? 200 : 503)
      .send({ status: state.ready ? 'ready' : 'not ready', ...state });
  });
  return app;
}
