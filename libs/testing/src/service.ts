import { spawn, type ChildProcess } from 'node:child_process';
import { eventually } from './poll';

const OUTPUT_CAP = 64 * 1024;

/** A service running as a real OS process (`node --import tsx <entry>`), for end-to-end tests. */
export interface ServiceProcess {
  name: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** What it wrote to stdout and stderr (the last 64 KiB). */
  output(): string;
  /** Sends `signal` and waits for the exit (SIGKILL after `deadlineMs`). */
  stop(signal?: NodeJS.Signals, deadlineMs?: number): Promise<number | null>;
}

/**
 * Starts `entry` (a service's src/main.ts) from the TypeScript sources and waits until
 * GET `readyPath` answers 200 (fails with the service's output when it does not, or exits).
 */
export async function startService(
  name: string,
  entry: string,
  {
    env,
    port,
    readyPath = '/readyz',
    timeoutMs = 60_000,
    onSpawn,
  }: {
    env: Record<string, string>;
    port: number;
    readyPath?: string | null;
    timeoutMs?: number;
    /** Called with the child as soon as it is spawned (before it is ready), e.g. to stop it on Ctrl-C. */
    onSpawn?: (child: ChildProcess) => void;
  },
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--conditions=@tideline/source', '--import', 'tsx', entry], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onSpawn?.(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 2 * OUTPUT_CAP) output = output.slice(-OUTPUT_CAP);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    name,
    port,
    url,
    child,
    exited,
    output: () => output.slice(-OUTPUT_CAP),
    async stop(signal = 'SIGTERM', deadlineMs = 20_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  if (readyPath !== null) {
    try {
      await eventually(
        `${name} to answer ${readyPath}`,
        async () => {
          if (exitCode !== undefined) throw new Error(`${name} exited with ${exitCode}`);
          const response = await fetch(`${url}${readyPath}`, { signal: AbortSignal.timeout(2_000) }).catch(
            () => undefined,
          );
          return response?.status === 200 ? true : undefined;
        },
        { timeoutMs, intervalMs: 200 },
      );
    } catch (error) {
      await service.stop('SIGKILL');
      throw new Error(`${(error as Error).message}\n--- ${name} output ---\n${output.slice(-4000)}`);
    }
  }
  return service;
}
