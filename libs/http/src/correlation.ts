import type { IncomingHttpHeaders } from 'node:http';
import { v7 as uuidv7 } from 'uuid';

export const CORRELATION_HEADER = 'x-correlation-id';

const CORRELATION_ID = /^[A-Za-z0-9._-]{1,128}$/;
// W3C Trace Context: version-traceid-parentid-flags; version ff and all-zero ids are invalid.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The trace id of a valid `traceparent` header, or undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim());
  if (!match) return undefined;
  const [, version, traceId, parentId, , rest] = match;
  if (version === 'ff' || /^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  return traceId;
}

/**
 * The request's correlation id: a valid `X-Correlation-Id`, else the trace id of a valid
 * `traceparent`, else a new UUIDv7. An invalid header is replaced, never echoed.
 */
export function correlationIdFrom(headers: IncomingHttpHeaders): string {
  const given = single(headers[CORRELATION_HEADER])?.trim();
  if (given !== undefined && CORRELATION_ID.test(given)) return given;
  return traceIdOf(single(headers['traceparent'])) ?? uuidv7();
}
