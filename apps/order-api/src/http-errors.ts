import { STATUS_CODES } from 'node:http';
import { isMessagingError } from '@tideline/messaging';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { IdempotencyStoreError } from './idempotency';
import { fieldErrors, problem, problemTypes, sendProblem } from './problem';

const title = (status: number): string => STATUS_CODES[status] ?? 'Error';

/** Client mistakes fastify reports before a handler runs, as problem details. */
const CLIENT_ERRORS: Record<string, { status: number; detail: (error: FastifyError) => string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, detail: () => 'The body is not valid JSON.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    detail: () => 'The body is empty but the content type is application/json.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    detail: () => 'The body size does not match Content-Length.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, detail: () => 'The body is larger than this API accepts.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    detail: () => 'Send the body as application/json.',
  },
};

/** Dependencies that can come back: the caller should retry (and nothing was published). */
function unavailableCode(error: unknown): string | undefined {
  if (isMessagingError(error) && error.retryable) return error.code;
  if (error instanceof IdempotencyStoreError) return error.code;
  return undefined;
}

/** A publish timeout after the record was handed to the producer: the outcome is unknown (details.sent). */
function mayHaveBeenWritten(error: unknown): boolean {
  return isMessagingError(error, 'TDL_MSG_PUBLISH_TIMEOUT') && error.details['sent'] !== false;
}

/**
 * Every error becomes problem details: validation and parsing errors name what was wrong,
 * an unavailable dependency is a retryable 503, and a bug is a 500 that shows no internals.
 */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.validation) {
    const errors = fieldErrors(error.validation, error.validationContext);
    request.log.info({ errors }, 'request rejected: invalid input');
    return sendProblem(
      reply,
      problem(request, {
        type: problemTypes.validation,
        title: 'Invalid request',
        status: 400,
        detail: `${errors.length} field${errors.length === 1 ? ' is' : 's are'} invalid: ${errors.map((e) => e.field).join(', ')}.`,
        errors,
      }),
    );
  }
  const known = CLIENT_ERRORS[error.code];
  if (known) {
    request.log.info({ code: error.code }, 'request rejected');
    return sendProblem(
      reply,
      problem(request, { title: title(known.status), status: known.status, detail: known.detail(error) }),
    );
  }
  const unavailable = unavailableCode(error);
  if (unavailable !== undefined) {
    request.log.warn({ err: error, code: unavailable }, 'dependency unavailable: answering 503');
    return sendProblem(
      reply.header('retry-after', '1'),
      problem(request, {
        type: problemTypes.unavailable,
        title: 'Service Unavailable',
        status: 503,
        code: unavailable,
        detail: mayHaveBeenWritten(error)
          ? 'Kafka did not acknowledge the event in time; it may or may not have been written. Consumers deduplicate by event id.'
          : 'A dependency (Kafka, the schema registry or PostgreSQL) did not answer; nothing was published. Retry.',
      }),
    );
  }
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    request.log.info({ code: error.code, status }, 'request rejected');
    return sendProblem(reply, problem(request, { title: title(status), status, detail: error.message }));
  }
  request.log.error({ err: error }, 'request failed');
  return sendProblem(
    reply,
    problem(request, {
      title: title(500),
      status: 500,
      detail: 'An unexpected error occurred. Quote the correlation id when you report it.',
    }),
  );
}

export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(
    reply,
    problem(request, {
      title: title(404),
      status: 404,
      detail: `No route ${request.method} ${request.url.split('?')[0]}.`,
    }),
  );
}
