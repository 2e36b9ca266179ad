import { randomBytes } from 'node:crypto';

/** The environment variable that carries a test run's id to its workers and the processes they start. */
export const TEST_RUN_VARIABLE = 'TIDELINE_TEST_RUN';

declare global {
  /** Set by the integration tests' jest environment (environment.ts) for one test file. */
  var __tidelineTestScope: string | undefined;
}

/** A fresh id made of [a-z0-9] only, so it survives in topic, group, subject and database names. */
export function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

/**
 * What every name made in this context carries: the test file's scope (run id + file id) inside
 * an integration test, else the run's id, else (unit tests) the current time. The clean-up deletes
 * every topic, group, subject and database whose name contains a scope (cleanup.ts).
 */
export function testScope(): string {
  return globalThis.__tidelineTestScope ?? process.env[TEST_RUN_VARIABLE] ?? Date.now().toString(36);
}

/** A name no other test run (or test in this run) uses: `<prefix>-<scope>-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${testScope()}-${randomBytes(3).toString('hex')}`;
}

/** A unique topic name that still follows `<domain>.<event-name>.v<major>`. */
export function uniqueTopicName(domain = 'test', event = 'event'): string {
  return `${domain}.${uniqueName(event)}.v1`;
}

/**
 * Whether `name` looks made by `uniqueName` in some test run (`-<scope>-<6 hex>`, or `_` for
 * the `_` a database name turns it into): what a concurrent run on a shared stack leaves for a while.
 */
export function isTestRunName(name: string): boolean {
  return /(?:^|[-_.])(?=[a-z]*[0-9])[0-9a-z]{8,}[-_][0-9a-f]{6}(?:$|[-_.])/.test(name);
}
