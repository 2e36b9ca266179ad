import { randomUUID } from 'node:crypto';
import http from 'node:http';

/** One order as the driver sent it, and how it ended. */
export interface DrivenOrder {
  /** Its Idempotency-Key: every attempt of this order carries the same one. */
  key: string;
  attempts: number;
  /** Set once order-api answered 202. */
  acknowledged?: { orderId: string; eventId: string; replayed: boolean };
  /** Why the driver gave up (a 4xx, or out of attempts / time); unset if acknowledged. */
  failure?: string;
  /** ms from the first attempt to the 202. */
  latencyMs?: number;
}

export interface LoadReport {
  orders: DrivenOrder[];
  acknowledged: DrivenOrder[];
  failed: DrivenOrder[];
  /** Attempts after the first, over all orders. */
  retries: number;
  /** What made an attempt fail, counted: `http-503`, `timeout`, `ECONNRESET`, … */
  errors: Record<string, number>;
  durationMs: number;
  /** Orders that started later than the schedule said (the in-flight cap was reached). */
  late: number;
  latency: { p50: number; p99: number; max: number };
}

export interface LoadOptions {
  /** order-api's base URL. */
  url: string;
  /** Orders started per second, on a fixed schedule whatever the answers (open loop). */
  rate: number;
  count: number;
  /** No new order is started after this (the report says how many were). */
  maxDurationMs: number;
  /** The request body of order `i`. */
  body: (i: number) => unknown;
  headers?: Record<string, string>;
  /** Per attempt. */
  requestTimeoutMs?: number;
  /** Per order: attempts and time before it gives up. */
  maxAttempts?: number;
  giveUpAfterMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** At most this many orders in flight (sockets are capped at `sockets`). */
  maxInFlight?: number;
  sockets?: number;
  /** Called after every attempt that failed (for a test's progress log). */
  onRetry?: (order: DrivenOrder, reason: string) => void;
}

type Attempt =
  | { kind: 'ack'; orderId: string; eventId: string; replayed: boolean }
  | { kind: 'retry'; reason: string; afterMs?: number }
  | { kind: 'fail'; reason: string };

const RETRYABLE_STATUS = new Set([409, 429, 500, 502, 503, 504]);

function post(
  agent: http.Agent,
  url: URL,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Attempt> {
  return new Promise((resolve) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error: NodeJS.ErrnoException) =>
          resolve({ kind: 'retry', reason: error.code ?? error.message }),
        );
        response.on('end', () => {
          clearTimeout(timer);
          const status = response.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString();
          if (status === 202) {
            const parsed = JSON.parse(text) as { orderId: string; eventId: string };
            resolve({
              kind: 'ack',
              orderId: parsed.orderId,
              eventId: parsed.eventId,
              replayed: response.headers['idempotent-replayed'] === 'true',
            });
          } else if (RETRYABLE_STATUS.has(status)) {
            const after = Number(response.headers['retry-after']);
            resolve({
              kind: 'retry',
              reason: `http-${status}`,
              ...(after > 0 ? { afterMs: after * 1000 } : {}),
            });
          } else {
            resolve({ kind: 'fail', reason: `http-${status}: ${text.slice(0, 200)}` });
          }
        });
      },
    );
    // The client's own deadline: it no longer knows whether the order was taken, so it retries on the key.
    const timer = setTimeout(() => {
      request.destroy(Object.assign(new Error('timeout'), { code: 'timeout' }));
    }, timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ kind: 'retry', reason: error.code ?? error.message });
    });
    request.end(body);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * Places orders through order-api the way a careful API client does: each order has its own
 * Idempotency-Key, and after a 503 (or 409 in flight, 429, 5xx), a timeout or a broken
 * connection it sends the SAME request with the SAME key again, with exponential backoff and
 * jitter (or the server's Retry-After), a bounded number of times. Orders start on a fixed
 * schedule (open loop), so a slow or faulty system sees the load a real one would.
 */
export async function driveOrders(options: LoadOptions): Promise<LoadReport> {
  const {
    rate,
    count,
    maxDurationMs,
    requestTimeoutMs = 10_000,
    maxAttempts = 40,
    giveUpAfterMs = 180_000,
    backoff = { baseMs: 100, maxMs: 5_000 },
    maxInFlight = 1_000,
    sockets = 64,
  } = options;
  const url = new URL('/orders', options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const orders: DrivenOrder[] = [];
  const errors: Record<string, number> = {};
  let retries = 0;
  let late = 0;
  let inFlight = 0;
  const done: Promise<void>[] = [];
  const waiters: (() => void)[] = [];

  const run = async (i: number) => {
    const order: DrivenOrder = { key: `load-${randomUUID()}`, attempts: 0 };
    orders.push(order);
    const body = JSON.stringify(options.body(i));
    const started = Date.now();
    for (;;) {
      order.attempts += 1;
      const attempt = await post(
        agent,
        url,
        body,
        { ...options.headers, 'idempotency-key': order.key },
        requestTimeoutMs,
      );
      if (attempt.kind === 'ack') {
        order.acknowledged = {
          orderId: attempt.orderId,
          eventId: attempt.eventId,
          replayed: attempt.replayed,
        };
        order.latencyMs = Date.now() - started;
        return;
      }
      errors[attempt.reason.split(':')[0]!] = (errors[attempt.reason.split(':')[0]!] ?? 0) + 1;
      if (attempt.kind === 'fail') {
        order.failure = attempt.reason;
        return;
      }
      options.onRetry?.(order, attempt.reason);
      if (order.attempts >= maxAttempts || Date.now() - started > giveUpAfterMs) {
        order.failure = `gave up after ${order.attempts} attempts (last: ${attempt.reason})`;
        return;
      }
      retries += 1;
      const exponential = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (order.attempts - 1));
      await sleep(attempt.afterMs ?? exponential * (0.5 + Math.random() / 2));
    }
  };

  const start = Date.now();
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    if (due - start > maxDurationMs) break;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    while (inFlight >= maxInFlight) await new Promise<void>((resolve) => waiters.push(resolve));
    if (Date.now() - due > 1000) late += 1;
    inFlight += 1;
    done.push(
      run(i).finally(() => {
        inFlight -= 1;
        waiters.shift()?.();
      }),
    );
  }
  await Promise.all(done);
  agent.destroy();
  const acknowledged = orders.filter((o) => o.acknowledged);
  const latencies = acknowledged.map((o) => o.latencyMs ?? 0).sort((a, b) => a - b);
  return {
    orders,
    acknowledged,
    failed: orders.filter((o) => !o.acknowledged),
    retries,
    errors,
    durationMs: Date.now() - start,
    late,
    latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
  };
}
