// The local stack's command line, against real processes.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli, testInfra, uniqueName } from '@tideline/testing';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const stack = path.join(repoRoot, 'tools', 'local-stack', 'stack.mjs');
const stackHome = path.join(repoRoot, '.stack');
const infra = testInfra();

function listen(): Promise<net.Server> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

describe('stack.mjs refuses bad input with one line and a non-zero exit', () => {
  it('names a port that another process holds, and starts nothing', async () => {
    const holder = await listen();
    const spare = await listen();
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-stack-'));
    try {
      const port = portOf(holder);
      const result = await runCli(process.execPath, [stack, 'up'], {
        env: {
          TIDELINE_STACK_HOME: home,
          TIDELINE_STACK_CACHE: path.join(stackHome, 'cache'),
          TIDELINE_KAFKA_PORT: String(port),
          TIDELINE_KAFKA_CONTROLLER_PORT: String(portOf(spare)),
        },
        timeoutMs: 120_000,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `stack: port ${port} is held by another process, not by this stack; stop it, or point KAFKA_BROKERS at that Kafka and skip stack:up\n`,
      );
      expect(fs.existsSync(path.join(home, 'kafka.pid'))).toBe(false);
    } finally {
      holder.close();
      spare.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('refuses a port variable that is not a port', async () => {
    const result = await runCli(process.execPath, [stack, 'status'], {
      env: { TIDELINE_KAFKA_PORT: 'ninety' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('stack: TIDELINE_KAFKA_PORT=ninety is not a TCP port (1-65535)\n');
  });

  it('refuses an unknown command', async () => {
    const result = await runCli(process.execPath, [stack, 'restart']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('stack: usage: stack.mjs up|down|status|logs (got "restart")\n');
  });
});

// Restarting needs the stack this script runs; against docker compose or testcontainers there is nothing to restart.
const localStackRuns =
  fs.existsSync(path.join(stackHome, 'kafka.pid')) && fs.existsSync(path.join(stackHome, 'registry.pid'));
if (!localStackRuns) {
  process.stderr.write('stack restart test skipped: the tests do not run against `npm run stack:up`\n');
}
(localStackRuns ? describe : describe.skip)('registry state survives stack:down and stack:up', () => {
  it('resolves a schema id registered before the restart', async () => {
    const subject = `test.${uniqueName('restart')}.v1-value`;
    const schema = JSON.stringify({
      type: 'record',
      name: 'Restarted',
      namespace: 'dev.tideline.test',
      fields: [{ name: 'n', type: 'int', doc: 'n' }],
    });
    const registered = await fetch(`${infra.registryUrl}/subjects/${subject}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema }),
    });
    expect(registered.status).toBe(200);
    const { id } = (await registered.json()) as { id: number };

    const down = await runCli(process.execPath, [stack, 'down'], { timeoutMs: 90_000 });
    expect(down.code).toBe(0);
    const status = await runCli(process.execPath, [stack, 'status']);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/^kafka\s+stopped/m);
    expect(status.stdout).toMatch(/^registry\s+stopped/m);

    const up = await runCli(process.execPath, [stack, 'up'], { timeoutMs: 240_000 });
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);

    const resolved = await fetch(`${infra.registryUrl}/schemas/ids/${id}`);
    expect(resolved.status).toBe(200);
    expect(JSON.parse(((await resolved.json()) as { schema: string }).schema)).toEqual(JSON.parse(schema));
    await fetch(`${infra.registryUrl}/subjects/${subject}`, { method: 'DELETE' });
    await fetch(`${infra.registryUrl}/subjects/${subject}?permanent=true`, { method: 'DELETE' });
  }, 360_000);
});
