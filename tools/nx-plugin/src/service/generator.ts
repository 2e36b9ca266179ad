// nx g @tideline/nx:service <name> --kind producer|consumer|projection: an app shaped like
// order-api / order-processor / sales-projection, with its Dockerfile, compose service, k8s
// resources and e2e test. A projection service comes with its definition: nx g
// @tideline/nx:projection writes both.
import { formatFiles, generateFiles, joinPathFragments, type Tree } from '@nx/devkit';
import { addConsumer, findTopic, readCatalog, type CatalogEntry } from '../catalog.ts';
import { camelOf, descriptorOf, GeneratorError, pascalOf, requireKebab, snakeOf } from '../names.ts';
import { CATALOG_FOLLOWERS, runAfter } from '../run.ts';
import { readModelOf } from '../projection/names.ts';
import { templatesOf } from '../templates.ts';
import { jsonSchemaOf, sampleOf, type RecordSchema } from './avro.ts';
import { addWorkspaceToLockfile } from './lockfile.ts';
import { addToStartList } from './start-list.ts';
import { addComposeService, append, insertAfterLine, insertBefore } from './text-edits.ts';

export interface ServiceOptions {
  name: string;
  kind: 'producer' | 'consumer' | 'projection';
  consumes?: string;
  /** kind projection: the read model in libs/read-models/src/<projection> it serves. */
  projection?: string;
  domain?: string;
  port?: number;
  skipFollowers?: boolean;
}

/** npm start's second order-processor instance (PROCESSOR_PORTS=3001,3011). */
const RESERVED_PORTS = [3011];

/** One past the highest port an app's config defaults to (skipping the ports npm start reserves). */
function nextPort(tree: Tree): number {
  const ports = tree
    .children('apps')
    .map((app) => tree.read(`apps/${app}/src/config.ts`, 'utf-8') ?? '')
    .flatMap((text) => [...text.matchAll(/\bport\((\d+)\)/g)].map((m) => Number(m[1])));
  let port = Math.max(3000, ...ports) + 1;
  while (RESERVED_PORTS.includes(port)) port += 1;
  return port;
}

export function eventOf(tree: Tree, topic: CatalogEntry) {
  const schema = JSON.parse(tree.read(`schemas/${topic.value}`, 'utf-8') ?? 'null') as RecordSchema | null;
  if (schema === null)
    throw new GeneratorError(`schemas/${topic.value} (the value of ${topic.name}) is missing`);
  return {
    topic: topic.name,
    key: topic.key,
    partitions: topic.partitions,
    type: schema.name,
    fullName: schema.namespace ? `${schema.namespace}.${schema.name}` : schema.name,
    descriptor: descriptorOf(topic.name),
    route: `/${topic.name.split('.')[1]}`,
    bodySchema: JSON.stringify(jsonSchemaOf(schema)),
    sample: sampleOf(schema),
  };
}

export async function serviceGenerator(tree: Tree, options: ServiceOptions) {
  const { name, kind } = options;
  requireKebab('service', name);
  if (kind !== 'producer' && kind !== 'consumer' && kind !== 'projection')
    throw new GeneratorError(`--kind "${String(kind)}" must be producer, consumer or projection`);
  if (kind === 'projection' && options.projection === undefined)
    throw new GeneratorError(
      '--kind projection comes with its definition: nx g @tideline/nx:projection <name> --consumes <catalog topic>',
    );
  if (tree.exists(`apps/${name}`)) throw new GeneratorError(`apps/${name} already exists`);
  const domain = options.domain ?? name.split('-')[0]!;
  requireKebab('domain', domain);

  let events;
  if (kind === 'producer') {
    if (options.consumes !== undefined) throw new GeneratorError('--consumes is for --kind consumer');
    const owned = readCatalog(tree).filter((t) => t.owner === name);
    if (owned.length === 0)
      throw new GeneratorError(
        `${name} owns no topic in schemas/catalog.yaml: first nx g @tideline/nx:event <domain> <EventName> --owner ${name}`,
      );
    events = owned.map((t) => eventOf(tree, t));
  } else {
    if (options.consumes === undefined)
      throw new GeneratorError(`--kind ${kind} needs --consumes <catalog topic>`);
    events = [eventOf(tree, findTopic(tree, options.consumes))];
  }
  const port = options.port ?? nextPort(tree);
  const vars = {
    name,
    kind,
    domain,
    port,
    pascal: pascalOf(name),
    events,
    event: events[0]!,
    read: readModelOf(options.projection ?? name),
    h: { camel: camelOf, snake: snakeOf },
    tmpl: '',
  };

  generateFiles(tree, templatesOf('service', 'common'), `apps/${name}`, vars);
  generateFiles(tree, templatesOf('service', kind), `apps/${name}`, vars);
  generateFiles(tree, templatesOf('service', 'k8s'), `k8s/base/${name}`, vars);
  const manifest = JSON.parse(tree.read(`apps/${name}/package.json`, 'utf-8')!) as Parameters<
    typeof addWorkspaceToLockfile
  >[2];
  addWorkspaceToLockfile(tree, `apps/${name}`, manifest);
  if (kind !== 'producer') addConsumer(tree, options.consumes!, name);
  wireDeployment(tree, vars);
  addToStartList(tree, { name, port, database: kind === 'projection' });
  await formatFiles(tree);
  return options.skipFollowers
    ? () => undefined
    : runAfter(tree.root, kind === 'producer' ? [] : CATALOG_FOLLOWERS);
}

/** The shared files that list every app: compose, the kustomizations, KEDA, module boundaries. */
function wireDeployment(
  tree: Tree,
  vars: {
    name: string;
    kind: string;
    domain: string;
    port: number;
    events: { topic: string; partitions: number }[];
  },
): void {
  const { name, kind } = vars;
  const file = (part: string) => joinPathFragments(templatesOf('service', 'wiring'), part);
  const render = (part: string) => renderTemplate(tree, file(part), vars);

  addComposeService(tree, 'docker-compose.yml', name, render('compose.yml'));
  insertBefore(
    tree,
    'k8s/base/kustomization.yaml',
    /^ {2}- ops\/provision-job\.yaml$/m,
    render('base-resources.yaml'),
  );
  append(tree, 'k8s/base/kustomization.yaml', render('base-config-map.yaml'));
  for (const overlay of ['dev', 'prod'])
    insertAfterLine(tree, `k8s/overlays/${overlay}/kustomization.yaml`, /^images:$/m, render('image.yaml'));
  insertBefore(
    tree,
    'k8s/components/strimzi-users/kustomization.yaml',
    /^ {2}- target: \{ kind: Job, name: tideline-provision \}$/m,
    render('strimzi-user.yaml'),
  );
  if (kind !== 'producer') append(tree, 'k8s/overlays/prod/keda.yaml', render('keda.yaml'));
  // A consumer's port serves health and metrics only; a producer's or a projection's serves an API.
  if (kind === 'consumer') append(tree, 'k8s/base/network-policy.yaml', render('metrics-ingress.yaml'));
  else addToApiIngress(tree, name);
  const eslint = tree.read('eslint.config.mjs', 'utf-8') ?? '';
  if (!eslint.includes(`sourceTag: 'scope:${vars.domain}'`))
    insertAfterLine(tree, 'eslint.config.mjs', /sourceTag: 'scope:orders'/, render('scope.mjs'));
}

/** A producer's or a projection's API is public: one more name in the API ingress policy. */
function addToApiIngress(tree: Tree, name: string): void {
  const file = 'k8s/base/network-policy.yaml';
  const text = tree.read(file, 'utf-8') ?? '';
  const policy = text.indexOf('name: tideline-api-ingress');
  const list = /(key: app\.kubernetes\.io\/name,\s*operator: In,\s*values: \[)([^\]]*)\]/.exec(
    text.slice(policy),
  );
  if (policy === -1 || list === null)
    throw new GeneratorError(`${file}: found no tideline-api-ingress list of names`);
  const at = policy + list.index;
  const names = `${list[2]!}, ${name}`;
  tree.write(file, text.slice(0, at) + list[1]! + names + ']' + text.slice(at + list[0].length));
}

/** One wiring snippet, rendered with the same EJS as the template files. */
function renderTemplate(tree: Tree, templateFile: string, vars: object): string {
  // generateFiles renders into the tree; render into a scratch path and take the text back.
  const scratch = `.nx-plugin-scratch-${process.pid}`;
  generateFiles(tree, templateFile.slice(0, templateFile.lastIndexOf('/')), scratch, vars);
  const base = templateFile.slice(templateFile.lastIndexOf('/') + 1).replace(/__tmpl__$/, '');
  const text = tree.read(`${scratch}/${base}`, 'utf-8') ?? '';
  for (const child of tree.children(scratch)) tree.delete(`${scratch}/${child}`);
  return text;
}

export default serviceGenerator;
