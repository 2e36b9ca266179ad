// tools/deploy/healthcheck.mjs, the images' HEALTHCHECK command, against a real local HTTP server.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const script = path.join(__dirname, '..', 'healthcheck.mjs');

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: out.trim() }));
  });
}

describe('tideline-healthcheck', () => {
  let server: http.Server;
  let port: string;
  beforeAll(async () => {
    server = http.createServer((request, response) => {
      if (request.url === '/healthz') response.writeHead(200).end('{"status":"ok"}');
      else if (request.url === '/readyz') response.writeHead(503).end('{"status":"not-ready"}');
      else if (request.url !== '/slow') response.writeHead(404).end();
      // /slow never answers; afterAll closes the connection.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = String((server.address() as AddressInfo).port);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('exits 0 when the path answers 2xx (default /healthz)', async () => {
    expect(await run([], { PORT: port })).toEqual({
      code: 0,
      out: `healthy: http://127.0.0.1:${port}/healthz answered 200`,
    });
  });

  it('exits 1 on a 503, with the body', async () => {
    expect(await run(['/readyz'], { PORT: port })).toEqual({
      code: 1,
      out: `unhealthy: http://127.0.0.1:${port}/readyz answered 503: {"status":"not-ready"}`,
    });
  });

  it('exits 1 when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = String((closed.address() as AddressInfo).port);
    await new Promise((resolve) => closed.close(resolve));
    expect(await run([], { PORT: free })).toEqual({
      code: 1,
      out: `unhealthy: http://127.0.0.1:${free}/healthz: ECONNREFUSED`,
    });
  });

  it('exits 1 when the answer takes longer than HEALTHCHECK_TIMEOUT_MS', async () => {
    const result = await run(['/slow'], { PORT: port, HEALTHCHECK_TIMEOUT_MS: '200' });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^unhealthy: .*\/slow: .*(timeout|aborted)/i);
  });

  it('exits 1 without a usable PORT', async () => {
    expect(await run([], {})).toEqual({ code: 1, out: 'unhealthy: PORT is "", not a TCP port' });
  });
});
