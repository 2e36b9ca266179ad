// docker-compose.yml against the apps: every app has a service built from its Dockerfile, whose
// environment (with .env.example's values, as Compose would read them) the app's config
// accepts. tools/local-stack/test/compose-check.ts checks the infrastructure side of the file.
import { imageOf, shutdownDeadlineMs, type App } from './apps';
import { checkEnvironment } from './environment';

type Service = Record<string, unknown>;

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A YAML scalar as text (a nested map or list as JSON rather than [object Object]). */
const text = (value: unknown): string =>
  typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);

/**
 * A value as Compose interpolates it: `${VAR}`, `${VAR:-default}` (default when unset or
 * empty), `${VAR-default}` (default when unset), `${VAR:?message}` / `${VAR?message}` (required),
 * `$$` for a literal `$`.
 */
export function interpolate(
  text: string,
  variables: ReadonlyMap<string, string>,
): { value: string; missing: string[] } {
  const missing: string[] = [];
  const value = text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (match, name: string | undefined, colon: string, operator: string | undefined, argument: string) => {
      if (match === '$$') return '$';
      const current = variables.get(name!);
      const unset = current === undefined || (colon === ':' && current === '');
      if (operator === '-') return unset ? argument : current;
      if (operator === '?' && unset) missing.push(`${name}${argument ? ` (${argument})` : ''}`);
      return current ?? '';
    },
  );
  return { value, missing };
}

/** Compose durations such as `30s`, `1m30s`, `500ms`, in ms. */
export function durationMs(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 };
  return parts.reduce((sum, [, amount, u]) => sum + Number(amount) * unit[u!]!, 0);
}

function environmentOf(service: Service): Record<string, string> {
  const raw = service['environment'];
  const env: Record<string, string> = {};
  if (Array.isArray(raw)) {
    for (const item of raw.map(String)) {
      const eq = item.indexOf('=');
      if (eq !== -1) env[item.slice(0, eq)] = item.slice(eq + 1);
    }
  } else if (isMap(raw))
    for (const [key, value] of Object.entries(raw)) env[key] = value === null ? '' : text(value);
  return env;
}

function imageRepository(service: Service, variables: ReadonlyMap<string, string>): string | undefined {
  const image =
    typeof service['image'] === 'string' ? interpolate(service['image'], variables).value : undefined;
  return image?.replace(/[:@][^/]*$/, '');
}

function hostPorts(service: Service): { published: string; target: string }[] {
  const ports = Array.isArray(service['ports']) ? service['ports'] : [];
  return ports.map((entry: unknown) => {
    if (isMap(entry)) return { published: text(entry['published'] ?? ''), target: text(entry['target']) };
    const parts = String(entry)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    return { published: parts.at(-2) ?? '', target: parts.at(-1) ?? '' };
  });
}

function dependsOn(service: Service, name: string): string | undefined {
  const raw = service['depends_on'];
  if (Array.isArray(raw)) return raw.includes(name) ? 'service_started' : undefined;
  const entry = isMap(raw) ? raw[name] : undefined;
  return isMap(entry) ? String(entry['condition']) : undefined;
}

/**
 * Every way docker-compose.yml breaks the deployment contract with the apps; empty when it holds.
 * `variables` are what Compose would interpolate with: .env.example plus what it tells users to set.
 */
export function checkComposeApps(
  doc: unknown,
  apps: readonly App[],
  variables: ReadonlyMap<string, string>,
  /** Services `docker compose up --scale <name>=N` must be able to multiply. */
  scalable: readonly string[],
): string[] {
  const services = isMap(doc) && isMap(doc['services']) ? doc['services'] : {};
  const problems: string[] = [];
  const entries = Object.entries(services).filter((entry): entry is [string, Service] => isMap(entry[1]));
  const cli = apps.find((app) => app.kind === 'cli');
  const initName = entries.find(([, s]) => cli && imageRepository(s, variables) === imageOf(cli.name))?.[0];

  for (const app of apps) {
    const users = entries.filter(([, service]) => imageRepository(service, variables) === imageOf(app.name));
    if (users.length === 0) {
      problems.push(`${app.name}: no compose service runs ${imageOf(app.name)}`);
      continue;
    }
    for (const [name, service] of users) {
      const where = `compose service ${name}`;
      const build = service['build'];
      if (!isMap(build) || build['context'] !== '.' || build['dockerfile'] !== `apps/${app.name}/Dockerfile`)
        problems.push(`${where}: must build from context "." with dockerfile apps/${app.name}/Dockerfile`);
      const values: Record<string, string> = {};
      for (const [key, raw] of Object.entries(environmentOf(service))) {
        const { value, missing } = interpolate(raw, variables);
        if (missing.length > 0) problems.push(`${where}: ${key} needs ${missing.join(', ')}`);
        values[key] = value;
      }
      const verdict = checkEnvironment(where, app, { values, problems: [] });
      problems.push(...verdict.problems);
      if (service['read_only'] !== true) problems.push(`${where}: must run read_only`);
      const capDrop = service['cap_drop'];
      if (!Array.isArray(capDrop) || !capDrop.includes('ALL')) problems.push(`${where}: must cap_drop ALL`);
      if (app.kind === 'cli') continue;

      if (name !== app.name) problems.push(`${where}: the service of ${app.name} must be called ${app.name}`);
      const test = service['healthcheck'];
      const command = isMap(test) && Array.isArray(test['test']) ? test['test'].map(String) : [];
      if (!command.includes('tideline-healthcheck') || !command.includes('/readyz'))
        problems.push(
          `${where}: its healthcheck must run tideline-healthcheck /readyz (ready, not just alive)`,
        );
      if (initName === undefined || dependsOn(service, initName) !== 'service_completed_successfully')
        problems.push(
          `${where}: must wait for the provisioning service (depends_on condition service_completed_successfully)`,
        );
      const config = verdict.config;
      if (!config) continue;
      const port = String(config['PORT']);
      if (!hostPorts(service).some((p) => p.target === port))
        problems.push(`${where}: publishes no port to its PORT ${port}`);
      const grace = durationMs(text(service['stop_grace_period'] ?? '10s'));
      const deadline = shutdownDeadlineMs(app, config);
      if (grace === undefined || grace <= deadline)
        problems.push(
          `${where}: stop_grace_period must be longer than ${app.name}'s ${deadline / 1000} s shutdown deadline`,
        );
      if (scalable.includes(name)) {
        if (service['container_name'] !== undefined)
          problems.push(`${where}: a container_name prevents --scale`);
        if (hostPorts(service).some((p) => p.published !== ''))
          problems.push(`${where}: a fixed host port prevents --scale`);
      }
    }
  }
  if (initName !== undefined) {
    const init = services[initName] as Service;
    for (const dependency of ['kafka', 'registry'])
      if (dependsOn(init, dependency) !== 'service_healthy')
        problems.push(`compose service ${initName}: must wait for a healthy ${dependency}`);
  }
  return problems;
}

/** Variables .env.example offers that docker-compose.yml never reads. */
export function unusedExampleVariables(
  composeText: string,
  variables: ReadonlyMap<string, string>,
): string[] {
  return [...variables.keys()].filter((name) => !new RegExp(`\\$\\{${name}[:?}-]`).test(composeText));
}
