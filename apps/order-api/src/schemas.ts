// JSON schemas of the routes: fastify validates requests with them and @fastify/swagger
// publishes them as the OpenAPI document, so the two cannot drift.
import { IDENTIFIER_PATTERN } from '@tideline/contracts';

export const SKU_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
export const CURRENCY_PATTERN = '^[A-Z]{3}$';
const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
// Avro `int` caps quantity; a JS number is exact up to 2^53 for `long` prices.
const MAX_QUANTITY = 1_000_000;
const MAX_PRICE_CENTS = Number.MAX_SAFE_INTEGER;

const sku = {
  type: 'string',
  pattern: SKU_PATTERN,
  description: 'Stock-keeping unit: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.',
  examples: ['SKU-123'],
} as const;

const currency = {
  type: 'string',
  pattern: CURRENCY_PATTERN,
  description: 'ISO 4217 currency code.',
  examples: ['EUR'],
} as const;

const orderId = {
  type: 'string',
  pattern: UUID_PATTERN,
  description: 'The order id (a UUID, as returned by POST /orders).',
} as const;

const eventId = { type: 'string', description: 'Id of the published event (UUIDv7).' } as const;
const correlationId = {
  type: 'string',
  description: 'Correlation id of the request, carried by the event.',
} as const;

/** Headers every write route documents; only Idempotency-Key is constrained. */
export const writeHeaders = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      description:
        'Makes a retry safe: the same key with the same request replays the first response (header Idempotent-Replayed: true) and publishes nothing. After a 503 outcome-unknown, a retry with the same key and body publishes the same event (same order id and event id) again and answers 202 with those ids.',
    },
    'x-correlation-id': {
      type: 'string',
      description:
        'Correlation id to carry (1-128 of A-Z a-z 0-9 . _ -); otherwise the trace id of traceparent, else a new one. Echoed on every response.',
    },
  },
} as const;

// The Problem schema is @tideline/http's problemSchema, which app.ts adds to the instance.
const problemRef = { $ref: 'Problem#' } as const;

const writeProblems = {
  400: { description: 'Invalid request: `errors` names each bad field.', ...problemRef },
  401: { description: 'Missing or unknown API key.', ...problemRef },
  409: { description: 'A request with this Idempotency-Key is still in flight.', ...problemRef },
  413: { description: 'Body larger than BODY_LIMIT_BYTES.', ...problemRef },
  415: { description: 'Body is not application/json.', ...problemRef },
  422: { description: 'Idempotency-Key reused with a different request.', ...problemRef },
  503: {
    description:
      'Retry-After: 1. `type` urn:tideline:problem:dependency-unavailable: Kafka, the registry or PostgreSQL is unavailable and nothing was published; retry. `type` urn:tideline:problem:outcome-unknown: Kafka was handed the event but did not acknowledge it, so it may or may not be in the log (`detail` names its event id and order id). Retry with the same Idempotency-Key and body to get those ids back; the event counts once.',
    ...problemRef,
  },
} as const;

const orderLinks = {
  type: 'object',
  description: "Where to follow the order: the order-projection service's API.",
  properties: { self: { type: 'string' }, stream: { type: 'string' } },
  required: ['self', 'stream'],
} as const;

export const placeOrderSchema = {
  summary: 'Place an order',
  description: 'Publishes OrderPlaced on orders.order-placed.v1. Answers once Kafka acknowledged the event.',
  tags: ['orders'],
  security: [{ bearer: [] }, { apiKey: [] }],
  headers: writeHeaders,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['customerId', 'items', 'currency'],
    properties: {
      customerId: {
        type: 'string',
        pattern: IDENTIFIER_PATTERN,
        description:
          'The customer: 1-100 letters, digits, ".", "_", ":" or "-" (the ids the read side serves).',
        examples: ['customer-1'],
      },
      items: {
        type: 'array',
        minItems: 1,
        maxItems: 100,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['sku', 'quantity'],
          properties: { sku, quantity: { type: 'integer', minimum: 1, maximum: MAX_QUANTITY } },
        },
      },
      currency,
    },
  },
  response: {
    202: {
      description: 'Accepted: OrderPlaced is in the log; the order is pending until order-processor decides.',
      type: 'object',
      properties: {
        orderId: { type: 'string' },
        eventId,
        correlationId,
        status: { type: 'string', enum: ['pending'] },
        links: orderLinks,
      },
      required: ['orderId', 'eventId', 'correlationId', 'status', 'links'],
    },
    ...writeProblems,
  },
} as const;

export const cancelOrderSchema = {
  summary: 'Cancel an order',
  description: 'Publishes OrderCancelled on orders.order-cancelled.v1. The body is optional.',
  tags: ['orders'],
  security: [{ bearer: [] }, { apiKey: [] }],
  headers: writeHeaders,
  params: { type: 'object', properties: { id: orderId }, required: ['id'] },
  body: {
    type: 'object',
    additionalProperties: false,
    properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } },
  },
  response: {
    202: {
      description: 'Accepted: OrderCancelled is in the log.',
      type: 'object',
      properties: {
        orderId: { type: 'string' },
        eventId,
        correlationId,
        status: { type: 'string', enum: ['cancellation-requested'] },
        links: orderLinks,
      },
      required: ['orderId', 'eventId', 'correlationId', 'status', 'links'],
    },
    ...writeProblems,
  },
} as const;

export const putProductSchema = {
  summary: 'Set a product',
  description:
    'Publishes ProductUpdated on the compacted catalog.product-updated.v1 (key: the SKU); the latest record per SKU is the product.',
  tags: ['catalog'],
  security: [{ bearer: [] }, { apiKey: [] }],
  headers: writeHeaders,
  params: { type: 'object', properties: { sku }, required: ['sku'] },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'priceCents', 'currency', 'active'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      priceCents: { type: 'integer', minimum: 0, maximum: MAX_PRICE_CENTS },
      currency,
      active: { type: 'boolean' },
    },
  },
  response: {
    202: {
      description: 'Accepted: ProductUpdated is in the log.',
      type: 'object',
      properties: { sku: { type: 'string' }, eventId, correlationId },
      required: ['sku', 'eventId', 'correlationId'],
    },
    ...writeProblems,
  },
} as const;
