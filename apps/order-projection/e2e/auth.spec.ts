// order-projection with API_KEYS set, as a real process: every query, stream and /stats needs a
// key (header), health and metrics stay open, and stream bounds count per key.
import { Pool } from 'pg';
import { WebSocket } from 'ws';
import { OrderStack } from './support';

const KEY = 'projection-e2e-key-0123456789';
let stack: OrderStack;

beforeAll(async () => {
  stack = await OrderStack.start({
    processors: 1,
    env: { API_KEYS: `${KEY},second-e2e-key-0123456789`, STREAM_MAX_CONNECTIONS_PER_CLIENT: '2' },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${stack.projection.url}${path}`, { headers, signal: AbortSignal.timeout(10_000) });

/** The status a WebSocket upgrade gets (101 when it opened). */
const upgrade = (headers: Record<string, string>) =>
  new Promise<{ status: number; challenge?: string; socket?: WebSocket }>((resolve, reject) => {
    const socket = new WebSocket(`${stack.projection.url.replace('http', 'ws')}/ws`, { headers });
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_request, response) =>
      resolve({ status: response.statusCode ?? 0, challenge: response.headers['www-authenticate'] }),
    );
    socket.once('error', reject);
  });

it('refuses every query, stream and /stats without a valid key with 401 and a challenge', async () => {
  const customer = `${stack.run}-auth`;
  for (const path of [
    '/orders/some-order',
    `/customers/${customer}/orders`,
    `/customers/${customer}/summary`,
    '/stats',
    '/stream',
    '/orders/some-order/stream',
  ]) {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-key-0123456789abc' },
      { 'x-api-key': 'short' },
    ];
    for (const headers of attempts) {
      const refused = await get(path, headers);
      expect({ path, status: refused.status }).toEqual({ path, status: 401 });
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer realm="order-projection"/);
      expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    }
  }
  expect((await get(`/customers/${customer}/orders`, { authorization: `Bearer ${KEY}` })).status).toBe(200);
  expect((await get('/orders/some-order', { 'x-api-key': KEY })).status).toBe(404);
  expect((await upgrade({})).status).toBe(401);
  expect((await upgrade({ authorization: 'Bearer wrong-key-0123456789abc' })).challenge).toMatch(
    /invalid_token/,
  );
  const opened = await upgrade({ authorization: `Bearer ${KEY}` });
  expect(opened.status).toBe(101);
  opened.socket?.close();
});

it('serves reads on a pool of their own, apart from the connections that apply batches', async () => {
  expect((await get(`/customers/${stack.run}-reads/orders`, { 'x-api-key': KEY })).status).toBe(200);
  const pool = new Pool({ connectionString: stack.databaseUrl, max: 1 });
  try {
    const { rows } = await pool.query<{ application_name: string }>(
      `SELECT DISTINCT application_name FROM pg_stat_activity
       WHERE datname = current_database() AND application_name LIKE 'order-projection%'`,
    );
    expect(rows.map((r) => r.application_name).sort()).toEqual([
      'order-projection',
      'order-projection-reads',
    ]);
  } finally {
    await pool.end();
  }
});

it('keeps health, readiness, metrics and the API description open', async () => {
  for (const path of ['/healthz', '/readyz', '/metrics', '/docs/json'])
    expect((await get(path)).status).toBe(200);
});

it('counts live connections per key: a key past its share gets 429, another key still connects', async () => {
  const open: AbortController[] = [];
  try {
    for (let i = 0; i < 2; i += 1) {
      const controller = new AbortController();
      open.push(controller);
      const response = await fetch(`${stack.projection.url}/stream`, {
        headers: { authorization: `Bearer ${KEY}` },
        signal: controller.signal,
      });
      expect(response.status).toBe(200);
    }
    expect((await get('/stream', { authorization: `Bearer ${KEY}` })).status).toBe(429);
    expect((await upgrade({ authorization: `Bearer ${KEY}` })).status).toBe(429);
    const other = new AbortController();
    open.push(other);
    const response = await fetch(`${stack.projection.url}/stream`, {
      headers: { 'x-api-key': 'second-e2e-key-0123456789' },
      signal: other.signal,
    });
    expect(response.status).toBe(200);
  } finally {
    for (const controller of open) controller.abort();
  }
});
