import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

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
