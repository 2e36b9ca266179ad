import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { eventually, freePort } from '@tideline/testing';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
export const mainPath = path.join(repoRoot, 'apps', 'order-api', 'src', 'main.ts');

/** The arguments that run order-api from its TypeScript sources, as in development. */
export const nodeArgs = ['--conditions=@tideline/source', '--import', 'tsx', mainPath];

/** order-api as a real child process on a free port. */
export class AppProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly baseUrl: string,
  ) {
    child.stdout.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts the app and waits until /healthz answers. */
  static async start(env: NodeJS.ProcessEnv): Promise<AppProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, nodeArgs, {
      cwd: repoRoot,
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const app = new AppProcess(child, `http://127.0.0.1:${port}`);
    let exitCode: number | null | undefined;
    void app.exited.then((code) => (exitCode = code));
    await eventually(
      `order-api to answer /healthz on port ${port}`,
      async () => {
        if (exitCode !== undefined)
          throw new Error(`order-api exited with ${exitCode}: ${app.stderr}${app.stdout}`);
        const response = await fetch(`${app.baseUrl}/healthz`);
        return response.ok ? true : undefined;
      },
      { timeoutMs: 30_000 },
    );
    return app;
  }

  /** JSON log lines the app wrote. */
  logLines(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** SIGTERM, then the exit code (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
