import { z } from 'zod';

export class ConfigError extends Error {
  readonly code = 'TDL_CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Variables whose values never appear in an error message. */
const SECRET_NAME = /(_KEY|_KEYS|_SECRET|_PASSWORD|_TOKEN|_TOKENS)$/;

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Validates environment variables against a zod object whose keys are the variable names.
 * Returns the typed, frozen result, or throws a ConfigError that lists every bad variable.
 */
export function loadConfig<Shape extends z.ZodRawShape>(
  shape: Shape,
  env: Env,
): Readonly<z.infer<z.ZodObject<Shape>>> {
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(root)');
      const value = env[variable];
      const shown =
        value === undefined ? '' : SECRET_NAME.test(variable) ? ' (value hidden)' : ` (got "${value}")`;
      return `${variable}: ${issue.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  return Object.freeze(parsed.data);
}
