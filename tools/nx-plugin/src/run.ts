// The workspace commands a generator runs after its files are written (never on --dry-run).
import { execSync } from 'node:child_process';
import { logger } from '@nx/devkit';

export function runAfter(root: string, commands: readonly string[]): () => void {
  return () => {
    for (const command of commands) {
      logger.info(`> ${command}`);
      execSync(command, { cwd: root, stdio: 'inherit' });
    }
  };
}

/** After the catalog changed: libs/contracts and the Strimzi manifests follow it. */
export const CATALOG_FOLLOWERS = [
  'npx nx run contracts:generate --skip-nx-cache',
  'npm run manifests:strimzi --silent',
];
