// npm test: lint, typecheck, unit tests and build of every project, then every
// integration test against real Kafka, registry and PostgreSQL. Brings the local stack
// up when nothing answers, and stops it again afterwards (TIDELINE_KEEP_STACK=1 keeps it).
// npm run test:faults (--faults): only the fault scenarios (every project's `faults/`), which
// start the clusters, PostgreSQL and proxies they break themselves besides the local stack.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { infraAnswers, infraConfigured } from './infra.mjs';
import { npx, run } from './run.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const resultsDir = path.join(root, 'dist', 'test-results');
const stack = path.join(root, 'tools', 'local-stack', 'stack.mjs');

function step(title) {
  process.stdout.write(`\n━━ ${title}\n`);
}

function summarize() {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let files = 0;
  for (const file of fs.existsSync(resultsDir) ? fs.readdirSync(resultsDir) : []) {
    if (!file.endsWith('.json')) continue; // a test may leave a screenshot beside the results
    const result = JSON.parse(fs.readFileSync(path.join(resultsDir, file), 'utf8'));
    passed += result.numPassedTests;
    failed += result.numFailedTests;
    skipped += result.numPendingTests + result.numTodoTests;
    files += 1;
  }
  return { passed, failed, skipped, files };
}

const faultsOnly = process.argv.includes('--faults');

async function main() {
  fs.rmSync(resultsDir, { recursive: true, force: true });
  if (faultsOnly) {
    // The jest set-up loads the libraries from their build output, as after `npm test`.
    step('build');
    const built = await npx(['nx', 'run-many', '-t', 'build', '--output-style=stream'], { cwd: root });
    if (built !== 0) return finish(built, false);
    return integration('fault scenarios (real processes under injected faults)', 'test-faults');
  }

  step('formatting (prettier --check)');
  let code = await npx(['prettier', '--check', '--log-level', 'warn', '.'], { cwd: root });
  if (code !== 0) return finish(code, false);

  step('lint, typecheck, unit tests, build');
  // The nx cache could restore a unit test's pass without its result file: run them for real.
  code = await npx(
    [
      'nx',
      'run-many',
      '-t',
      'lint',
      'typecheck',
      'test',
      'build',
      '--skip-nx-cache',
      '--output-style=stream',
    ],
    {
      cwd: root,
    },
  );
  if (code !== 0) return finish(code, false);
  return integration(
    'integration tests (real Kafka, registry, PostgreSQL; one project at a time)',
    'test-int',
  );
}

async function integration(title, target) {
  let code;
  let startedStack = false;
  if (!(await infraAnswers())) {
    if (infraConfigured()) {
      step(
        'KAFKA_BROKERS / SCHEMA_REGISTRY_URL are set but do not answer; the integration tests will say what is missing',
      );
    } else {
      step('starting the local stack (npm run stack:up)');
      code = await run(process.execPath, [stack, 'up'], { cwd: root });
      if (code !== 0) return finish(code, false);
      startedStack = process.env.TIDELINE_KEEP_STACK !== '1';
    }
  }

  step(title);
  // kafkajs 2.2.4 schedules a negative timeout on Node 24 (tulios/kafkajs#1751): harmless, but
  // Node prints a TimeoutNegativeWarning in every test process that talks to Kafka.
  const nodeOptions = [process.env.NODE_OPTIONS, '--disable-warning=TimeoutNegativeWarning'];
  code = await npx(
    ['nx', 'run-many', '-t', target, '--parallel=1', '--skip-nx-cache', '--output-style=stream'],
    { cwd: root, env: { ...process.env, NODE_OPTIONS: nodeOptions.filter(Boolean).join(' ') } },
  );
  return finish(code, startedStack);
}

async function finish(code, stopStack) {
  if (stopStack) {
    step('stopping the local stack this run started (TIDELINE_KEEP_STACK=1 keeps it running)');
    await run(process.execPath, [stack, 'down'], { cwd: root });
  }
  const { passed, failed, skipped, files } = summarize();
  process.stdout.write(
    `\n${files} test runs: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
  );
  if (code === 0 && failed > 0) code = 1;
  process.exitCode = code;
}

await main();
