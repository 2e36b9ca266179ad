import path from 'node:path';
import { freePort } from '../infra';
import { makeTempDir, removeTempDir, spawnOwned, waitUntilAnswers, type OwnedProcess } from './processes';
import { runtime, stackPlan } from './stack-runtime';

/** An Apicurio Registry of a test's own (kafkasql storage: its schemas live in the cluster's journal topic). */
export interface PrivateRegistry {
  /** SCHEMA_REGISTRY_URL: the Confluent-compatible API. */
  url: string;
  port: number;
  logFile: string;
  alive(): boolean;
  /** kill -9 of the registry's JVM. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and journal; resolves once it answers (with every schema it had). */
  restart(): Promise<void>;
  /** Kills it and removes its temp dir (the journal topic stays in the cluster). */
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
  return response.ok;
}

/**
 * Starts Apicurio Registry from the local stack's jar cache, the way the stack runs it
 * (tools/local-stack/runtime.cjs registryArgs), against `bootstrap` on a free port. Point it at a
 * private cluster; on a shared cluster give it a `journalTopic` of its own, or it shares the
 * stack registry's schemas. Its consumer groups (Apicurio makes a new one at every start) are then
 * named after that topic, so the test's clean-up deletes them with it.
 */
export async function startPrivateRegistry({
  bootstrap,
  journalTopic,
  timeoutMs = 180_000,
}: {
  bootstrap: string;
  journalTopic?: string;
  timeoutMs?: number;
}): Promise<PrivateRegistry> {
  const plan = stackPlan();
  const root = makeTempDir('tdl-registry');
  const logFile = path.join(root, 'registry.out');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  const args = runtime.registryArgs(plan, {
    port,
    managementPort: await freePort(),
    bootstrap,
    heap: '512m',
    extra: journalTopic
      ? [
          `-Dapicurio.kafkasql.topic=${journalTopic}`,
          `-Dapicurio.kafkasql.consumer.group-prefix=${journalTopic}-`,
        ]
      : [],
  });
  let server: OwnedProcess | undefined;

  const start = async () => {
    const started = spawnOwned(plan.apicurio.java.bin, args, { logFile, cwd: root });
    server = started;
    await waitUntilAnswers(started, `private registry on port ${port}`, () => answers(url), {
      logFile,
      timeoutMs,
      intervalMs: 500,
    });
  };

  try {
    await start();
  } catch (error) {
    server?.signal('SIGKILL');
    await server?.exited;
    removeTempDir(root);
    throw error;
  }

  return {
    url,
    port,
    logFile,
    alive: () => server?.alive() ?? false,
    async kill9() {
      if (!server?.alive()) return;
      server.signal('SIGKILL');
      await server.exited;
    },
    async restart() {
      if (server?.alive()) throw new Error('the private registry is still running: kill9 it first');
      await start();
    },
    async stop() {
      server?.signal('SIGKILL');
      await server?.exited;
      removeTempDir(root);
    },
  };
}
