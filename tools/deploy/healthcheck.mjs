#!/usr/bin/env node
// Container healthcheck for the Tideline images (the slim Node image has no curl or wget).
// Installed as /usr/local/bin/tideline-healthcheck by every service Dockerfile.
//
//   tideline-healthcheck [path]     GET http://127.0.0.1:$PORT<path> (default /healthz)
//
// Exits 0 on a 2xx answer within HEALTHCHECK_TIMEOUT_MS (default 3000), else 1 with one line
// saying why (Docker keeps it in `docker inspect`'s health log).
const path = process.argv[2] ?? '/healthz';
const port = process.env.PORT ?? '';
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? 3000);

function fail(reason) {
  process.stdout.write(`unhealthy: ${reason}\n`);
  process.exit(1);
}

if (!/^\d{1,5}$/.test(port)) fail(`PORT is "${port}", not a TCP port`);
if (!path.startsWith('/')) fail(`the path "${path}" does not start with /`);
const url = `http://127.0.0.1:${port}${path}`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await response.text();
  if (!response.ok) fail(`${url} answered ${response.status}: ${body.slice(0, 300)}`);
  process.stdout.write(`healthy: ${url} answered ${response.status}\n`);
} catch (error) {
  fail(`${url}: ${error.cause?.code ?? error.message}`);
}
