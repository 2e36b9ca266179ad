import { problem, sendProblem } from '@tideline/http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestHash, type IdempotencyStore } from './idempotency';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';

/** Problem types of Idempotency-Key refusals (the generic ones are @tideline/http's problemTypes). */
const idempotencyProblemTypes = {
  mismatch: 'urn:tideline:problem:idempotency-key-reused',
  inFlight: 'urn:tideline:problem:idempotency-key-in-flight',
} as const;

/** What a command answers once its event is in the log. */
export interface Accepted {
  status: 202;
  body: Record<string, unknown>;
}

/**
 * Runs a write command at most once per Idempotency-Key: the first request with a key runs
 * it and stores the response; a retry with the same request replays it without running;
 * a different request under the same key is refused (422), and so is a retry while the
 * first is still running (409). A failed command gives its key up, so it can be retried.
 */
export async function accept(
  request: FastifyRequest,
  reply: FastifyReply,
  store: IdempotencyStore,
  run: () => Promise<Accepted>,
): Promise<FastifyReply> {
  const header = request.headers[IDEMPOTENCY_HEADER];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined) {
    const accepted = await run();
    return reply.code(accepted.status).send(accepted.body);
  }

  const scope = `${request.principal} ${request.method} ${request.routeOptions.url ?? request.url}`;
  const hash = requestHash({ params: request.params, body: request.body });
  const claim = await store.claim(scope, key, hash);
  switch (claim.kind) {
    case 'replay':
      request.log.info({ idempotencyKey: key }, 'replaying the stored response');
      // Through the route's response serializer, like the first answer: the same bytes,
      // although jsonb kept the body with its keys reordered.
      return reply.code(claim.response.status).header(REPLAYED_HEADER, 'true').send(claim.response.body);
    case 'mismatch':
      return sendProblem(
        reply,
        problem(request, {
          type: idempotencyProblemTypes.mismatch,
          title: 'Idempotency-Key reused',
          status: 422,
          detail: 'This Idempotency-Key was used with a different request. Use a new key for a new request.',
        }),
      );
    case 'in-flight':
      return sendProblem(
        reply,
        problem(request, {
          type: idempotencyProblemTypes.inFlight,
          title: 'Request in flight',
          status: 409,
          detail: 'A request with this Idempotency-Key is still being processed. Retry after it finished.',
        }),
        { retryAfterSeconds: 1 },
      );
    case 'claimed':
      break;
  }

  let accepted: Accepted;
  try {
    accepted = await run();
  } catch (error) {
    await store.release(claim.ticket).catch((releaseError: unknown) => {
      request.log.error(
        { err: releaseError, idempotencyKey: key },
        'could not release the idempotency key; it stays blocked until its lease ends',
      );
    });
    throw error;
  }
  // The event is in the log whatever happens next: answer 202 even if storing the response fails.
  await store
    .complete(claim.ticket, { status: accepted.status, body: accepted.body })
    .catch((error: unknown) => {
      request.log.error(
        { err: error, idempotencyKey: key },
        'published, but could not store the response for replays; a retry answers 409 until the lease ends',
      );
    });
  return reply.code(accepted.status).send(accepted.body);
}
