import os from 'node:os';
import { runCli, type CliResult } from '../cli';
import { runtime, stackPlan } from './stack-runtime';

/**
 * Runs one of Kafka's own command-line tools (`org.apache.kafka.tools.TopicCommand`, …) from the
 * local stack's jar cache with the stack's Java, to check Tideline against Kafka's own view.
 */
export function runKafkaTool(
  mainClass: string,
  args: readonly string[],
  { timeoutMs = 120_000, input }: { timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  const plan = stackPlan();
  return runCli(plan.kafkaJava, runtime.kafkaArgs(plan, os.tmpdir(), mainClass, [...args]), {
    timeoutMs,
    ...(input === undefined ? {} : { input }),
  });
}
