import type { z } from 'zod';
import { ConfigError, loadConfig, type Env } from '../load-config';

/** The problems loadConfig lists for `env` (and that it throws a ConfigError at all). */
export function problemsFor(shape: z.ZodRawShape, env: Env): readonly string[] {
  let caught: unknown;
  try {
    loadConfig(shape, env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return (caught as ConfigError).problems;
}
