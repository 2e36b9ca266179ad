// The new app as an npm workspace in package-lock.json, as `npm install` would record it, so
// `npm ci` accepts the lockfile without a network round trip.
import type { Tree } from '@nx/devkit';

export function addWorkspaceToLockfile(
  tree: Tree,
  dir: string,
  manifest: { name: string; version: string; dependencies: Record<string, string> },
): void {
  const text = tree.read('package-lock.json', 'utf-8');
  if (text === null) return;
  const lock = JSON.parse(text) as { packages: Record<string, unknown> };
  const packages: Record<string, unknown> = {
    ...lock.packages,
    [dir]: manifest,
    [`node_modules/${manifest.name}`]: { resolved: dir, link: true },
  };
  // npm's order: the root first, then by localeCompare in English.
  const keys = Object.keys(packages).sort((a, b) =>
    a === '' ? -1 : b === '' ? 1 : a.localeCompare(b, 'en'),
  );
  lock.packages = Object.fromEntries(keys.map((key) => [key, packages[key]]));
  tree.write('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
}
