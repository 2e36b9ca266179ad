import {
  createHttpApp,
  problemSchema,
  registerHealthRoutes,
  registerOpenApi,
  sendInvalid,
  type FieldError,
} from '@tideline/http';
import { isTransientPgError } from '@tideline/projections';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SalesProjection } from './projection';

export interface SalesAppOptions {
  projection: SalesProjection;
  logger: FastifyBaseLogger;
  /** The clock (tests pass their own). */
  now?: () => number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Longest range of one product's hourly sales (744 hours). */
export const MAX_PRODUCT_RANGE_DAYS = 31;
/** Longest range the top products are summed over. */
export const MAX_TOP_RANGE_DAYS = 366;

/** The same SKUs order-api accepts. */
const SKU_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** ISO 8601 date and time with an offset (`Z` or `±hh:mm`). */
const INSTANT_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$';
const problemResponse = { $ref: 'Problem#' } as const;

const instant = (description: string) => ({ type: 'string', pattern: INSTANT_PATTERN, description }) as const;
const rangeQuery = {
  from: instant(
    'Start of the range, ISO 8601 with an offset (e.g. 2026-11-23T10:00:00Z). Default: `to` minus 24 hours.',
  ),
  to: instant('End of the range (exclusive). Default: `from` plus 24 hours, or now when neither is given.'),
} as const;

const revenueSchema = {
  type: 'object',
  additionalProperties: { type: 'integer' },
  description: 'Revenue per currency (ISO 4217), in minor units.',
} as const;
const salesFields = {
  units: { type: 'integer' },
  orders: { type: 'integer', description: 'Confirmed orders that sold the product' },
  revenueCents: revenueSchema,
} as const;

type Range = { from?: string; to?: string };

/**
 * The range a query asks for: both ends, or one end and 24 hours, or the last 24 hours. Sends a
 * 400 naming the field and resolves undefined when it is not a usable range.
 */
function rangeOf(
  request: FastifyRequest,
  reply: FastifyReply,
  query: Range,
  maxDays: number,
  now: number,
): { from: Date; to: Date } | undefined {
  const problems: FieldError[] = [];
  const parse = (name: 'from' | 'to'): number | undefined => {
    const raw = query[name];
    if (raw === undefined) return undefined;
    const at = Date.parse(raw);
    // Date.parse rolls 2026-02-30 over to March: read the date back to catch it.
    if (Number.isNaN(at) || !sameDate(raw, at)) {
      problems.push({ field: `querystring.${name}`, message: 'is not a valid date and time' });
      return undefined;
    }
    return at;
  };
  let from = parse('from');
  let to = parse('to');
  if (problems.length > 0) {
    sendInvalid(request, reply, problems);
    return undefined;
  }
  if (from === undefined && to === undefined) to = now;
  if (from === undefined) from = to! - DAY_MS;
  if (to === undefined) to = from + DAY_MS;
  if (to <= from) problems.push({ field: 'querystring.to', message: 'must be after from' });
  else if (to - from > maxDays * DAY_MS)
    problems.push({ field: 'querystring.to', message: `must be at most ${maxDays} days after from` });
  if (problems.length > 0) {
    sendInvalid(request, reply, problems);
    return undefined;
  }
  return { from: new Date(from), to: new Date(to) };
}

/** Whether the calendar date written in `raw` is the date `at` falls on in the same offset. */
function sameDate(raw: string, at: number): boolean {
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(raw);
  const shift = offset ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) : 0;
  return new Date(at + shift * 60_000).toISOString().slice(0, 10) === raw.slice(0, 10);
}

/** The query API (OpenAPI at /docs), /stats, /healthz and /readyz. */
export async function buildApp(options: SalesAppOptions): Promise<FastifyInstance> {
  const { projection } = options;
  const now = options.now ?? Date.now;
  const app = createHttpApp({
    logger: options.logger,
    unavailable: (error) =>
      isTransientPgError(error)
        ? { code: 'TDL_PROJ_DATABASE_UNAVAILABLE', detail: 'PostgreSQL did not answer. Retry.' }
        : undefined,
  });
  app.addSchema(problemSchema);
  await registerOpenApi(app, {
    info: {
      title: 'sales-projection',
      version: '0.1.0',
      description:
        'Sales per product per hour, from confirmed orders (in the hour of their confirmation, UTC); cancelled and rejected orders count for nothing. Hours overlapping [from, to) are included.',
    },
  });

  app.get<{ Params: { sku: string }; Querystring: Range }>(
    '/products/:sku/sales',
    {
      schema: {
        summary: "A product's sales per hour",
        description: `Hours without sales are left out. At most ${MAX_PRODUCT_RANGE_DAYS} days per request.`,
        params: {
          type: 'object',
          properties: { sku: { type: 'string', pattern: SKU_PATTERN } },
          required: ['sku'],
        },
        querystring: { type: 'object', additionalProperties: false, properties: rangeQuery },
        response: {
          200: {
            type: 'object',
            properties: {
              sku: { type: 'string' },
              from: { type: 'string' },
              to: { type: 'string' },
              hours: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    hour: { type: 'string', description: 'Start of the hour, UTC' },
                    ...salesFields,
                  },
                },
              },
              total: { type: 'object', properties: salesFields },
            },
          },
          400: problemResponse,
        },
      },
    },
    async (request, reply) => {
      const range = rangeOf(request, reply, request.query, MAX_PRODUCT_RANGE_DAYS, now());
      if (range === undefined) return reply;
      return projection.queries.productSales(request.params.sku, range.from, range.to);
    },
  );

  app.get<{ Querystring: Range & { limit?: string } }>(
    '/sales/top',
    {
      schema: {
        summary: 'The products that sold the most units',
        description: `Most units first, ties by SKU. At most ${MAX_TOP_RANGE_DAYS} days per request.`,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...rangeQuery,
            limit: { type: 'string', pattern: '^(100|[1-9][0-9]?)$', description: '1-100, default 10' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              items: {
                type: 'array',
                items: { type: 'object', properties: { sku: { type: 'string' }, ...salesFields } },
              },
            },
          },
          400: problemResponse,
        },
      },
    },
    async (request, reply) => {
      const range = rangeOf(request, reply, request.query, MAX_TOP_RANGE_DAYS, now());
      if (range === undefined) return reply;
      const limit = Number(request.query.limit ?? 10);
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        items: await projection.queries.topProducts(range.from, range.to, limit),
      };
    },
  );

  app.get(
    '/stats',
    {
      schema: {
        summary: 'Lag per partition (records and seconds), backfill progress, consumer state, table version',
      },
    },
    async () => {
      const backfill = await projection.backfillProgress();
      // The consumer's reading (every 5 s): the same numbers as tideline_consumer_lag_*.
      const lag = projection.consumer.lag() ?? null;
      const version = projection.liveVersion;
      return {
        projection: projection.definition.name,
        schema: projection.definition.schema,
        version: version === undefined ? null : { live: version.version, tables: version.schema },
        topics: projection.definition.topics.map((t) => t.name),
        backfill: backfill ?? null,
        lag,
        consumer: projection.consumer.status(),
      };
    },
  );

  registerHealthRoutes(app, { checks: () => projection.readiness() });
  await app.ready();
  return app;
}
