// The generators end to end, the steps of docs/how-to/add-a-domain.md: in a scratch copy of the
// workspace, an event, a producer and a consumer for a billing domain; then typecheck, lint and
// unit tests of what they made, the deployment checks and the topics plan that must list it, and
// the services' e2e tests against the real stack. What those create on the shared stack under
// the catalog's names (the billing topic and its subject) is deleted afterwards.
import { execFileSync } from 'node:child_process';
import { testInfra, testKafka } from '@tideline/testing';
import { scratchWorkspace } from './scratch';

const TOPIC = 'billing.invoice-issued.v1';
let scratch: ReturnType<typeof scratchWorkspace>;

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, {
      cwd: scratch.dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_NO_WARNINGS: '1', NX_DAEMON: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
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

it('makes projects that pass typecheck, lint and their unit tests', () => {
  const output = run('npx', [
    'nx',
    'run-many',
    '-t',
    'typecheck',
    'lint',
    'test',
    '-p',
    'billing-api',
    'billing-processor',
    '--skip-nx-cache',
  ]);
  expect(output).toMatch(/Successfully ran targets typecheck, lint, test for 2 projects/);
}, 180_000);

it('shows up in the topics plan and passes the compose, k8s, Dockerfile and Strimzi checks', () => {
  const plan = run('npx', ['tideline', 'topics', 'plan', '--replication', '1']);
  expect(plan).toMatch(new RegExp(`^(create|ok|unchanged)\\s+${TOPIC.replaceAll('.', '\\.')}`, 'm'));
  expect(plan).toMatch(/^(create|ok|unchanged)\s+billing-processor\.dlt/m);
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

it("passes the generated services' e2e tests against the real stack", () => {
  const passed = ['billing-api', 'billing-processor'].filter((app) => {
    run('npx', ['jest', '-c', `apps/${app}/jest.int.config.cjs`, '--runInBand'], {
      NODE_OPTIONS: '--conditions=@tideline/source',
    });
    return true;
  });
  expect(passed).toEqual(['billing-api', 'billing-processor']);
}, 180_000);
