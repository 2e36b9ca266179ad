// nx g @tideline/nx:event <domain> <EventName>: the Avro schema, its catalog entry, then
// libs/contracts and the Strimzi manifests regenerated from the catalog.
import { formatFiles, generateFiles, type Tree } from '@nx/devkit';
import { addTopic, CATALOG, readCatalog } from '../catalog.ts';
import { camelOf, GeneratorError, kebabOf, requireKebab, requirePascal, topicOf } from '../names.ts';
import { CATALOG_FOLLOWERS, runAfter } from '../run.ts';
import { templatesOf } from '../templates.ts';

export interface EventOptions {
  domain: string;
  name: string;
  owner?: string;
  key?: string;
  partitions?: number;
  retention?: string;
  skipFollowers?: boolean;
}

export async function eventGenerator(tree: Tree, options: EventOptions) {
  const { domain, name } = options;
  requireKebab('domain', domain);
  requirePascal('event', name);
  const owner = options.owner ?? `${domain}-api`;
  requireKebab('owner', owner);
  const key = options.key ?? `${camelOf(kebabOf(name).split('-')[0]!)}Id`;
  if (!/^[a-z][A-Za-z0-9]*$/.test(key))
    throw new GeneratorError(`key "${key}" must be a camelCase field name (e.g. invoiceId)`);
  const partitions = options.partitions ?? 6;
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new GeneratorError(`partitions ${partitions} must be a positive whole number`);
  const topic = topicOf(domain, name);
  const schemaFile = `schemas/${domain}/${name}.avsc`;
  if (readCatalog(tree).some((t) => t.name === topic))
    throw new GeneratorError(`topic ${topic} is already in ${CATALOG}`);
  if (tree.exists(schemaFile)) throw new GeneratorError(`${schemaFile} already exists`);

  generateFiles(tree, templatesOf('event'), 'schemas', {
    domain,
    name,
    key,
    words: kebabOf(name).replaceAll('-', ' '),
    tmpl: '',
  });
  addTopic(tree, {
    name: topic,
    key,
    value: `${domain}/${name}.avsc`,
    partitions,
    cleanup: 'delete',
    retention: options.retention ?? '30d',
    owner,
    consumers: [],
  });
  await formatFiles(tree);
  return options.skipFollowers ? () => undefined : runAfter(tree.root, CATALOG_FOLLOWERS);
}

export default eventGenerator;
