// The generators end to end, the steps of docs/how-to/add-a-domain.md: in a scratch copy of the
// workspace, an event, a producer, a consumer and a projection for a billing domain; then
// typecheck, lint and unit tests of what they made, the deployment checks, the topics plan, the
// projection commands and npm start's list that must name it, and the services' e2e tests
// against the real stack. What those create on the shared stack under
// the catalog's names (the billing topic and its subject) is deleted afterwards.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { testInfra, testKafka } from '@tideline/testing';
import { scratchWorkspace } from './scratch';

const TOPIC = 'billing.invoice-issued.v1';
const APPS = ['billing-api', 'billing-processor', 'invoices-projection'];
let scratch: ReturnType<typeof scratchWorkspace>;
let dryRun: { output: string; wrote: string[] };

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    // Under `npm test`, nx passes FORCE_COLOR on: the output is matched as plain text.
    const output = execFileSync(command, args, {
      cwd: scratch.dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_NO_WARNINGS: '1', NX_DAEMON: 'false', FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return stripVTControlCharacters(output);
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(
      stripVTControlCharacters(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`),
    );
  }
}

beforeAll(() => {
  scratch = scratchWorkspace();
  run('npx', ['nx', 'g', '@tideline/nx:event', 'billing', 'InvoiceIssued']);
  run('npx', ['nx', 'g', '@tideline/nx:service', 'billing-api', '--kind', 'producer']);
  run('npx', [
    'nx',
    'g',
    '@tideline/nx:service',
    'billing-processor',
    '--kind',
    'consumer',
    '--consumes',
    TOPIC,
  ]);
  // --dry-run first: it must list what it would write and write nothing (checked below).
  const output = run('npx', [
    'nx',
    'g',
    '@tideline/nx:projection',
    'invoices',
    '--consumes',
    TOPIC,
    '--dry-run',
  ]);
  dryRun = {
    output,
    wrote: ['libs/read-models/src/invoices', 'apps/invoices-projection'].filter((dir) =>
      fs.existsSync(path.join(scratch.dir, dir)),
    ),
  };
  run('npx', ['nx', 'g', '@tideline/nx:projection', 'invoices', '--consumes', TOPIC]);
}, 120_000);

afterAll(async () => {
  try {
    await deleteBillingTopic();
  } finally {
    scratch?.remove();
  }
});

/** The catalog topic and subject the e2e tests provisioned under the catalog's (fixed) name. */
async function deleteBillingTopic(): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    if ((await admin.listTopics()).includes(TOPIC)) await admin.deleteTopics({ topics: [TOPIC] });
  } finally {
    await admin.disconnect();
  }
  const subject = `${testInfra().registryUrl}/subjects/${TOPIC}-value`;
  await fetch(subject, { method: 'DELETE' });
  await fetch(`${subject}?permanent=true`, { method: 'DELETE' });
}

it('writes nothing on --dry-run, listing what it would write', () => {
  expect(dryRun.output).toMatch(/^CREATE libs\/read-models\/src\/invoices\/definition\.ts$/m);
  expect(dryRun.output).toMatch(/^UPDATE tools\/scripts\/services\.json$/m);
  expect(dryRun.wrote).toEqual([]);
});

it('makes projects that pass typecheck, lint and their unit tests', () => {
  const output = run('npx', [
    'nx',
    'run-many',
    '-t',
    'typecheck',
    'lint',
    'test',
    '-p',
    ...APPS,
    'read-models', // the projection's definition and fold test
    '--skip-nx-cache',
  ]);
  expect(output).toMatch(/Successfully ran targets typecheck, lint, test for 4 projects/);
}, 180_000);

it('shows up in the topics plan and passes the compose, k8s, Dockerfile and Strimzi checks', () => {
  const plan = run('npx', ['tideline', 'topics', 'plan', '--replication', '1']);
  expect(plan).toMatch(new RegExp(`^(create|ok|unchanged)\\s+${TOPIC.replaceAll('.', '\\.')}`, 'm'));
  expect(plan).toMatch(/^(create|ok|unchanged)\s+billing-processor\.dlt/m);
  expect(plan).toMatch(/^(create|ok|unchanged)\s+invoices-projection\.dlt/m);
  const checks = run('npx', [
    'jest',
    '-c',
    'tools/deploy/jest.config.cjs',
    'tools/deploy/test/compose.spec.ts',
    'tools/deploy/test/k8s.spec.ts',
    'tools/deploy/test/dockerfiles.spec.ts',
  ]);
  expect(checks).toBeDefined();
  run('npx', ['jest', '-c', 'apps/ops/jest.config.cjs', 'apps/ops/src/manifests/strimzi.spec.ts']);
}, 180_000);

it('registers the projection for tideline projection and every service for npm start', () => {
  // Without a name the command lists the projections it knows (usage error, exit 2).
  const status = spawnSync('npx', ['tideline', 'projection', 'status'], {
    cwd: scratch.dir,
    encoding: 'utf8',
  });
  expect({ code: status.status, stderr: status.stderr.trim() }).toEqual({
    code: 2,
    stderr: expect.stringContaining('invoices-projection') as unknown,
  });
  const list = run(process.execPath, ['tools/scripts/start.mjs', '--list']).trim().split('\n');
  expect(list.slice(0, 5).map((line) => line.split(' ')[0])).toEqual([
    'api',
    'processor-1',
    'processor-2',
    'projection',
    'sales',
  ]);
  expect(list.slice(5)).toEqual([
    'billing-api apps/billing-api/src/main.ts 3004',
    'billing-processor apps/billing-processor/src/main.ts 3005',
    'invoices-projection apps/invoices-projection/src/main.ts 3006',
  ]);
});

it("passes the generated services' e2e tests against the real stack", () => {
  const passed = APPS.filter((app) => {
    run('npx', ['jest', '-c', `apps/${app}/jest.int.config.cjs`, '--runInBand'], {
      NODE_OPTIONS: '--conditions=@tideline/source',
    });
    return true;
  });
  expect(passed).toEqual(APPS);
}, 180_000);
