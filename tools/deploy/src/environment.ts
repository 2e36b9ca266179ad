// What a container's environment will hold, and whether the app's config accepts it.
// Shared by the Kubernetes and the compose checks.
import { localOnlySettings, RUNTIME_VARIABLES, tryLoad, type App } from './apps';

/**
 * Stand-ins for the values that come from Secrets (Kubernetes) or the user's .env (compose):
 * valid, obviously fake, and only ever used to run a config loader in a test.
 */
export const SECRET_PLACEHOLDERS: Readonly<Record<string, string>> = {
  SIGNING_KEY_ID: 'placeholder-1',
  SIGNING_KEY: Buffer.alloc(32, 7).toString('base64'),
  SIGNING_VERIFY_KEYS: `placeholder-0=${Buffer.alloc(32, 8).toString('base64')}`,
  DATABASE_URL: 'postgres://tideline:placeholder@postgres.example:5432/tideline',
  API_KEYS: 'placeholder-api-key-0001',
  KAFKA_SASL_USERNAME: 'tideline',
  KAFKA_SASL_PASSWORD: 'placeholder',
};

/**
 * Variables that hold addresses for clients, not addresses the app connects to: 127.0.0.1 is
 * right there when the client is a browser on the same machine (compose, `kubectl port-forward`).
 */
export const CLIENT_FACING: ReadonlySet<string> = new Set(['PROJECTION_URL']);

export interface ResolvedEnvironment {
  /** Every variable the container gets, with its value (placeholders for secrets). */
  values: Record<string, string>;
  /** Problems found while resolving (a missing ConfigMap, a secret without a placeholder). */
  problems: string[];
}

export interface EnvironmentVerdict {
  problems: string[];
  /** The app's parsed config when it accepted the environment. */
  config?: Readonly<Record<string, unknown>>;
}

/**
 * Checks an environment against the app's configuration: every variable is one the app reads
 * (or Node's own), the app's loader accepts the values, and nothing is left at a default that
 * only works on a developer's machine (127.0.0.1).
 */
export function checkEnvironment(where: string, app: App, resolved: ResolvedEnvironment): EnvironmentVerdict {
  const problems = resolved.problems.map((problem) => `${where}: ${problem}`);
  for (const name of Object.keys(resolved.values).sort()) {
    if (!app.variables.has(name) && !RUNTIME_VARIABLES.has(name))
      problems.push(`${where}: sets ${name}, which ${app.name}'s config does not read`);
  }
  const result = tryLoad(app, resolved.values);
  if ('problems' in result) {
    problems.push(
      ...result.problems.map((problem) => `${where}: ${app.name} refuses its environment: ${problem}`),
    );
    return { problems };
  }
  for (const name of localOnlySettings(result.config).filter((n) => !CLIENT_FACING.has(n)))
    problems.push(`${where}: ${name} is left at a value for a developer's machine (127.0.0.1): set it`);
  return { problems, config: result.config };
}
