// A private PostgreSQL cluster (kill -9, restart) and a TCP fault proxy (latency, blackhole) for
// the PostgreSQL scenarios. Stand-ins until libs/testing's fault toolkit (branch faults-toolkit)
// provides them: same idea, real processes and sockets only, never the machine's shared server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually, freePort } from '@tideline/testing';
import { Client } from 'pg';

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL binaries under ${root}`);
  return path.join(root, versions[0]!, 'bin');
}

/** PostgreSQL refuses to run as root: run its binaries as the `postgres` user then. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args]];
}

/** A PostgreSQL cluster of its own (initdb in a temp dir, own port): kill -9 and restart it freely. */
export class PrivatePostgres {
  private child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tdl-pg-'));
    if (process.getuid?.() === 0) chownSync(dir, Number(uid('postgres')), Number(gid('postgres')));
    const [cmd, args] = asPostgresUser(path.join(postgresBin(), 'initdb'), [
      '-D',
      dir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    const init = spawnSync(cmd, args, { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    const cluster = new PrivatePostgres(dir, await freePort());
    await cluster.restart();
    return cluster;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts the server on its data directory (crash recovery after a kill) and waits until it answers. */
  async restart(): Promise<void> {
    const [cmd, args] = asPostgresUser(path.join(postgresBin(), 'postgres'), [
      '-D',
      this.dir,
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'max_connections=60',
      '-c',
      'shared_buffers=32MB',
    ]);
    // Its own process group: kill -9 reaches the postmaster and every backend at once.
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
    this.child = child;
    await eventually(
      `private PostgreSQL on port ${this.port} to answer`,
      async () => {
        if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}`);
        const client = new Client({ connectionString: this.url(), connectionTimeoutMillis: 1_000 });
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } catch {
          return undefined;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  /** kill -9 of the postmaster and all its backends; resolves once they are gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid, 'SIGKILL');
    await exited;
    this.child = undefined;
  }

  async createDatabase(name: string): Promise<string> {
    const client = new Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  async destroy(): Promise<void> {
    await this.kill9().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const uid = (user: string) => spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim();
const gid = (user: string) => spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim();

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  cut: boolean;
}

/**
 * A TCP proxy in front of a server: `latency(ms)` delays every chunk, `blackhole()` accepts and
 * never answers (every byte dropped both ways, sockets left open, as with a cut network),
 * `heal()` lets new connections through again (the cut ones stay dead, as after a real cut).
 */
export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private readonly silent = new Set<net.Socket>();
  private blackholed = false;
  private delayMs = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const port = await freePort();
    const holder: { proxy?: TcpProxy } = {};
    const server = net.createServer((client) => holder.proxy!.accept(client, targetPort));
    const proxy = (holder.proxy = new TcpProxy(server, port));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return proxy;
  }

  latency(ms: number): void {
    this.delayMs = ms;
  }

  blackhole(): void {
    this.blackholed = true;
    for (const pair of this.pairs) pair.cut = true;
  }

  heal(): void {
    this.blackholed = false;
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    for (const socket of this.silent) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, targetPort: number): void {
    client.on('error', () => undefined);
    if (this.blackholed) {
      this.silent.add(client);
      client.on('data', () => undefined);
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream, cut: false };
    this.pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => {
        if (pair.cut) return;
        if (this.delayMs === 0) to.write(chunk);
        else setTimeout(() => !pair.cut && to.write(chunk), this.delayMs);
      });
      // A cut connection tells neither side anything, not even that the other one went away.
      from.on('close', () => {
        if (!pair.cut) to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }
}
