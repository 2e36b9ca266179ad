// Where a generator's template files are. The plugin's modules may load as ES modules (nx's
// native TypeScript stripping) or CommonJS (jest), so no __dirname: the plugin's folder in the
// workspace nx runs in.
import path from 'node:path';
import { workspaceRoot } from '@nx/devkit';

export const templatesOf = (generator: string, ...parts: string[]): string =>
  path.join(workspaceRoot, 'tools', 'nx-plugin', 'src', generator, 'files', ...parts);
