import type { ServerResponse } from 'node:http';
import type { ControlMessage, Sink, StreamEvent } from './hub';
import { clientConnected, clientDisconnected } from './instrumentation';

export interface SseOptions {
  /** What the browser waits before reconnecting (the SSE `retry:` field). Default 1 s. */
  retryMs?: number;
  /** A comment line this often keeps proxies from closing an idle stream. Default 15 s. */
  heartbeatMs?: number;
  /** Extra response headers (e.g. the correlation id). */
  headers?: Record<string, string>;
}

/** Turns one JSON value into `data:` lines (JSON has no raw newlines, so it is one line). */
const field = (name: string, value: string): string => `${name}: ${value}\n`;

/**
 * Starts a `text/event-stream` response and returns it as a hub sink. Changes carry their id
 * (the browser sends it back as Last-Event-ID when it reconnects); control messages carry
 * none, so they never move the resume point.
 */
export function openSse(
  response: ServerResponse,
  options: SseOptions = {},
): Sink & { closed: Promise<void> } {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...options.headers,
  });
  response.write(field('retry', String(options.retryMs ?? 1_000)) + '\n');
  const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), options.heartbeatMs ?? 15_000);
  clientConnected('sse');
  const closed = new Promise<void>((resolve) => {
    response.once('close', () => {
      clearInterval(heartbeat);
      clientDisconnected('sse');
      resolve();
    });
  });
  return {
    transport: 'sse',
    closed,
    buffered: () => response.writableLength,
    send(event: StreamEvent) {
      response.write(
        field('id', String(event.id)) +
          field('event', event.event) +
          field('data', JSON.stringify(event.data)) +
          '\n',
      );
    },
    control(message: ControlMessage) {
      // A skip ahead moves the resume point: EventSource reconnects after it, not before.
      const id =
        message.type === 'reset' && message.reason === 'too-far-behind'
          ? field('id', String(message.lastEventId))
          : '';
      response.write(id + field('event', message.type) + field('data', JSON.stringify(message)) + '\n');
    },
    close() {
      clearInterval(heartbeat);
      response.end();
    },
  };
}

/**
 * The resume point of an SSE request: the Last-Event-ID header (sent by a reconnecting
 * EventSource) or, for a first connection, a `lastEventId` query value. Undefined when
 * neither is given; a RangeError when one is not a non-negative integer.
 */
export function resumePoint(
  header: string | string[] | undefined,
  query: string | undefined,
): number | undefined {
  const raw = (Array.isArray(header) ? header[0] : header) ?? query;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw.trim())) throw new RangeError('must be a non-negative integer event id');
  return Number(raw.trim());
}
