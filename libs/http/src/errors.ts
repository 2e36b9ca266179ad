import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { fieldErrors, problem, problemTypes, sendProblem, type FieldError } from './problem';

/** What a service says about an unavailable dependency: the error code and a detail for the caller. */
export interface DependencyUnavailable {
  code: string;
  detail: string;
}

export interface ErrorHandlerOptions {
  /**
   * Recognises an error of a dependency that can come back (the caller should retry): the
   * handler answers it with 503 and `Retry-After: 1`. Undefined for any other error.
   */
  unavailable?: (error: unknown) => DependencyUnavailable | undefined;
}

export type ErrorHandler = (
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
) => FastifyReply;

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

/**
 * Every error becomes problem details: validation and parsing errors name what was wrong,
 * an unavailable dependency is a retryable 503, and a bug is a 500 that shows no internals.
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorHandler {
  const { unavailable = () => undefined } = options;
  return (error, request, reply) => {
    if (error.validation) {
      return sendInvalid(request, reply, fieldErrors(error.validation, error.validationContext));
    }
    const known = CLIENT_ERRORS[error.code];
    if (known) {
      request.log.info({ code: error.code }, 'request rejected');
      return sendProblem(
        reply,
        problem(request, { title: title(known.status), status: known.status, detail: known.detail(error) }),
      );
    }
    const dependency = unavailable(error);
    if (dependency !== undefined) {
      request.log.warn({ err: error, code: dependency.code }, 'dependency unavailable: answering 503');
      return sendProblem(
        reply,
        problem(request, {
          type: problemTypes.unavailable,
          title: 'Service Unavailable',
          status: 503,
          ...dependency,
        }),
        { retryAfterSeconds: 1 },
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
  };
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

/**
 * A 400 validation problem naming each bad field, for checks a route makes itself (beyond
 * its JSON schema), shaped like the schema's own validation errors.
 */
export function sendInvalid(
  request: FastifyRequest,
  reply: FastifyReply,
  errors: FieldError[],
): FastifyReply {
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
