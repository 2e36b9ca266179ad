// tools/deploy/build-app.mjs refuses bad arguments with one line on stderr, before building anything.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const script = path.join(__dirname, '..', 'build-app.mjs');
const run = (args: string[]) =>
  spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 30_000 });
const USAGE = 'usage: node tools/deploy/build-app.mjs <app> <out-dir>   (<app>: a folder of apps/)';

describe('build-app.mjs arguments', () => {
  it('wants an app and an output directory', () => {
    const result = run(['order-api']);
    expect(result.stderr).toBe(`build-app: ${USAGE}\n`);
    expect(result.status).toBe(1);
  });

  it('refuses a folder that is not an app', () => {
    const result = run(['no-such-app', path.join(os.tmpdir(), 'never-written')]);
    expect(result.stderr).toBe(
      `build-app: "no-such-app" is not an app: no apps/no-such-app/project.json. ${USAGE}\n`,
    );
    expect(result.status).toBe(1);
  });

  it('refuses an output directory that is not empty, leaving it alone', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-out-'));
    try {
      fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine');
      const result = run(['order-api', dir]);
      expect(result.stderr).toBe(`build-app: ${dir} is not empty: give a new or empty directory\n`);
      expect(result.status).toBe(1);
      expect(fs.readdirSync(dir)).toEqual(['keep.txt']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
