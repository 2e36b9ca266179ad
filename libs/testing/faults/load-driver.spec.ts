import http from 'node:http';
import type net from 'node:net';
import { driveOrders } from '../src/faults/load-driver';

/**
 * A server that fails each key's first attempts the ways a faulty order-api does (503, a reset
 * connection, no answer) before answering 202, and records every attempt.
 */
async function flakyApi() {
  const attempts = new Map<string, { bodies: string[] }>();
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const key = String(request.headers['idempotency-key']);
      const seen = attempts.get(key) ?? { bodies: [] };
      attempts.set(key, seen);
      seen.bodies.push(body);
      const n = seen.bodies.length;
      if (n === 1) {
        response.writeHead(503, { 'retry-after': '0' }).end('{}');
      } else if (n === 2) {
        request.socket.resetAndDestroy();
      } else if (n === 3) {
        // No answer: the client's timeout.
      } else {
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ orderId: `order-of-${key}`, eventId: `event-of-${key}` }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    attempts,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('driveOrders', () => {
  it('retries the same request with the same key after a 503, a reset and a timeout, and records the 202', async () => {
    const api = await flakyApi();
    try {
      const report = await driveOrders({
        url: api.url,
        rate: 50,
        count: 20,
        maxDurationMs: 10_000,
        body: (i) => ({ customerId: `c-${i}`, items: [{ sku: 's', quantity: 1 }], currency: 'EUR' }),
        requestTimeoutMs: 500,
        backoff: { baseMs: 10, maxMs: 50 },
      });
      expect(report.acknowledged).toHaveLength(20);
      expect(report.failed).toEqual([]);
      expect(report.retries).toBe(60);
      expect(report.errors).toEqual({ 'http-503': 20, ECONNRESET: 20, timeout: 20 });
      expect(api.attempts.size).toBe(20);
      for (const order of report.orders) {
        const bodies = api.attempts.get(order.key)!.bodies;
        expect(bodies).toHaveLength(4);
        expect(new Set(bodies).size).toBe(1);
        expect(order.acknowledged).toEqual({
          orderId: `order-of-${order.key}`,
          eventId: `event-of-${order.key}`,
          replayed: false,
        });
      }
    } finally {
      await api.close();
    }
  });

  it('gives up on a request the API refuses for good, without retrying it', async () => {
    const server = http.createServer((_request, response) => response.writeHead(422).end('{"title":"bad"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const report = await driveOrders({
        url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
        rate: 100,
        count: 3,
        maxDurationMs: 5_000,
        body: () => ({}),
      });
      expect(report.acknowledged).toEqual([]);
      expect(report.retries).toBe(0);
      expect(report.failed.map((o) => o.failure)).toEqual(Array(3).fill('http-422: {"title":"bad"}'));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
