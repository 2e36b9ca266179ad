// nx run contracts:generate — writes libs/contracts/src/generated from schemas/.
import fs from 'node:fs';
import path from 'node:path';
import { CatalogError, readCatalog } from '../src/catalog/read-catalog';
import { render } from './render';

export const workspaceRoot = path.resolve(__dirname, '..', '..', '..');
export const schemasDir = path.join(workspaceRoot, 'schemas');
export const generatedDir = path.resolve(__dirname, '..', 'src', 'generated');

function main(): void {
  const files = render(readCatalog(schemasDir));
  fs.mkdirSync(generatedDir, { recursive: true });
  for (const existing of fs.readdirSync(generatedDir)) {
    if (!files.has(existing)) fs.rmSync(path.join(generatedDir, existing));
  }
  for (const [name, content] of files) fs.writeFileSync(path.join(generatedDir, name), content);
  process.stdout.write(`generated ${files.size} files in ${path.relative(workspaceRoot, generatedDir)}\n`);
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    process.stderr.write(
      `contracts:generate: ${error instanceof CatalogError ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  }
}
