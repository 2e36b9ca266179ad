import { problem, sendProblem } from '@tideline/http';
import { isMessagingError, type LateOutcome } from '@tideline/messaging';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { requestHash, type ClaimTicket, type CommandIntent, type IdempotencyStore } from './idempotency';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';

/** Problem types of Idempotency-Key refusals and of an unknown outcome (the generic ones are @tideline/http's problemTypes). */
export const idempotencyProblemTypes = {
  mismatch: 'urn:tideline:problem:idempotency-key-reused',
  inFlight: 'urn:tideline:problem:idempotency-key-in-flight',
  outcomeUnknown: 'urn:tideline:problem:outcome-unknown',
} as const;

/** What a command answers once its event is in the log. */
export interface Accepted {
  status: 202;
  body: Record<string, unknown>;
}

/** A write command: one event, whose ids (the intent) `accept` fixes before it runs. */
export interface Command {
  /** The id of what a new command is about: minted (a new order) or taken from the path. */
  subject(): string;
  /** Publishes the event with exactly the intent's ids and time; resolves once Kafka acknowledged it. */
  publish(intent: CommandIntent, onLateOutcome: (outcome: LateOutcome) => void): Promise<unknown>;
  /** The 202 for the event. */
  accepted(intent: CommandIntent): Accepted;
}

export interface AcceptDeps {
  store: IdempotencyStore;
  now: () => Date;
}

/**
 * Kafka was handed the record but did not acknowledge it: it may be in the log. A connect
 * failure, a record never sent or a broker's refusal wrote nothing, and say so (`sent`).
 */
export function outcomeUnknown(error: unknown): boolean {
  return (
    (isMessagingError(error, 'TDL_MSG_PUBLISH_TIMEOUT') ||
      isMessagingError(error, 'TDL_MSG_KAFKA_UNAVAILABLE')) &&
    error.details['sent'] === true
  );
}

/**
 * Runs a write command at most once per Idempotency-Key (the state machine is
 * {@link IdempotencyStore}'s). The first request claims the key with the ids of its event; a
 * retry with the same request replays the stored response, or, while the outcome of an
 * earlier attempt is unknown, publishes the SAME event again (same ids, same payload) and
 * answers with the same ids: a copy in the log is one event to every consumer. A different
 * request under the key is refused (422), and so is a retry while an attempt runs (409).
 */
export async function accept(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: AcceptDeps,
  command: Command,
): Promise<FastifyReply> {
  const fresh: CommandIntent = {
    subjectId: command.subject(),
    eventId: uuidv7(),
    correlationId: request.id,
    at: deps.now().getTime(),
  };
  const header = request.headers[IDEMPOTENCY_HEADER];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined) {
    try {
      await command.publish(fresh, (late) => logLate(request, fresh, late));
    } catch (error) {
      if (outcomeUnknown(error)) return sendOutcomeUnknown(request, reply, error, fresh, false);
      throw error;
    }
    const accepted = command.accepted(fresh);
    return reply.code(accepted.status).send(accepted.body);
  }

  const scope = `${request.principal} ${request.method} ${request.routeOptions.url ?? request.url}`;
  const hash = requestHash({ params: request.params, body: request.body });
  const claim = await deps.store.claim(scope, key, hash, fresh);
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

  const { ticket, intent, resumed } = claim;
  const accepted = command.accepted(intent);
  const fields = { idempotencyKey: key, eventId: intent.eventId };
  if (resumed)
    request.log.info(fields, 'publishing the event of an earlier attempt again: its outcome is unknown');
  try {
    await command.publish(intent, (late) => {
      logLate(request, intent, late);
      if (late.acknowledged) void complete(request, deps.store, ticket, accepted);
    });
  } catch (error) {
    // An earlier attempt may have written the event: the key keeps its ids whatever this one did.
    const unknown = outcomeUnknown(error) || (resumed && isMessagingError(error) && error.retryable);
    const giveUp = unknown ? deps.store.markUncertain(ticket) : deps.store.release(ticket);
    await giveUp.catch((storeError: unknown) => {
      request.log.error(
        { err: storeError, ...fields },
        unknown
          ? 'could not mark the idempotency key uncertain; a retry takes it over when its lease ends'
          : 'could not release the idempotency key; it stays blocked until its lease ends',
      );
    });
    if (unknown) return sendOutcomeUnknown(request, reply, error, intent, true);
    throw error;
  }
  // The event is in the log whatever happens next: answer 202 even if storing the response fails.
  await complete(request, deps.store, ticket, accepted);
  return reply.code(accepted.status).send(accepted.body);
}

async function complete(
  request: FastifyRequest,
  store: IdempotencyStore,
  ticket: ClaimTicket,
  accepted: Accepted,
): Promise<void> {
  await store.complete(ticket, { status: accepted.status, body: accepted.body }).catch((error: unknown) => {
    request.log.error(
      { err: error, idempotencyKey: ticket.key, eventId: ticket.eventId },
      'published, but could not store the response for replays; a retry publishes the same event again',
    );
  });
}

function logLate(request: FastifyRequest, intent: CommandIntent, late: LateOutcome): void {
  if (late.acknowledged)
    request.log.info(
      { eventId: intent.eventId, subjectId: intent.subjectId, ...late.position },
      'Kafka acknowledged, late, an event whose publish had timed out',
    );
  else
    request.log.warn(
      { eventId: intent.eventId, subjectId: intent.subjectId, err: late.error },
      'the late outcome of a timed-out publish is a failure too; the event may or may not be in the log',
    );
}

function sendOutcomeUnknown(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  intent: CommandIntent,
  keyed: boolean,
): FastifyReply {
  request.log.warn(
    { err: error, eventId: intent.eventId, subjectId: intent.subjectId, keyed },
    'publish outcome unknown',
  );
  const what = `event ${intent.eventId} (for ${intent.subjectId})`;
  return sendProblem(
    reply,
    {
      ...problem(request, {
        type: idempotencyProblemTypes.outcomeUnknown,
        title: 'Outcome unknown',
        status: 503,
        detail: keyed
          ? `Kafka did not acknowledge ${what} in time; it may or may not have been written. Retry with the same Idempotency-Key and the same body: the retry publishes this same event again and answers 202 with these ids, and consumers treat both copies as one event.`
          : `Kafka did not acknowledge ${what} in time; it may or may not have been written. A retry without an Idempotency-Key is a new command; send an Idempotency-Key to retry safely.`,
      }),
      code: isMessagingError(error) ? error.code : 'TDL_MSG_PUBLISH_TIMEOUT',
    },
    { retryAfterSeconds: 1 },
  );
}
