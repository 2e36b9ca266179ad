// The order services as OS processes for the orders benchmark: the approach of
// apps/order-projection/e2e/support.ts (OrderStack: own signing key, consumer groups started at
// the end of the shared topics, a fresh database), plus what a benchmark needs on top: every
// child is tracked from the moment it is spawned (so Ctrl-C or a failure during start-up still
// stops it), and the groups and their retry/dead-letter topics are deleted
// at the end with the database.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createKafka } from '@tideline/messaging';
import {
  createTestDatabase,
  freePort,
  startService,
  testInfra,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@tideline/testing';
import { provisionOrderStack, provisionTopicsAndSchemas } from '../apps/order-projection/e2e/support';

const root = path.resolve(__dirname, '..');
export const serviceEntry = (app: string) => path.join(root, 'apps', app, 'src', 'main.ts');

/** A process the benchmark started. */
export type BenchProcess = ServiceProcess;

const live = new Set<ChildProcess>();

/** Every child still running (for the report and the exit handler). */
export function liveChildren(): number {
  return live.size;
}

/** Last resort from a `process.on('exit')` handler: SIGKILL every child still running (synchronous). */
export function killChildrenNow(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** SIGTERM to every child still running (also those still starting), SIGKILL after `deadlineMs`. */
export async function stopAllChildren(deadlineMs = 10_000): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** @tideline/testing's startService, with every child tracked from the moment it is spawned. */
export function startProcess(
  name: string,
  entry: string,
  options: { env: Record<string, string>; port: number; readyPath?: string; timeoutMs?: number },
): Promise<BenchProcess> {
  return startService(name, entry, {
    timeoutMs: 90_000,
    ...options,
    onSpawn: (child) => {
      live.add(child);
      child.once('exit', () => live.delete(child));
      child.once('error', () => live.delete(child));
    },
  });
}

/**
 * order-api, N order-processors and order-projection with a signing key, consumer groups and
 * a database of their own. Construct, then `start`; `stop` always cleans up what was created.
 */
export class OrdersStack {
  readonly run = uniqueName('bench-orders');
  readonly processorGroup = `order-processor-${this.run}`;
  readonly projectionGroup = `order-projection-${this.run}`;
  readonly sku = `${this.run}-widget`.toUpperCase();
  api: BenchProcess | undefined;
  projection: BenchProcess | undefined;
  readonly processors: BenchProcess[] = [];
  private readonly all: BenchProcess[] = [];
  private database: TestDatabase | undefined;
  private groupsStarted = false;
  private common: Record<string, string> = {};

  /** Provisions topics, schemas and a database; with `consumers`, also the projection and the processors. */
  async start({ processors, consumers }: { processors: number; consumers: boolean }): Promise<void> {
    const infra = testInfra();
    this.database = await createTestDatabase('orders_bench');
    this.common = {
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: infra.registryUrl,
      DATABASE_URL: this.database.url,
      SIGNING_KEY_ID: uniqueName('bench-key'),
      SIGNING_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      SHUTDOWN_TIMEOUT_MS: '5000',
    };
    await this.provision(consumers);
    if (consumers) {
      this.projection = await this.track(
        startProcess('order-projection', serviceEntry('order-projection'), {
          port: await freePort(),
          env: { ...this.common, GROUP_ID: this.projectionGroup },
        }),
      );
    }
    this.api = await this.track(
      startProcess('order-api', serviceEntry('order-api'), {
        port: await freePort(),
        env: {
          ...this.common,
          AUTH_DISABLED: 'true',
          ...(this.projection ? { PROJECTION_URL: this.projection.url } : {}),
        },
      }),
    );
    if (consumers) {
      for (let i = 0; i < processors; i += 1) {
        this.processors.push(
          await this.track(
            startProcess(`order-processor-${i + 1}`, serviceEntry('order-processor'), {
              port: await freePort(),
              env: {
                ...this.common,
                GROUP_ID: this.processorGroup,
                RETRY_DELAYS_MS: '300,300',
                MAX_ORDER_TOTAL_CENTS: String(1_000_000_00),
              },
            }),
          ),
        );
      }
    }
  }

  /** Stops the processors and the projection (order-api keeps running). */
  async stopConsumers(): Promise<void> {
    const consumers = [...this.processors, ...(this.projection ? [this.projection] : [])];
    await Promise.all(consumers.map((service) => service.stop('SIGTERM', 10_000)));
  }

  /** Stops every process, drops the database, deletes the groups and their topics. Never throws. */
  async stop(): Promise<{ processes: number; topics: number }> {
    await Promise.all(this.all.map((service) => service.stop('SIGTERM', 10_000).catch(() => null)));
    await this.database?.drop().catch(() => undefined);
    this.database = undefined;
    let topics = 0;
    if (this.groupsStarted) {
      topics = await this.deleteGroups().catch(() => 0);
      this.groupsStarted = false;
    }
    return { processes: this.all.length, topics };
  }

  /** The projection's change feed (name = its group id). */
  get databaseUrl(): string {
    if (!this.database) throw new Error('the stack is not started');
    return this.database.url;
  }

  /** Everything each process wrote lately (for a failure report). */
  outputs(): string {
    return this.all.map((s) => `--- ${s.name} ---\n${s.output().slice(-3000)}`).join('\n');
  }

  /** Processes that exited although nobody stopped them. */
  crashed(): string[] {
    return this.all
      .filter((s) => s.child.exitCode !== null || s.child.signalCode !== null)
      .map((s) => s.name);
  }

  /** Topics and schemas in place; with consumers, this stack's groups start at the end of the shared topics. */
  private async provision(consumers: boolean): Promise<void> {
    if (!consumers) return provisionTopicsAndSchemas();
    this.groupsStarted = true;
    await provisionOrderStack(this.processorGroup, this.projectionGroup, this.databaseUrl);
  }

  /** Deletes both groups and every topic named after them (retry and dead-letter topics). */
  private async deleteGroups(): Promise<number> {
    const kafka = createKafka({ brokers: testInfra().kafkaBrokers, clientId: uniqueName('bench-cleanup') });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const groups = [this.processorGroup, this.projectionGroup];
      await admin.deleteGroups(groups).catch(() => undefined);
      const topics = (await admin.listTopics()).filter((name) =>
        groups.some((g) => name.startsWith(`${g}.`)),
      );
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
      return topics.length;
    } finally {
      await admin.disconnect();
    }
  }

  private async track(starting: Promise<BenchProcess>): Promise<BenchProcess> {
    const service = await starting;
    this.all.push(service);
    return service;
  }
}
