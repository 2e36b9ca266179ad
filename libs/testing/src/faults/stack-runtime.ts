import path from 'node:path';

// tools/local-stack/runtime.cjs runs Kafka and Apicurio for the local stack (stack.mjs, plain
// Node); the fault toolkit starts its private clusters with the same code. Loaded by path at
// run time: libs/testing does not depend on the tools project, it shares one file with it.
const file = path.resolve(__dirname, '..', '..', '..', '..', 'tools', 'local-stack', 'runtime.cjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const runtime = require(file) as StackRuntime;

let plan: Plan | undefined;

/** Java runtimes and the jar cache, resolved with Maven once per process if the cache lacks them. */
export function stackPlan(): Plan {
  if (!plan) {
    const chosen = runtime.choosePlan(runtime.defaultCache());
    runtime.resolveArtifacts(chosen, { stdio: ['ignore', 'pipe', 'pipe'] });
    plan = chosen;
  }
  return plan;
}

/** What the toolkit uses of runtime.cjs (see its comments). */
export interface Plan {
  cache: string;
  kafkaHome: string;
  kafkaJava: string;
  apicurio: { version: string; java: { bin: string; major: number }; home: string };
}

export interface KafkaNodeLayout {
  port: number;
  controllerPort: number;
  internalPort?: number;
  advertisedPort?: number;
}

interface StackRuntime {
  defaultCache(): string;
  choosePlan(cache?: string): Plan;
  resolveArtifacts(plan: Plan, options?: { stdio?: unknown }): void;
  kafkaArgs(plan: Plan, logsDir: string, mainClass: string, args: string[], extraJvm?: string[]): string[];
  brokerJvm(heap?: string): string[];
  newClusterId(): string;
  formatStorage(
    plan: Plan,
    logsDir: string,
    configFile: string,
    dataDir: string,
    options?: { clusterId?: string; standalone?: boolean },
  ): void;
  kafkaNodeConfig(options: {
    id: number;
    nodes: KafkaNodeLayout[];
    dataDir: string;
    overrides?: Record<string, string | number>;
  }): string;
  registryArgs(
    plan: Plan,
    options: { port: number; managementPort?: number; bootstrap: string; heap?: string; extra?: string[] },
  ): string[];
}
