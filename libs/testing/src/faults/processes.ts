import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// What a fault test starts (brokers, PostgreSQL, the registry) must not outlive it, even when
// the test fails or jest's worker exits without running afterAll: every process group and temp
// dir is remembered here and removed on 'exit' (synchronously, which is all 'exit' allows).
const groups = new Set<number>();
const dirs = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const pid of groups) killGroup(pid, 'SIGKILL');
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** A temp dir removed at process exit unless `removeTempDir` removed it first. */
export function makeTempDir(prefix: string): string {
  hookExit();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  dirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** uid and gid of a local user (to run PostgreSQL, which refuses root, as `postgres`). */
export function userIds(name: string): { uid: number; gid: number } {
  const id = (flag: string) => {
    const result = spawnSync('id', [flag, name], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`no local user "${name}": ${result.stderr.trim()}`);
    return Number(result.stdout.trim());
  };
  return { uid: id('-u'), gid: id('-g') };
}

/** A process started in its own process group, with its output appended to a log file. */
export interface OwnedProcess {
  pid: number;
  exited: Promise<number | null>;
  alive(): boolean;
  /** Signals the whole process group (a kill -9 takes every child process with it). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `deadlineMs`; resolves when it exited. */
  stop(deadlineMs?: number): Promise<void>;
}

export function spawnOwned(
  command: string,
  args: string[],
  {
    logFile,
    cwd,
    env,
    user,
  }: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv; user?: { uid: number; gid: number } },
): OwnedProcess {
  hookExit();
  const out = fs.openSync(logFile, 'a');
  fs.writeSync(out, `\n==== ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, {
    cwd,
    env: env ?? process.env,
    detached: true,
    stdio: ['ignore', out, out],
    ...(user ?? {}),
  });
  fs.closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  groups.add(pid);
  let running = true;
  // The child is unref'd (it never keeps this process alive by itself), but once signalled its
  // exit is awaited: hold the event loop open until then, or a caller with nothing else pending
  // (a benchmark at its end) would exit before the 'exit' event and never finish its cleanup.
  let holding: NodeJS.Timeout | undefined;
  const hold = () => {
    if (running) holding ??= setInterval(() => undefined, 1_000);
  };
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running = false;
      if (holding !== undefined) clearInterval(holding);
      // The leader is gone; what else ran in its group goes with it.
      killGroup(pid, 'SIGKILL');
      groups.delete(pid);
      resolve(code);
    }),
  );
  child.unref();
  return {
    pid,
    exited,
    alive: () => running,
    signal: (sig) => {
      if (sig === 'SIGKILL' || sig === 'SIGTERM' || sig === 'SIGINT') hold();
      killGroup(pid, sig);
    },
    async stop(deadlineMs = 20_000) {
      if (!running) return;
      hold();
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), deadlineMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last `lines` lines of a log file, for an error message. */
export function tailOf(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `probe` until it returns true; fails at once with the log's tail when the process
 * exits first, or after `timeoutMs`.
 */
export async function waitUntilAnswers(
  owned: OwnedProcess,
  description: string,
  probe: () => Promise<boolean>,
  { logFile, timeoutMs, intervalMs = 300 }: { logFile: string; timeoutMs: number; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (!owned.alive())
      throw new Error(
        `${description}: the process exited; last lines of ${logFile}:\n${tailOf(logFile, 200)}`,
      );
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `${description}: no answer within ${timeoutMs} ms (${(lastError as Error | undefined)?.message ?? 'not ready'}); last lines of ${logFile}:\n${tailOf(logFile)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
