import { createHash } from 'node:crypto';

/** A stored first response, replayed for a retried request with the same key and body. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

/** The request that holds a key while it runs; only its holder completes or releases it. */
export interface ClaimTicket {
  scope: string;
  key: string;
  token: string;
}

export type ClaimResult =
  | { kind: 'claimed'; ticket: ClaimTicket }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'in-flight' }
  | { kind: 'mismatch' };

/**
 * Idempotency keys: the first request with a key claims it, runs, and stores its response;
 * a retry with the same key and request replays that response. Keys are scoped (route and
 * caller), so two callers never see each other's responses.
 */
export interface IdempotencyStore {
  claim(scope: string, key: string, requestHash: string): Promise<ClaimResult>;
  /** Stores the response; from now on the key replays it until it expires. */
  complete(ticket: ClaimTicket, response: StoredResponse): Promise<void>;
  /** Gives the key up after a failure, so a retry runs again. */
  release(ticket: ClaimTicket): Promise<void>;
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
