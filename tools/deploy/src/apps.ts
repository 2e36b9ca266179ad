// The apps of the repository as the deployment checks see them: every folder of apps/ with a
// project.json, each with its configuration loader from src/config.ts (read from source, so a
// new app or a new variable is checked without touching this file).
import fs from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');

type Env = Record<string, string | undefined>;
export type ConfigLoader = (env: Env) => Readonly<Record<string, unknown>>;

export interface App {
  name: string;
  /** A long-running HTTP service (Deployment, compose service) or a command-line tool (Jobs). */
  kind: 'service' | 'cli';
  /** `load<Something>Config` from apps/<name>/src/config.ts. */
  load: ConfigLoader;
  /** Every environment variable the config reads. */
  variables: ReadonlySet<string>;
}

/** Variables of the Node runtime itself, which any container may set. */
export const RUNTIME_VARIABLES: ReadonlySet<string> = new Set([
  'NODE_ENV',
  'NODE_OPTIONS',
  'NODE_EXTRA_CA_CERTS',
]);

/** The variables a loader reads: it is run once on an environment that records each lookup. */
export function variablesRead(load: ConfigLoader): Set<string> {
  const seen = new Set<string>();
  const env = new Proxy<Env>(
    {},
    {
      get(_target, key) {
        if (typeof key === 'string') seen.add(key);
        return undefined;
      },
    },
  );
  try {
    load(env);
  } catch {
    // An empty environment may well be invalid; only the lookups matter here.
  }
  return seen;
}

/**
 * The app's `load…Config` functions from apps/<app>/src/config.ts, as one loader: an environment
 * must satisfy each (the ops CLI reads its SIGNING_* variables through a second one).
 */
function loaderOf(app: string): ConfigLoader {
  const file = path.join(repoRoot, 'apps', app, 'src', 'config.ts');
  if (!fs.existsSync(file))
    throw new Error(`apps/${app}/src/config.ts is missing: every app reads its environment there`);
  // Loaded by path at run time: a tool may not import apps (module boundaries), and the list of
  // apps is whatever apps/ holds.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const moduleExports = require(file) as Record<string, unknown>;
  const loaders = Object.entries(moduleExports)
    .filter(([name, value]) => /^load\w*Config$/.test(name) && typeof value === 'function')
    .map(([, value]) => value as ConfigLoader);
  if (loaders.length === 0) throw new Error(`apps/${app}/src/config.ts exports no load…Config function`);
  return (env) => {
    const problems: string[] = [];
    let config: Record<string, unknown> = {};
    for (const load of loaders) {
      try {
        config = { ...config, ...load(env) };
      } catch (error) {
        const listed = (error as { problems?: unknown }).problems;
        if (!Array.isArray(listed)) throw error;
        problems.push(...listed.map(String).filter((problem) => !problems.includes(problem)));
      }
    }
    if (problems.length > 0) throw Object.assign(new Error(problems.join('; ')), { problems });
    return config;
  };
}

let cache: App[] | undefined;

/** Every app under apps/, sorted by name. */
export function discoverApps(): App[] {
  cache ??= fs
    .readdirSync(path.join(repoRoot, 'apps'), { withFileTypes: true })
    .filter(
      (entry) =>
        entry.isDirectory() && fs.existsSync(path.join(repoRoot, 'apps', entry.name, 'project.json')),
    )
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const manifest = JSON.parse(
        fs.readFileSync(path.join(repoRoot, 'apps', name, 'package.json'), 'utf8'),
      ) as {
        bin?: unknown;
      };
      const load = loaderOf(name);
      return { name, kind: manifest.bin ? 'cli' : 'service', load, variables: variablesRead(load) };
    });
  return cache;
}

/** The image repository of an app, without registry or tag. */
export const imageOf = (app: string): string => `tideline/${app}`;

export type LoadResult = { config: Readonly<Record<string, unknown>> } | { problems: string[] };

/** Runs an app's loader on an environment: its config, or the problems it names. */
export function tryLoad(app: App, env: Env): LoadResult {
  try {
    return { config: app.load(env) };
  } catch (error) {
    const problems = (error as { problems?: unknown }).problems;
    if (Array.isArray(problems)) return { problems: problems.map(String) };
    return { problems: [(error as Error).message] };
  }
}

/** How long an app takes at most to stop on SIGTERM, in ms: SHUTDOWN_TIMEOUT_MS or its main.ts constant. */
export function shutdownDeadlineMs(app: App, config: Readonly<Record<string, unknown>>): number {
  if (typeof config['SHUTDOWN_TIMEOUT_MS'] === 'number') return config['SHUTDOWN_TIMEOUT_MS'];
  const main = fs.readFileSync(path.join(repoRoot, 'apps', app.name, 'src', 'main.ts'), 'utf8');
  const constant = /SHUTDOWN_DEADLINE_MS\s*=\s*([\d_]+)/.exec(main);
  if (!constant)
    throw new Error(
      `cannot tell ${app.name}'s shutdown deadline: no SHUTDOWN_TIMEOUT_MS variable, no SHUTDOWN_DEADLINE_MS in main.ts`,
    );
  return Number(constant[1]!.replaceAll('_', ''));
}

/** Values that only work on a developer's machine: the apps' defaults point there. */
export function localOnlySettings(config: Readonly<Record<string, unknown>>): string[] {
  const local = (value: unknown): boolean =>
    typeof value === 'string'
      ? /(^|[/@:])(127\.0\.0\.1|localhost)([:/]|$)/.test(value)
      : Array.isArray(value) && value.some(local);
  return Object.entries(config)
    .filter(([, value]) => local(value))
    .map(([name]) => name);
}
