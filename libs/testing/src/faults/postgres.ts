import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '../infra';
import {
  makeTempDir,
  removeTempDir,
  spawnOwned,
  userIds,
  waitUntilAnswers,
  type OwnedProcess,
} from './processes';

/** A PostgreSQL cluster of a test's own, to kill and restart (never the machine's shared one). */
export interface PrivatePostgres {
  /** DATABASE_URL of the test database on it. */
  url: string;
  /** URL of the `postgres` maintenance database. */
  adminUrl: string;
  port: number;
  dataDir: string;
  /** kill -9 of the postmaster and every backend, as an OOM kill or a node loss would. */
  kill9(): Promise<void>;
  /** Starts it again on the same data dir and port (crash recovery after a kill9); waits until it answers. */
  restart(): Promise<void>;
  /** Whether its postmaster runs (false after kill9, until restart). */
  running(): boolean;
  /** Stops it and removes its data dir. */
  stop(): Promise<void>;
}

const BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/local/bin', '/usr/lib/postgresql/16/bin', '/usr/bin'];

function binDir(): string {
  const found = [process.env['TIDELINE_PG_BIN'], ...BIN_DIRS].find(
    (dir) => dir && fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'postgres')),
  );
  if (!found)
    throw new Error(
      `no PostgreSQL binaries (initdb, postgres) in ${BIN_DIRS.join(', ')}; set TIDELINE_PG_BIN`,
    );
  return found;
}

async function answers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * initdb into a temp dir and start `postgres` on a free 127.0.0.1 port with trust auth, as the
 * `postgres` user when we are root (PostgreSQL refuses to run as root). TCP only, no socket.
 * fsync is off: the faults injected are process kills, which keep the OS page cache.
 */
export async function startPrivatePostgres({
  database = 'tideline',
  settings = {},
}: { database?: string; settings?: Record<string, string> } = {}): Promise<PrivatePostgres> {
  const bin = binDir();
  const root = makeTempDir('tdl-pg');
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'postgres.log');
  const user = process.getuid?.() === 0 ? userIds('postgres') : undefined;
  fs.mkdirSync(dataDir, { mode: 0o700 });
  if (user) {
    fs.chownSync(root, user.uid, user.gid);
    fs.chownSync(dataDir, user.uid, user.gid);
  }
  const init = spawnSync(
    path.join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { encoding: 'utf8', ...(user ?? {}) },
  );
  if (init.status !== 0) {
    removeTempDir(root);
    throw new Error(`initdb failed: ${(init.stderr || init.stdout).trim()}`);
  }
  const port = await freePort();
  const options = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    fsync: 'off',
    max_connections: '200',
    ...settings,
  };
  const args = [
    '-D',
    dataDir,
    '-p',
    String(port),
    ...Object.entries(options).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let server: OwnedProcess | undefined;

  const start = async () => {
    const started = spawnOwned(path.join(bin, 'postgres'), args, {
      logFile,
      cwd: root,
      ...(user ? { user } : {}),
    });
    server = started;
    await waitUntilAnswers(started, `private PostgreSQL on port ${port}`, () => answers(adminUrl), {
      logFile,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  };

  try {
    await start();
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`CREATE DATABASE "${database}"`).finally(() => client.end());
  } catch (error) {
    await server?.stop(5_000);
    removeTempDir(root);
    throw error;
  }

  return {
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    adminUrl,
    port,
    dataDir,
    running: () => server?.alive() ?? false,
    async kill9() {
      if (!server?.alive()) return;
      server.signal('SIGKILL');
      await server.exited;
    },
    async restart() {
      if (server?.alive()) throw new Error('private PostgreSQL is still running: kill9() or stop it first');
      await start();
    },
    async stop() {
      // Fast shutdown: SIGINT for the postmaster.
      if (server?.alive()) {
        server.signal('SIGINT');
        const timer = setTimeout(() => server?.signal('SIGKILL'), 10_000);
        await server.exited;
        clearTimeout(timer);
      }
      removeTempDir(root);
    },
  };
}
