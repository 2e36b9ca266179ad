import fs from 'node:fs';
import path from 'node:path';

let version: string | undefined;

/** The ops package's version: its package.json sits beside src/ (sources) and dist/ (the built CLI, images). */
export function cliVersion(): string {
  version ??= (
    JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
  ).version;
  return version;
}
