// npm start: the whole thing on this machine. Today that is the infrastructure with its
// topics and schemas in place; the services join here as they are built.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaults, infraAnswers, infraConfigured } from './infra.mjs';
import { run } from './run.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tideline = path.join(root, 'apps', 'ops', 'bin', 'tideline.cjs');

async function main() {
  if (!infraConfigured() || !(await infraAnswers())) {
    if (infraConfigured()) {
      process.stderr.write('start: KAFKA_BROKERS / SCHEMA_REGISTRY_URL are set but do not answer\n');
      return 1;
    }
    const code = await run(process.execPath, [path.join(root, 'tools', 'local-stack', 'stack.mjs'), 'up'], {
      cwd: root,
    });
    if (code !== 0) return code;
  }
  for (const args of [
    ['topics', 'apply', '--execute'],
    ['schemas', 'register', '--execute'],
  ]) {
    process.stdout.write(`\n$ tideline ${args.join(' ')}\n`);
    const code = await run(process.execPath, [tideline, ...args], { cwd: root });
    if (code !== 0) return code;
  }
  const env = { ...defaults, ...process.env };
  process.stdout.write(`
Tideline is up.
  Kafka            ${env.KAFKA_BROKERS}
  Schema registry  ${env.SCHEMA_REGISTRY_URL}
  PostgreSQL       ${env.DATABASE_URL}
  Topics           npx tideline topics plan
  Stop             npm run stack:down
`);
  return 0;
}

process.exitCode = await main();
