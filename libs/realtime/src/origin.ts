import type { IncomingHttpHeaders } from 'node:http';

/**
 * Which browser pages may open a live stream (SSE or WebSocket). A request without an `Origin`
 * header (curl, another service, a native client) is not a browser page acting for someone
 * else and is always let through; one with an `Origin` is let through when that origin is the
 * service's own (its host equals the request's `Host`, whatever the scheme a proxy terminated)
 * or is in `allowed`. `*` in `allowed` lets every origin through.
 */
export interface OriginPolicy {
  /** Exact origins (`https://app.example.com`, `http://localhost:5173`), or `*`. */
  readonly allowed: readonly string[];
}

/** Why a request's Origin is refused, or undefined when it may open a stream. */
export function refusedOrigin(headers: IncomingHttpHeaders, policy: OriginPolicy): string | undefined {
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  if (policy.allowed.includes('*') || policy.allowed.includes(origin)) return undefined;
  let host: string | undefined;
  try {
    const url = new URL(origin);
    host = url.origin === origin ? url.host : undefined;
  } catch {
    host = undefined;
  }
  if (host !== undefined && headers.host !== undefined && host === headers.host.toLowerCase())
    return undefined;
  return `origin ${JSON.stringify(origin)} is not this service's and not in its allowed origins`;
}

/**
 * Parses an allowlist as a configuration variable writes it: comma-separated origins
 * (`scheme://host[:port]`, no path) or `*`, in the form browsers send (lower-case host, no
 * default port). Throws naming the first entry that is not one.
 */
export function parseAllowedOrigins(raw: string): string[] {
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      if (entry === '*') return entry;
      let origin: string | undefined;
      try {
        origin = new URL(entry).origin;
      } catch {
        origin = undefined;
      }
      if (origin === undefined || origin === 'null' || origin.toLowerCase() !== entry.toLowerCase())
        throw new Error(
          `"${entry}" is not an origin such as https://app.example.com (scheme, host, optional port; no path)`,
        );
      return origin;
    });
}
