// tools/demo/traffic.mjs as a real process against a fake order-api that records every request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { runCli } from '@tideline/testing';

const traffic = path.join(__dirname, '..', '..', 'demo', 'traffic.mjs');

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

interface Item {
  sku: string;
  quantity: number;
}

/** A stand-in for order-api: `answer` decides each response (default 202 with ids). */
async function fakeApi(answer?: (request: Received, res: http.ServerResponse) => boolean) {
  const received: Received[] = [];
  const issued = new Set<string>();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const request: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {},
      };
      received.push(request);
      if (answer?.(request, res)) return;
      const orderId = request.url === '/orders' ? randomUUID() : undefined;
      if (orderId) issued.add(orderId);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ orderId, eventId: randomUUID(), correlationId: randomUUID(), status: 'pending' }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    issued,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const env = { TIDELINE_API_KEY: '', API_PORT: '' };

describe('traffic.mjs refuses bad arguments: one line on stderr, exit 2, nothing sent', () => {
  it.each([
    [
      ['--rate', '0'],
      'traffic: --rate must be orders per second, a number above 0 and at most 1000 (got "0")',
    ],
    [
      ['--rate', 'fast'],
      'traffic: --rate must be orders per second, a number above 0 and at most 1000 (got "fast")',
    ],
    [['--count', '2.5'], 'traffic: --count must be a whole number of commands, 1 or more (got "2.5")'],
    [['--count', '-3'], 'traffic: --count must be a whole number of commands, 1 or more (got "-3")'],
    [
      ['--api', 'ftp://example.com'],
      'traffic: --api must be an http(s) URL such as http://127.0.0.1:3000 (got "ftp://example.com")',
    ],
    [
      ['--rate'],
      'traffic: --rate needs a value; usage: traffic.mjs [--rate N] [--count N] [--api URL] [--api-key KEY]',
    ],
    [
      ['--burst', '5'],
      'traffic: unknown argument "--burst"; usage: traffic.mjs [--rate N] [--count N] [--api URL] [--api-key KEY]',
    ],
  ])('%j', async (args, message) => {
    const api = await fakeApi();
    try {
      // A valid --api first, so that only the bad argument can stop it from sending.
      const result = await runCli(process.execPath, [traffic, '--api', api.url, ...args], { env });
      expect(result).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
      expect(api.received).toEqual([]);
    } finally {
      await api.close();
    }
  });
});

describe('traffic.mjs sends a realistic mix', () => {
  it('sets the catalog, then a bounded mix of orders and cancellations; a 503 is retried after Retry-After with the same Idempotency-Key', async () => {
    let refused: Received | undefined;
    const api = await fakeApi((request, res) => {
      if (request.url !== '/orders' || refused) return false;
      refused = request;
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '1' });
      res.end(JSON.stringify({ title: 'Service Unavailable', status: 503 }));
      return true;
    });
    try {
      const result = await runCli(
        process.execPath,
        [
          traffic,
          '--api',
          api.url,
          '--count',
          '200',
          '--rate',
          '1000',
          '--api-key',
          'a-key-of-sixteen-chars',
        ],
        { env, timeoutMs: 30_000 },
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(
        /^demo: sent 200 · accepted 200 · failed 0 · retried 1 \(valid \d+, unknown SKU \d+, inactive \d+, over limit \d+, cancel \d+\)$/,
      );

      const catalog = api.received.filter((r) => r.method === 'PUT');
      expect(catalog.map((r) => r.url)).toEqual(api.received.slice(0, catalog.length).map((r) => r.url));
      expect(catalog.length).toBeGreaterThanOrEqual(5);
      expect(catalog.every((r) => r.body['currency'] === 'EUR' && Number(r.body['priceCents']) > 0)).toBe(
        true,
      );
      expect(catalog.filter((r) => r.body['active'] === false)).toHaveLength(1);
      const prices = new Map(catalog.map((r) => [r.url.split('/').at(-1)!, Number(r.body['priceCents'])]));
      const inactive = catalog
        .find((r) => r.body['active'] === false)!
        .url.split('/')
        .at(-1)!;

      const commands = api.received.slice(catalog.length);
      expect(commands).toHaveLength(201); // 200 and the retry
      expect(commands.every((r) => r.headers.authorization === 'Bearer a-key-of-sixteen-chars')).toBe(true);
      const keys = commands.map((r) => r.headers['idempotency-key']);
      expect(new Set(keys).size).toBe(200);
      const again = commands.filter(
        (r) => r.headers['idempotency-key'] === refused!.headers['idempotency-key'],
      );
      expect(again).toHaveLength(2);
      expect(again[1]!.body).toEqual(refused!.body);

      const orders = commands.filter((r) => r.url === '/orders' && r !== refused);
      const cancels = commands.filter((r) => r.url.endsWith('/cancel'));
      expect(orders.length + cancels.length).toBe(200);
      const items = (r: Received) => r.body['items'] as Item[];
      const total = (r: Received) =>
        items(r).reduce((sum, i) => sum + (prices.get(i.sku) ?? 0) * i.quantity, 0);
      const unknown = orders.filter((r) => items(r).some((i) => !prices.has(i.sku)));
      const withInactive = orders.filter((r) => items(r).some((i) => i.sku === inactive));
      const overLimit = orders.filter((r) => total(r) > 10_000_000);
      const valid = orders.filter(
        (r) => !unknown.includes(r) && !withInactive.includes(r) && !overLimit.includes(r),
      );
      for (const kind of [unknown, withInactive, overLimit, cancels]) expect(kind.length).toBeGreaterThan(0);
      expect(valid.length).toBeGreaterThan(orders.length / 2);
      expect(valid.every((r) => total(r) <= 50_000)).toBe(true);
      expect(
        orders.every((r) => r.body['currency'] === 'EUR' && /\S/.test(String(r.body['customerId']))),
      ).toBe(true);
      expect(new Set(orders.map((r) => r.body['customerId'])).size).toBeGreaterThan(5);
      // Cancellations name orders the API accepted, each once.
      const cancelled = cancels.map((r) => r.url.split('/')[2]!);
      expect(cancelled.every((id) => api.issued.has(id))).toBe(true);
      expect(new Set(cancelled).size).toBe(cancelled.length);
    } finally {
      await api.close();
    }
  });

  it('counts failed requests, keeps going, and exits 1 at the end of a bounded run', async () => {
    let failures = 0;
    const api = await fakeApi((request, res) => {
      if (request.url !== '/orders' || failures >= 2) return false;
      failures += 1;
      if (failures === 1) {
        res.writeHead(500, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ title: 'Internal Server Error', status: 500, detail: 'boom' }));
      } else {
        res.socket?.destroy(); // a dropped connection: retried
      }
      return true;
    });
    try {
      const result = await runCli(
        process.execPath,
        [traffic, '--api', api.url, '--count', '20', '--rate', '200'],
        {
          env,
          timeoutMs: 30_000,
        },
      );
      expect(result.code).toBe(1);
      expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(
        /^demo: sent 20 · accepted 19 · failed 1 · retried 1 .* · last failure: POST \/orders: 500 boom$/,
      );
      expect(api.received.filter((r) => r.method === 'POST')).toHaveLength(21);
    } finally {
      await api.close();
    }
  });

  it('exits 1 with one line when the API refuses the catalog', async () => {
    const api = await fakeApi((_request, res) => {
      res.writeHead(401, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ title: 'Unauthorized', status: 401, detail: 'Missing or unknown API key.' }));
      return true;
    });
    try {
      const result = await runCli(process.execPath, [traffic, '--api', api.url, '--count', '5'], { env });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `traffic: could not set the catalog at ${api.url}: PUT /catalog/products/DEMO-ESPRESSO-250G: 401 Missing or unknown API key.\n`,
      );
      expect(api.received).toHaveLength(1);
    } finally {
      await api.close();
    }
  });
});
