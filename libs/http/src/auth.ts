import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { problem, sendProblem } from './problem';

/** Who made a request, for scoping idempotency keys: a fingerprint of the API key, never the key. */
export type Principal = string;

export const ANONYMOUS: Principal = 'anonymous';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization?.trim();
  if (authorization) {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
    return bearer?.[1];
  }
  const apiKey = headers['x-api-key'];
  const value = (Array.isArray(apiKey) ? apiKey[0] : apiKey)?.trim();
  return value ? value : undefined;
}

/**
 * Checks API keys in constant time: both sides are hashed to the same length and every
 * configured key is compared, so neither the match position nor the key length leaks.
 */
export class ApiKeyVerifier {
  private readonly keys: { digest: Buffer; principal: Principal }[];

  constructor(keys: readonly string[]) {
    this.keys = keys.map((key) => {
      const digest = sha256(key);
      return { digest, principal: `key:${digest.subarray(0, 8).toString('hex')}` };
    });
  }

  /** The principal of a matching key, or undefined. */
  verify(presented: string | undefined): Principal | undefined {
    const digest = sha256(presented ?? '');
    let found: Principal | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(digest, key.digest) && presented !== undefined) found ??= key.principal;
    }
    return found;
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs an API key (when the service has keys configured). */
    auth?: boolean;
  }
  interface FastifyRequest {
    /** Who called: a fingerprint of the API key, or `anonymous`. */
    principal: Principal;
  }
}

export interface ApiKeyAuthOptions {
  /** The keys to accept; none: every route is open. */
  keys: readonly string[];
  /** The realm of the WWW-Authenticate challenge (the service's name). */
  realm: string;
}

/** Why a request is refused: no key (`undefined` presented) or a key that is not valid. */
export interface AuthRefusal {
  status: 401;
  challenge: string;
  detail: string;
}

/**
 * The API-key check every service shares: `Authorization: Bearer <key>` or `X-API-Key`,
 * verified in constant time. `check` gives the principal, or the 401 to answer.
 */
export class ApiKeyAuth {
  private readonly verifier: ApiKeyVerifier;

  constructor(private readonly options: ApiKeyAuthOptions) {
    this.verifier = new ApiKeyVerifier(options.keys);
  }

  /** Whether keys are configured at all (otherwise every request is anonymous and allowed). */
  get enabled(): boolean {
    return this.options.keys.length > 0;
  }

  check(headers: IncomingHttpHeaders): { principal: Principal } | AuthRefusal {
    if (!this.enabled) return { principal: ANONYMOUS };
    const presented = presentedKey(headers);
    const principal = this.verifier.verify(presented);
    if (principal !== undefined) return { principal };
    const challenge = `Bearer realm="${this.options.realm}"`;
    return presented === undefined
      ? {
          status: 401,
          challenge,
          detail: 'Send an API key as Authorization: Bearer <key> or X-API-Key: <key>.',
        }
      : {
          status: 401,
          challenge: `${challenge}, error="invalid_token"`,
          detail: 'The API key is not valid.',
        };
  }
}

/**
 * Requires a valid key on every route whose config says `auth: true` (when keys are
 * configured): the request gets its `principal`, or a 401 problem with WWW-Authenticate
 * before anything else runs (validation included).
 */
export function registerApiKeyAuth(app: FastifyInstance, auth: ApiKeyAuth): void {
  app.decorateRequest('principal', ANONYMOUS);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.config.auth) return;
    const result = auth.check(request.headers);
    if ('principal' in result) {
      request.principal = result.principal;
      return;
    }
    request.log.info(
      { presented: presentedKey(request.headers) !== undefined },
      'request rejected: no valid API key',
    );
    await sendProblem(
      reply.header('www-authenticate', result.challenge),
      problem(request, { title: 'Unauthorized', status: 401, detail: result.detail }),
    );
  });
}
