// What `npm start` runs (`start.mjs --list`, which starts nothing): the built-in services as
// they always were, then every service tools/scripts/services.json lists (the generators add
// theirs there; tools/nx-plugin's integration test checks generated ones appear).
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '@tideline/testing';

const scripts = path.join(__dirname, '..');
const startScript = path.join(scripts, 'start.mjs');
const generated = (
  JSON.parse(fs.readFileSync(path.join(scripts, 'services.json'), 'utf8')) as {
    services: { name: string; port: number }[];
  }
).services;

/** start.mjs's environment without the caller's port and group settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/_PORTS?$|_GROUP_ID$/.test(name)) delete env[name];
  return env;
}

it('lists the built-in services first, exactly as before, then the generated ones', async () => {
  const { code, stdout, stderr } = await runCli(process.execPath, [startScript, '--list'], {
    env: cleanEnv(),
  });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout.trim().split('\n')).toEqual([
    'api apps/order-api/src/main.ts 3000',
    'processor-1 apps/order-processor/src/main.ts 3001',
    'processor-2 apps/order-processor/src/main.ts 3011',
    'projection apps/order-projection/src/main.ts 3002',
    'sales apps/sales-projection/src/main.ts 3003',
    ...generated.map((s) => `${s.name} apps/${s.name}/src/main.ts ${s.port}`),
  ]);
});

it('takes the built-in ports from the environment as before', async () => {
  const { code, stdout } = await runCli(process.execPath, [startScript, '--list'], {
    env: { ...cleanEnv(), API_PORT: '4000', PROCESSOR_PORTS: '4001', SALES_PROJECTION_PORT: '4003' },
  });
  expect(code).toBe(0);
  expect(stdout.trim().split('\n').slice(0, 4)).toEqual([
    'api apps/order-api/src/main.ts 4000',
    'processor-1 apps/order-processor/src/main.ts 4001',
    'projection apps/order-projection/src/main.ts 3002',
    'sales apps/sales-projection/src/main.ts 4003',
  ]);
});
