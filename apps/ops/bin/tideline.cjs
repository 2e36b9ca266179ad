#!/usr/bin/env node
// `npx tideline …` inside the repo runs the TypeScript sources through tsx, so it never
// runs a stale build. Images run the built CLI directly: `node apps/ops/dist/main.js`.
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const result = spawnSync(
  process.execPath,
  [
    require.resolve('tsx/cli'),
    '--conditions=@tideline/source',
    path.join(__dirname, '..', 'src', 'main.ts'),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
process.exitCode = result.status ?? 1;
