// Structural contract of the root docker-compose.yml, checked without a Docker engine.
// checkCompose() returns a list of problems instead of throwing, so that a test can show it
// rejects a broken file (tools/local-stack/test/fixtures/broken-compose.yml) as well as
// accepting the real one.

/** Host ports every service may publish: `host_ip:published:target`. Extend when a service is added. */
export const EXPECTED_PUBLISHED_PORTS: Readonly<Record<string, readonly string[]>> = {
  kafka: ['127.0.0.1:9092:9092'],
  postgres: ['127.0.0.1:5432:5432'],
  registry: ['127.0.0.1:8081:8080'],
  // The services on `npm start`'s ports (tools/scripts/start.mjs).
  'order-api': ['127.0.0.1:3000:3000'],
  // No fixed host port: `--scale order-processor=N` gives each instance its own.
  'order-processor': ['127.0.0.1::3001'],
  'order-projection': ['127.0.0.1:3002:3002'],
  'sales-projection': ['127.0.0.1:3003:3003'],
  // The `observability` profile (deploy/observability); Grafana moves off order-api's 3000.
  'telemetry-collector': ['127.0.0.1:4318:4318'],
  'telemetry-grafana': ['127.0.0.1:3300:3000'],
  'telemetry-jaeger': ['127.0.0.1:16686:16686'],
  'telemetry-prometheus': ['127.0.0.1:9090:9090'],
};

/** Required services and the image repository each one must run. */
export const EXPECTED_IMAGES: Readonly<Record<string, string>> = {
  kafka: 'apache/kafka',
  postgres: 'postgres',
  registry: 'apicurio/apicurio-registry',
  init: 'tideline/ops',
  'order-api': 'tideline/order-api',
  'order-processor': 'tideline/order-processor',
  'order-projection': 'tideline/order-projection',
  'sales-projection': 'tideline/sales-projection',
};

/** Services that run to completion (provisioning) instead of staying up: no healthcheck. */
export const ONE_SHOT_SERVICES: readonly string[] = ['init'];

type YamlMap = Record<string, unknown>;

function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `environment` as a map or as a `KEY=VALUE` list, normalised to strings (as Compose does). */
export function serviceEnvironment(service: YamlMap): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  const raw = service['environment'];
  if (Array.isArray(raw)) {
    for (const item of raw) {
      const text = String(item);
      const eq = text.indexOf('=');
      if (eq === -1) env.set(text, undefined);
      else env.set(text.slice(0, eq), text.slice(eq + 1));
    }
  } else if (isMap(raw)) {
    for (const [key, value] of Object.entries(raw)) {
      env.set(key, value === null || value === undefined ? undefined : scalar(value));
    }
  }
  return env;
}

/** A value as Compose reads it when the variables it names are unset: `${VAR:-default}` → `default`. */
export function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}/g, '$1');
}

/** `repository` and `tag` of an image reference; a digest (`@sha256:...`) counts as a tag. */
export function parseImage(reference: string): { repository: string; tag: string | undefined } {
  const image = withDefaults(reference);
  const at = image.indexOf('@');
  if (at !== -1) return { repository: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  if (colon > image.lastIndexOf('/'))
    return { repository: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { repository: image, tag: undefined };
}

/**
 * Published ports of a service as `host_ip:published:target` (short or long syntax).
 * A port without a host IP comes out with an empty first field.
 */
export function publishedPorts(service: YamlMap): string[] {
  const raw = service['ports'];
  if (!Array.isArray(raw)) return [];
  return raw.map((entry: unknown) => {
    if (isMap(entry)) {
      const hostIp = entry['host_ip'] === undefined ? '' : scalar(entry['host_ip']);
      const published = entry['published'] === undefined ? '' : scalar(entry['published']);
      return `${hostIp}:${published}:${String(entry['target'])}`;
    }
    const text = String(entry).replace(/\/(tcp|udp)$/, '');
    const parts = text.split(':');
    if (parts.length >= 3) return `${parts.slice(0, -2).join(':')}:${parts.at(-2)}:${parts.at(-1)}`;
    if (parts.length === 2) return `:${parts[0]}:${parts[1]}`;
    return `::${text}`;
  });
}

function healthcheckProblem(name: string, service: YamlMap): string | undefined {
  const healthcheck = service['healthcheck'];
  if (!isMap(healthcheck)) return `service "${name}" has no healthcheck`;
  if (healthcheck['disable'] === true) return `service "${name}" disables its healthcheck`;
  const test = healthcheck['test'];
  const empty =
    test === undefined ||
    test === null ||
    (typeof test === 'string' && test.trim() === '') ||
    (Array.isArray(test) && (test.length < 2 || test[0] === 'NONE'));
  return empty ? `service "${name}" has a healthcheck without a test command` : undefined;
}

/** Every violation of the compose contract in a parsed compose document; empty when it holds. */
export function checkCompose(doc: unknown): string[] {
  const problems: string[] = [];
  if (!isMap(doc)) return ['the compose file is not a YAML mapping'];
  if (doc['name'] !== 'tideline') problems.push('top-level "name" must be "tideline"');

  const services = doc['services'];
  if (!isMap(services)) return [...problems, 'the compose file has no "services" mapping'];
  const declaredVolumes = isMap(doc['volumes']) ? Object.keys(doc['volumes']) : [];

  for (const [name, repository] of Object.entries(EXPECTED_IMAGES)) {
    const service = services[name];
    if (!isMap(service)) {
      problems.push(`service "${name}" is missing`);
      continue;
    }
    const image = service['image'];
    if (typeof image === 'string' && parseImage(image).repository !== repository) {
      problems.push(`service "${name}" must run ${repository}, not ${image}`);
    }
    const healthcheck = ONE_SHOT_SERVICES.includes(name) ? undefined : healthcheckProblem(name, service);
    if (healthcheck !== undefined) problems.push(healthcheck);
  }

  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service)) {
      problems.push(`service "${name}" is not a mapping`);
      continue;
    }
    const image = service['image'];
    if (typeof image !== 'string' || image.trim() === '') {
      problems.push(`service "${name}" has no image`);
    } else {
      const { tag } = parseImage(image);
      if (tag === undefined || tag === '')
        problems.push(`service "${name}" image "${image}" has no explicit tag`);
      else if (tag === 'latest') problems.push(`service "${name}" image "${image}" uses "latest"`);
    }

    const actual = publishedPorts(service);
    const expected = EXPECTED_PUBLISHED_PORTS[name] ?? [];
    if (JSON.stringify([...actual].sort()) !== JSON.stringify([...expected].sort())) {
      problems.push(
        `service "${name}" publishes [${actual.join(', ')}], expected [${expected.join(', ')}]` +
          (actual.some((port) => !port.startsWith('127.0.0.1:')) ? ' (bind host ports to 127.0.0.1)' : ''),
      );
    }
  }

  // Kafka: no topic appears by typo, and both client listeners are advertised.
  const kafka = services['kafka'];
  if (isMap(kafka)) {
    const env = serviceEnvironment(kafka);
    if (env.get('KAFKA_AUTO_CREATE_TOPICS_ENABLE') !== 'false') {
      problems.push('kafka: KAFKA_AUTO_CREATE_TOPICS_ENABLE must be "false"');
    }
    const advertised = (env.get('KAFKA_ADVERTISED_LISTENERS') ?? '').split(',');
    if (!advertised.some((listener) => listener.endsWith('://127.0.0.1:9092'))) {
      problems.push('kafka: KAFKA_ADVERTISED_LISTENERS must advertise 127.0.0.1:9092 for the host');
    }
    if (!advertised.some((listener) => listener.endsWith('://kafka:29092'))) {
      problems.push('kafka: KAFKA_ADVERTISED_LISTENERS must advertise kafka:29092 for other containers');
    }
  }

  // Registry: KafkaSQL storage on Kafka's internal listener, started only once Kafka is healthy.
  const registry = services['registry'];
  if (isMap(registry)) {
    const dependsOn = registry['depends_on'];
    const kafkaDependency = isMap(dependsOn) ? dependsOn['kafka'] : undefined;
    if (!isMap(kafkaDependency) || kafkaDependency['condition'] !== 'service_healthy') {
      problems.push('registry: depends_on kafka must use condition "service_healthy"');
    }
    const env = serviceEnvironment(registry);
    const expectedEnv: Record<string, string> = {
      APICURIO_STORAGE_KIND: 'kafkasql',
      APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: 'kafka:29092',
      APICURIO_RULES_GLOBAL_COMPATIBILITY: 'BACKWARD',
      QUARKUS_MANAGEMENT_ENABLED: 'false',
    };
    for (const [key, value] of Object.entries(expectedEnv)) {
      if (env.get(key) !== value)
        problems.push(`registry: ${key} must be "${value}", found "${env.get(key)}"`);
    }
  }

  // State lives in named volumes, so `docker compose down` keeps it and `down -v` wipes it.
  for (const name of ['kafka', 'postgres']) {
    const service = services[name];
    if (!isMap(service)) continue;
    const volumes = Array.isArray(service['volumes']) ? service['volumes'] : [];
    const named = volumes.some((volume: unknown) => {
      const source = isMap(volume) ? String(volume['source']) : String(volume).split(':')[0];
      return source !== undefined && declaredVolumes.includes(source);
    });
    if (!named)
      problems.push(`service "${name}" must keep its data in a named volume declared under "volumes"`);
  }

  return problems;
}

/** A Java .properties file as a map (`key=value` lines; `#` and `!` start comments). */
export function parseProperties(text: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const eq = line.indexOf('=');
    if (eq === -1) throw new Error(`unsupported .properties line (expected key=value): ${line}`);
    properties.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return properties;
}

/**
 * The apache/kafka image's environment name for a broker property:
 * KAFKA_ prefix, upper case, "." -> "_", "_" -> "__", "-" -> "___".
 */
export function kafkaEnvName(property: string): string {
  return `KAFKA_${property.replaceAll('_', '__').replaceAll('-', '___').replaceAll('.', '_').toUpperCase()}`;
}

/** Properties whose value differs between the local stack and the compose kafka environment. */
export function kafkaSettingMismatches(
  doc: unknown,
  properties: ReadonlyMap<string, string>,
  keys: readonly string[],
): string[] {
  const services = isMap(doc) ? doc['services'] : undefined;
  const kafka = isMap(services) ? services['kafka'] : undefined;
  if (!isMap(kafka)) return ['no kafka service'];
  const env = serviceEnvironment(kafka);
  const mismatches: string[] = [];
  for (const key of keys) {
    const expected = properties.get(key);
    const actual = env.get(kafkaEnvName(key));
    if (expected === undefined) mismatches.push(`${key} is not set in server.properties`);
    else if (actual !== expected) {
      mismatches.push(
        `${key}=${expected} in server.properties, but ${kafkaEnvName(key)}=${actual} in compose`,
      );
    }
  }
  return mismatches;
}

/** A YAML scalar as text; a nested map or list is shown as JSON instead of [object Object]. */
function scalar(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}
