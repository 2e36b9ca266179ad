// The image recipe without Docker: tools/deploy/build-app.mjs (what every Dockerfile's build
// stage runs) builds order-api and the ops CLI into directories outside the repository, and each
// then runs from there alone against the real Kafka, registry and PostgreSQL: the CLI provisions
// the topics and schemas (as the compose init service and the Kubernetes Job do), order-api
// answers /healthz and /readyz and stops cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createTestDatabase,
  eventually,
  freePort,
  runCli,
  testInfra,
  type TestDatabase,
} from '@tideline/testing';
import { repoRoot } from '../src/apps';

const script = path.join(repoRoot, 'tools', 'deploy', 'build-app.mjs');
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-image-'));
const rootManifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

/** Runs the recipe; npm installs from its cache when it can (the workspace's `npm ci` filled it). */
async function buildApp(app: string): Promise<string> {
  const out = path.join(workDir, app);
  const result = await runCli(process.execPath, [script, app, out], {
    cwd: repoRoot,
    env: { npm_config_prefer_offline: 'true' },
    timeoutMs: 240_000,
  });
  if (result.code !== 0)
    throw new Error(`build-app.mjs ${app} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return out;
}

/** Only what a container would have: no inherited NODE_OPTIONS, NODE_PATH or npm settings. */
function containerEnv(extra: Record<string, string>): Record<string, string> {
  const infra = testInfra();
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    NODE_ENV: 'production',
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: infra.registryUrl,
    // The init service and Job set it from the cluster's broker count; the test stack has few.
    TOPIC_REPLICATION: String(infra.topicReplication),
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

let opsDir: string;
let apiDir: string;
beforeAll(async () => {
  opsDir = await buildApp('ops');
  apiDir = await buildApp('order-api');
}, 480_000);

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('the pruned output', () => {
  it.each(['ops', 'order-api'])('of %s holds production dependencies and compiled code only', (app) => {
    const dir = path.join(workDir, app);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies?: unknown;
    };
    expect(manifest.devDependencies).toBeUndefined();
    const devOnly = Object.keys(manifest.dependencies).filter((name) => name in rootManifest.devDependencies);
    expect(devOnly).toEqual([]);
    for (const tool of ['jest', 'typescript', 'nx', 'tsx', 'ts-jest', 'eslint', '@nx/js', 'testcontainers'])
      expect(fs.existsSync(path.join(dir, 'node_modules', tool))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'dist', 'main.js'))).toBe(true);
    for (const module of fs.readdirSync(path.join(dir, 'workspace_modules', '@tideline'))) {
      const files = fs.readdirSync(path.join(dir, 'workspace_modules', '@tideline', module)).sort();
      expect({ module, files }).toEqual({ module, files: ['dist', 'package.json'] });
    }
  });
});

describe('the ops CLI, run from its output', () => {
  const tideline = (args: string[]) =>
    runCli(process.execPath, [path.join(opsDir, 'bin', 'tideline'), ...args], {
      cwd: opsDir,
      env: containerEnv({}),
      timeoutMs: 120_000,
    });

  it('prints its help', async () => {
    const result = await tideline(['--help']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/topics/);
  });

  it('provisions the topics and registers the schemas, as the init service and Job do', async () => {
    const topics = await tideline(['topics', 'apply', '--execute']);
    expect({ code: topics.code, stderr: topics.stderr }).toEqual({ code: 0, stderr: '' });
    const schemas = await tideline(['schemas', 'register', '--execute']);
    expect({ code: schemas.code, stderr: schemas.stderr }).toEqual({ code: 0, stderr: '' });
  }, 120_000);
});

describe('order-api, run from its output', () => {
  let database: TestDatabase;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    database = await createTestDatabase('tdl_image');
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await database.drop();
  });

  it('answers /healthz and /readyz, then stops on SIGTERM with exit code 0', async () => {
    const port = await freePort();
    let output = '';
    const started = spawn(process.execPath, ['dist/main.js'], {
      cwd: apiDir,
      env: containerEnv({
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        SIGNING_KEY_ID: 'image-test',
        SIGNING_KEY: Buffer.alloc(32, 3).toString('base64'),
        AUTH_DISABLED: 'true',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    started.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code)));
    const status = (probe: string) =>
      eventually(
        `order-api from ${apiDir} to answer ${probe} with 200`,
        async () => {
          if (started.exitCode !== null) throw new Error(`order-api exited ${started.exitCode}: ${output}`);
          const response = await fetch(`http://127.0.0.1:${port}${probe}`, {
            signal: AbortSignal.timeout(2000),
          });
          return response.status === 200 ? response.status : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    await expect(status('/healthz')).resolves.toBe(200);
    await expect(status('/readyz')).resolves.toBe(200);
    started.kill('SIGTERM');
    await expect(exited).resolves.toBe(0);
  }, 120_000);
});
