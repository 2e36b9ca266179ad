import { createHash } from 'node:crypto';

/** A stored first response, replayed for a retried request with the same key and body. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

/**
 * The identity of the one event a keyed command publishes, fixed when its key is first
 * claimed and kept with the claim: every attempt under the key publishes exactly this event.
 */
export interface CommandIntent {
  /** What the event is about: a minted order id, or the id in the path. */
  subjectId: string;
  eventId: string;
  /** The first request's correlation id. */
  correlationId: string;
  /** The event's time in ms since the epoch (its payload timestamp and record timestamp). */
  at: number;
}

/** The attempt that holds a key while it runs; only its holder releases it or marks it uncertain. */
export interface ClaimTicket {
  scope: string;
  key: string;
  token: string;
  /** The event of the key: a late acknowledgement of any attempt completes the key. */
  eventId: string;
}

export type ClaimResult =
  /** Run now with `intent`; `resumed`: an earlier attempt may have written the event already. */
  | { kind: 'claimed'; ticket: ClaimTicket; intent: CommandIntent; resumed: boolean }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'in-flight' }
  | { kind: 'mismatch' };

/**
 * Idempotency keys, one state machine per (scope, key):
 *
 * - none → `pending`: the first request claims the key with a fresh intent (the ids of its
 *   event) and publishes it;
 * - `pending` → `completed`: Kafka acknowledged; the response replays until the TTL ends;
 * - `pending` → none (`release`): the event was certainly not written; a retry starts afresh;
 * - `pending` → `uncertain` (`markUncertain`): the outcome is unknown; the intent stays;
 * - `uncertain`, or `pending` past its lease (its holder died) → `pending` again: a retry with
 *   the same request takes over the SAME intent and publishes the same event again;
 * - `uncertain` → `completed`: a late acknowledgement of any attempt.
 *
 * A different request under a key that has not expired is a mismatch. Keys are scoped (route
 * and caller), so two callers never see each other's responses.
 */
export interface IdempotencyStore {
  /** Claims the key with `intent`, or takes an earlier attempt's intent over, or refuses. */
  claim(scope: string, key: string, requestHash: string, intent: CommandIntent): Promise<ClaimResult>;
  /** Stores the response; from now on the key replays it until it expires. */
  complete(ticket: ClaimTicket, response: StoredResponse): Promise<void>;
  /** Gives the key up after a failure that certainly wrote nothing, so a retry runs afresh. */
  release(ticket: ClaimTicket): Promise<void>;
  /** The outcome is unknown: keep the intent, and let a retry take it over at once. */
  markUncertain(ticket: ClaimTicket): Promise<void>;
}

/** The store could not be reached: the request cannot be deduplicated, so it is refused (retryable). */
export class IdempotencyStoreError extends Error {
  readonly code = 'TDL_API_IDEMPOTENCY_UNAVAILABLE';
  readonly retryable = true;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'IdempotencyStoreError';
  }
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/** SHA-256 of the request's meaning: key order and whitespace do not change it. */
export function requestHash(value: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)) ?? 'undefined')
    .digest('hex');
}
