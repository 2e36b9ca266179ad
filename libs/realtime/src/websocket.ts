import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Hub, SubscriptionRequest } from './hub';
import { isRefusal, type ConnectionLimiter } from './limits';
import { refusedOrigin, type OriginPolicy } from './origin';
import { clientConnected, clientDisconnected } from './instrumentation';

/** What the application makes of a `feed` name: the hub subscription, or why it is not valid. */
export type FeedResolver = (feed: string) => Omit<SubscriptionRequest, 'afterId'> | { error: string };

export interface WebSocketOptions {
  hub: Hub;
  resolve: FeedResolver;
  /** Default `/ws`. */
  path?: string;
  /** Largest client message. Default 16 KiB. */
  maxMessageBytes?: number;
  /** Subscriptions one connection may hold. Default 100. */
  maxSubscriptions?: number;
  /** Ping interval; a client that misses one is closed. Default 30 s. */
  pingIntervalMs?: number;
  /** Browser origins besides the service's own that may connect. Default: none. */
  origins?: OriginPolicy;
  /** Bounds on live connections, shared with the service's SSE routes. Default: none. */
  limiter?: ConnectionLimiter;
  /**
   * Who opens the connection, or the 401 to refuse it with (checked before the upgrade).
   * Default: everyone, counted by remote address.
   */
  authenticate?: (request: IncomingMessage) => { principal: string } | UpgradeRefusal;
  onError?: (error: unknown) => void;
}

/** An upgrade refused for its credentials: the status, its WWW-Authenticate challenge and why. */
export interface UpgradeRefusal {
  status: number;
  challenge: string;
  detail: string;
}

/** Close code for a client dropped for not keeping up (RFC 6455 1013: try again later). */
export const CLOSE_SLOW_CONSUMER = 1013;
/** The close reason of a client that keeps sending requests but does not read the replies. */
export const UNREAD_REPLIES_REASON = 'slow consumer: read the replies before sending more';

type ClientMessage =
  | { type: 'subscribe'; id: string; feed: string; lastEventId?: number }
  | { type: 'unsubscribe'; id: string }
  | { type: 'ping' };

type ServerMessage = Record<string, unknown> & { type: string };

const ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Parses one client message; a string names what is wrong (the field first). */
export function parseClientMessage(text: string): ClientMessage | { field: string; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { field: '(message)', message: 'is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { field: '(message)', message: 'must be a JSON object' };
  const message = value as Record<string, unknown>;
  const type = message['type'];
  if (type === 'ping') return { type };
  if (type !== 'subscribe' && type !== 'unsubscribe')
    return { field: 'type', message: 'must be "subscribe", "unsubscribe" or "ping"' };
  const id = message['id'];
  if (typeof id !== 'string' || !ID.test(id))
    return { field: 'id', message: 'must be 1-64 characters of A-Z a-z 0-9 . _ : -' };
  if (type === 'unsubscribe') return { type, id };
  const feed = message['feed'];
  if (typeof feed !== 'string' || feed.length === 0 || feed.length > 200)
    return { field: 'feed', message: 'must be a feed name such as "order:<id>", "customer:<id>" or "all"' };
  const lastEventId = message['lastEventId'];
  if (lastEventId !== undefined && (!Number.isSafeInteger(lastEventId) || (lastEventId as number) < 0))
    return { field: 'lastEventId', message: 'must be a non-negative integer event id' };
  return lastEventId === undefined
    ? { type, id, feed }
    : { type, id, feed, lastEventId: lastEventId as number };
}

/**
 * Serves the hub's feeds over WebSocket at `path` on `server`. One connection holds many
 * subscriptions (`{"type":"subscribe","id":"s1","feed":"order:<id>","lastEventId":42}`),
 * each receiving `{"type":"change","subscription":"s1","id":…,"event":…,"data":…}`.
 * A bad message gets an `error` reply naming the field, and the connection stays open.
 * A connection that does not keep up gets `dropped` for each subscription and is closed with 1013.
 */
export function attachWebSocket(
  server: Server,
  options: WebSocketOptions,
): { close(): Promise<void>; clients(): number } {
  const path = options.path ?? '/ws';
  // Pings are answered by serve(), under the same bound on unsent bytes as every other reply.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxMessageBytes ?? 16 * 1024,
    autoPong: false,
  });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    const refused = refusedOrigin(request.headers, options.origins ?? { allowed: [] });
    if (refused !== undefined) {
      refuseUpgrade(socket, { status: 403, title: 'Forbidden', detail: refused, instance: url.pathname });
      return;
    }
    const who = options.authenticate?.(request);
    if (who !== undefined && !('principal' in who)) {
      refuseUpgrade(
        socket,
        { status: who.status, title: 'Unauthorized', detail: who.detail, instance: url.pathname },
        undefined,
        { 'www-authenticate': who.challenge },
      );
      return;
    }
    const slot = options.limiter?.acquire(who?.principal ?? request.socket.remoteAddress ?? '', 'websocket');
    if (slot !== undefined && isRefusal(slot)) {
      refuseUpgrade(
        socket,
        { status: slot.status, title: slot.title, detail: slot.detail, instance: url.pathname },
        slot.retryAfterSeconds,
      );
      return;
    }
    socket.once('close', () => slot?.release());
    wss.handleUpgrade(request, socket, head, (ws) => serve(ws, options));
  };
  server.on('upgrade', onUpgrade);
  const alive = new WeakMap<WebSocket, boolean>();
  wss.on('connection', (ws) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
  });
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) ws.terminate();
      else {
        alive.set(ws, false);
        ws.ping();
      }
    }
  }, options.pingIntervalMs ?? 30_000);
  return {
    clients: () => wss.clients.size,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(pinger);
        server.off('upgrade', onUpgrade);
        for (const ws of wss.clients) ws.close(1001, 'server shutting down');
        wss.close(() => resolve());
      }),
  };
}

/** Answers an upgrade request with a problem+json instead of switching protocols. */
function refuseUpgrade(
  socket: Duplex,
  problem: { status: number; title: string; detail: string; instance: string },
  retryAfterSeconds?: number,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ type: 'about:blank', ...problem });
  const extra = Object.entries({
    ...headers,
    ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.title}\r\ncontent-type: application/problem+json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** One subscription of a connection; `active` turns false when it ends, whoever ends it. */
interface Subscription {
  active: boolean;
  /** The hub's unsubscribe, once the subscription has caught up. */
  unsubscribe?: () => void;
}

function serve(ws: WebSocket, options: WebSocketOptions): void {
  const subscriptions = new Map<string, Subscription>();
  clientConnected('websocket');
  ws.once('close', () => clientDisconnected('websocket'));
  // The hub bounds what it pushes (changes, then `dropped` past its limit). Replies to the
  // client's own requests are bounded here by the same limit on unsent bytes: a client that
  // sends (pings, bad messages) and never reads is closed, not buffered for.
  const push = (message: ServerMessage) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  const limit = options.hub.maxBufferedBytes;
  const writable = () => {
    if (ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount <= limit) return true;
    ws.close(CLOSE_SLOW_CONSUMER, UNREAD_REPLIES_REASON);
    return false;
  };
  const reply = (message: ServerMessage) => {
    if (writable()) ws.send(JSON.stringify(message));
  };
  ws.on('ping', (data: Buffer) => {
    if (writable()) ws.pong(data);
  });
  const maxSubscriptions = options.maxSubscriptions ?? 100;
  let dropping = false;
  const end = (id: string, subscription: Subscription) => {
    subscription.active = false;
    subscription.unsubscribe?.();
    // The id may already name a newer subscription.
    if (subscriptions.get(id) === subscription) subscriptions.delete(id);
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      reply({ type: 'error', field: '(message)', message: 'send text frames with JSON' });
      return;
    }
    const parsed = parseClientMessage(
      Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Buffer.concat(data instanceof ArrayBuffer ? [Buffer.from(data)] : data).toString('utf8'),
    );
    if ('field' in parsed) {
      reply({ type: 'error', ...parsed });
      return;
    }
    if (parsed.type === 'ping') {
      reply({ type: 'pong' });
      return;
    }
    const { id } = parsed;
    if (parsed.type === 'unsubscribe') {
      const current = subscriptions.get(id);
      if (current !== undefined) end(id, current);
      reply({ type: 'unsubscribed', id });
      return;
    }
    if (subscriptions.has(id)) {
      reply({ type: 'error', id, field: 'id', message: 'is already a subscription of this connection' });
      return;
    }
    if (subscriptions.size >= maxSubscriptions) {
      reply({
        type: 'error',
        id,
        field: 'id',
        message: `this connection already has ${maxSubscriptions} subscriptions`,
      });
      return;
    }
    const resolved = options.resolve(parsed.feed);
    if ('error' in resolved) {
      reply({ type: 'error', id, field: 'feed', message: resolved.error });
      return;
    }
    // Ended by unsubscribe, by the hub or by the connection closing: it sends nothing more,
    // even while it is still catching up (a later subscription may reuse the id).
    const subscription: Subscription = { active: true };
    subscriptions.set(id, subscription);
    reply({ type: 'subscribed', id, feed: parsed.feed });
    options.hub
      .subscribe(
        {
          transport: 'websocket',
          buffered: () => ws.bufferedAmount,
          send: (event) => {
            if (subscription.active)
              push({ type: 'change', subscription: id, id: event.id, event: event.event, data: event.data });
          },
          control: (message) => {
            if (subscription.active) push({ ...message, subscription: id });
          },
          close: () => {
            end(id, subscription);
            // A dropped subscription means the socket is behind: all of its subscriptions go.
            if (!dropping) {
              dropping = true;
              ws.close(CLOSE_SLOW_CONSUMER, 'slow consumer: resume with lastEventId');
            }
          },
        },
        { ...resolved, afterId: parsed.lastEventId },
      )
      .then((unsubscribe) => {
        if (subscription.active) subscription.unsubscribe = unsubscribe;
        else unsubscribe();
      })
      .catch((error: unknown) => {
        const wasActive = subscription.active;
        end(id, subscription);
        options.onError?.(error);
        if (wasActive) reply({ type: 'error', id, message: 'the feed could not be read; subscribe again' });
      });
  });
  ws.on('close', () => {
    for (const [id, subscription] of [...subscriptions]) end(id, subscription);
  });
  ws.on('error', (error) => options.onError?.(error));
}
