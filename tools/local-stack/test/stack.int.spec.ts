// The local stack's command line, against real processes.
import { spawn } from 'node:child_process';
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

  it.each([['2'], ['three'], ['0'], ['']])('refuses --brokers %p with exit 2', async (value) => {
    const result = await runCli(process.execPath, [stack, 'up', '--brokers', value]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`stack: --brokers takes 1 or 3 (got "${value}")\n`);
    expect(result.stdout).toBe('');
  });

  it('refuses an unknown option of up with exit 2', async () => {
    const result = await runCli(process.execPath, [stack, 'up', '--replicas', '3']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('stack: up takes only --brokers 1|3 (got "--replicas")\n');
  });

  it('refuses to start 3 brokers while its one broker runs, and starts nothing', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-stack-'));
    // A live process standing in for the one-broker stack's Kafka (only its pid file is read).
    const stand = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(home, 'kafka.pid'), String(stand.pid));
      const result = await runCli(process.execPath, [stack, 'up', '--brokers', '3'], {
        env: { TIDELINE_STACK_HOME: home },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('stack: the stack runs 1 broker; run stack:down first to start 3\n');
      expect(fs.readdirSync(home)).toEqual(['kafka.pid']);
    } finally {
      stand.kill('SIGKILL');
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('refuses an unknown command', async () => {
    const result = await runCli(process.execPath, [stack, 'restart']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('stack: usage: stack.mjs up|down|status|logs (got "restart")\n');
  });
});

describe('stack.mjs follows the layout up recorded', () => {
  it('reports, shows the logs of and stops the brokers of a 3-broker stack', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-stack-'));
    // Ports of their own: status must not find the shared stack's 9092 or 8081.
    const env = {
      TIDELINE_STACK_HOME: home,
      TIDELINE_KAFKA_PORT: '1',
      TIDELINE_KAFKA_CONTROLLER_PORT: '2',
      TIDELINE_KAFKA_INTERNAL_PORT: '3',
      TIDELINE_REGISTRY_PORT: '4',
    };
    try {
      fs.writeFileSync(path.join(home, 'stack.json'), JSON.stringify({ brokers: 3 }));
      fs.mkdirSync(path.join(home, 'logs'));
      fs.writeFileSync(path.join(home, 'logs', 'kafka-2.out'), 'second broker says hello\n');
      const status = await runCli(process.execPath, [stack, 'status'], { env });
      expect(status.code).toBe(3);
      expect(status.stdout.split('\n').map((line) => line.split(/\s+/).slice(0, 2).join(' '))).toEqual([
        'kafka-1 stopped',
        'kafka-2 stopped',
        'kafka-3 stopped',
        'registry stopped',
        '',
      ]);
      expect(status.stdout).toMatch(/kafka-3\s+stopped\s+127\.0\.0\.1:21$/m);
      const logs = await runCli(process.execPath, [stack, 'logs', 'kafka-2'], { env });
      expect(logs.code).toBe(0);
      expect(logs.stdout).toBe(
        `==> ${path.join(home, 'logs', 'kafka-2.out')} <==\nsecond broker says hello\n`,
      );
      const unknown = await runCli(process.execPath, [stack, 'logs', 'kafka-4'], { env });
      expect(unknown.stderr).toBe(
        'stack: unknown service "kafka-4"; choose kafka, kafka-1, kafka-2, kafka-3 or registry\n',
      );
      const down = await runCli(process.execPath, [stack, 'down'], { env });
      expect(down.code).toBe(0);
      expect(down.stdout).toBe(
        ['registry', 'kafka-1', 'kafka-2', 'kafka-3'].map((name) => `${name}: not running\n`).join(''),
      );
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
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
