// schemas/catalog.yaml in a Tree: read with the yaml parser, edited as text so its comments and
// layout stay as people wrote them.
import type { Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { GeneratorError } from './names.ts';

export const CATALOG = 'schemas/catalog.yaml';

export interface CatalogEntry {
  name: string;
  key: string;
  value: string;
  partitions: number;
  cleanup: 'delete' | 'compact';
  retention?: string;
  owner: string;
  consumers: string[];
}

export function readCatalog(tree: Tree): CatalogEntry[] {
  const text = tree.read(CATALOG, 'utf-8');
  if (text === null)
    throw new GeneratorError(`${CATALOG} is missing: run the generator at the workspace root`);
  return (parse(text) as { topics?: CatalogEntry[] }).topics ?? [];
}

export function findTopic(tree: Tree, name: string): CatalogEntry {
  const topic = readCatalog(tree).find((t) => t.name === name);
  if (topic === undefined) throw new GeneratorError(`topic "${name}" is not in ${CATALOG}`);
  return topic;
}

/** Appends an entry in the layout of the existing ones. */
export function addTopic(tree: Tree, entry: CatalogEntry): void {
  const lines = [
    `  - name: ${entry.name}`,
    `    key: ${entry.key}`,
    `    value: ${entry.value}`,
    `    partitions: ${entry.partitions}`,
    `    cleanup: ${entry.cleanup}`,
    ...(entry.cleanup === 'delete' ? [`    retention: ${entry.retention ?? '30d'}`] : []),
    `    owner: ${entry.owner}`,
    `    consumers: [${entry.consumers.join(', ')}]`,
  ];
  const text = tree.read(CATALOG, 'utf-8')!.replace(/\n*$/, '\n');
  tree.write(CATALOG, `${text}\n${lines.join('\n')}\n`);
}

/** Lists `group` among the consumers of `topic`. */
export function addConsumer(tree: Tree, topic: string, group: string): void {
  const text = tree.read(CATALOG, 'utf-8')!;
  const start = text.indexOf(`  - name: ${topic}\n`);
  if (start === -1) throw new GeneratorError(`topic "${topic}" is not in ${CATALOG}`);
  const next = text.indexOf('\n  - name: ', start + 1);
  const end = next === -1 ? text.length : next;
  const block = text.slice(start, end);
  const consumers = /^ {4}consumers: \[(.*)\]$/m.exec(block);
  if (consumers === null)
    throw new GeneratorError(`${CATALOG}: ${topic} has no "consumers: [...]" line to add ${group} to`);
  const groups = consumers[1]!
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
  if (groups.includes(group)) return;
  const updated = block.replace(consumers[0], `    consumers: [${[...groups, group].join(', ')}]`);
  tree.write(CATALOG, text.slice(0, start) + updated + text.slice(end));
}
