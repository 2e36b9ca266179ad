// tools/scripts/services.json: the generated services `npm start` runs after the built-in ones.
import type { Tree } from '@nx/devkit';
import { GeneratorError } from '../names.ts';

export const START_LIST = 'tools/scripts/services.json';

export interface StartEntry {
  name: string;
  port: number;
  /** Whether it gets DATABASE_URL (a projection). */
  database: boolean;
}

export function addToStartList(tree: Tree, entry: StartEntry): void {
  const text = tree.read(START_LIST, 'utf-8');
  const list = (text === null ? { services: [] } : JSON.parse(text)) as { services?: StartEntry[] };
  if (!Array.isArray(list.services)) throw new GeneratorError(`${START_LIST} has no "services" list`);
  if (list.services.some((s) => s.name === entry.name))
    throw new GeneratorError(`${START_LIST} already lists ${entry.name}`);
  const taken = list.services.find((s) => s.port === entry.port);
  if (taken !== undefined)
    throw new GeneratorError(`port ${entry.port} is taken by ${taken.name} in ${START_LIST}: pass --port`);
  list.services.push(entry);
  tree.write(START_LIST, `${JSON.stringify(list, null, 2)}\n`);
}
