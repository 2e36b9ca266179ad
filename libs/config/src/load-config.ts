import { z } from 'zod';
import { databaseTimeoutProblems } from './database';
import { kafkaSecurityProblems } from './variables';

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
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? '(root)');
        const value = env[variable];
        const shown =
          value === undefined ? '' : SECRET_NAME.test(variable) ? ' (value hidden)' : ` (got "${value}")`;
        return `${variable}: ${issue.message}${shown}`;
      });
  for (const rule of CROSS_VARIABLE_RULES) {
    if (rule.variables.every((name) => name in shape)) problems.push(...rule.problems(env));
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(parsed.data);
}

/**
 * Rules that span several variables of a shared group, checked whenever a shape has all of the
 * group's variables (so every service that spreads the group gets them). Messages name variables only.
 */
const CROSS_VARIABLE_RULES: readonly {
  variables: readonly string[];
  problems: (env: Env) => string[];
}[] = [
  {
    variables: ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'],
    problems: kafkaSecurityProblems,
  },
  {
    variables: ['DATABASE_QUERY_TIMEOUT_MS', 'DATABASE_STATEMENT_TIMEOUT_MS'],
    problems: databaseTimeoutProblems,
  },
];
