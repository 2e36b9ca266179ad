import type { FastifyInstance } from 'fastify';
import { checkReadiness, type ReadinessCheck } from './readiness';

type ReadinessChecks = Readonly<Record<string, ReadinessCheck>>;

export interface HealthRoutesOptions {
  /** Named dependency checks for /readyz, or a function that gives them at each request. */
  checks: ReadinessChecks | (() => ReadinessChecks);
  /** How long /readyz waits for each check. Default 2 s. */
  timeoutMs?: number;
}

const readinessChecks = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    properties: { ok: { type: 'boolean' }, error: { type: 'string' } },
    required: ['ok'],
  },
} as const;

const healthzSchema = {
  summary: 'Liveness: the process answers',
  tags: ['health'],
  response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } },
} as const;

const readyzSchema = {
  summary: 'Readiness: every dependency the service needs answers',
  tags: ['health'],
  response: {
    200: {
      type: 'object',
      properties: { status: { type: 'string', enum: ['ready'] }, checks: readinessChecks },
    },
    503: {
      description: 'Not ready: `checks` says which dependency failed and why.',
      type: 'object',
      properties: { status: { type: 'string', enum: ['not-ready'] }, checks: readinessChecks },
    },
  },
} as const;

/** `GET /healthz` (liveness) and `GET /readyz` (readiness: 200 when every check passes, else 503). */
export function registerHealthRoutes(app: FastifyInstance, options: HealthRoutesOptions): void {
  const { checks, timeoutMs = 2000 } = options;
  app.get('/healthz', { schema: healthzSchema, logLevel: 'warn' }, () => ({ status: 'ok' }));

  app.get('/readyz', { schema: readyzSchema, logLevel: 'warn' }, async (request, reply) => {
    const report = await checkReadiness(typeof checks === 'function' ? checks() : checks, timeoutMs);
    if (!report.ready) request.log.warn({ checks: report.checks }, 'not ready');
    return reply
      .code(report.ready ? 200 : 503)
      .send({ status: report.ready ? 'ready' : 'not-ready', checks: report.checks });
  });
}
