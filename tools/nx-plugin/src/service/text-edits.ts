// Edits of hand-written YAML and config files as text: their comments and order stay as they are.
import type { Tree } from '@nx/devkit';
import { GeneratorError } from '../names.ts';

function read(tree: Tree, file: string): string {
  const text = tree.read(file, 'utf-8');
  if (text === null) throw new GeneratorError(`${file} is missing`);
  return text;
}

/** Inserts `block` before the first line matching `before`. */
export function insertBefore(tree: Tree, file: string, before: RegExp, block: string): void {
  const text = read(tree, file);
  const match = before.exec(text);
  if (match === null)
    throw new GeneratorError(
      `${file}: found no ${String(before)} to add ${block.trim().split('\n')[0]} before`,
    );
  tree.write(file, text.slice(0, match.index) + block + text.slice(match.index));
}

/** Inserts `block` right after the first line matching `after`. */
export function insertAfterLine(tree: Tree, file: string, after: RegExp, block: string): void {
  const text = read(tree, file);
  const match = after.exec(text);
  if (match === null) throw new GeneratorError(`${file}: found no ${String(after)}`);
  const end = text.indexOf('\n', match.index) + 1;
  tree.write(file, text.slice(0, end) + block + text.slice(end));
}

export function append(tree: Tree, file: string, block: string): void {
  tree.write(file, read(tree, file).replace(/\n*$/, '\n') + block);
}

/** Adds a compose service in the alphabetical place among the `services:` entries. */
export function addComposeService(tree: Tree, file: string, name: string, block: string): void {
  const text = read(tree, file);
  const services = text.indexOf('\nservices:\n');
  if (services === -1) throw new GeneratorError(`${file} has no services:`);
  const section = /\n[a-z]/.exec(text.slice(services + 1));
  const end = section === null ? text.length : services + 1 + section.index;
  const entry = /^ {2}([a-z0-9-]+):$/gm;
  entry.lastIndex = services;
  let at = end;
  for (let match = entry.exec(text); match !== null && match.index < end; match = entry.exec(text))
    if (match[1]! > name) {
      at = match.index;
      break;
    }
  const insert = at === end ? `\n${block}` : `${block}\n`;
  tree.write(file, text.slice(0, at) + insert + text.slice(at));
}

/** Inserts `block` after the line of the last match of `pattern` (a /g regex). */
export function insertAfterLast(tree: Tree, file: string, pattern: RegExp, block: string): void {
  const text = read(tree, file);
  const matches = [...text.matchAll(pattern)];
  const last = matches.at(-1);
  if (last === undefined) throw new GeneratorError(`${file}: found no ${String(pattern)}`);
  const end = text.indexOf('\n', last.index) + 1;
  tree.write(file, text.slice(0, end) + block + text.slice(end));
}
