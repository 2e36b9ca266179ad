import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromiumArgs, chromiumExecutable } from './browser';

describe('the browser for browser tests', () => {
  const saved = { PATH: process.env['PATH'], CHROMIUM_PATH: process.env['CHROMIUM_PATH'] };
  let dir = '';

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'browser-spec-'));
    delete process.env['CHROMIUM_PATH'];
  });

  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes CHROMIUM_PATH first, and refuses one that does not exist', async () => {
    process.env['CHROMIUM_PATH'] = path.join(dir, 'missing');
    await expect(chromiumExecutable()).rejects.toThrow(`CHROMIUM_PATH=${dir}/missing does not exist`);
    const file = path.join(dir, 'my-chrome');
    writeFileSync(file, '');
    process.env['CHROMIUM_PATH'] = file;
    await expect(chromiumExecutable()).resolves.toEqual({ path: file, source: 'CHROMIUM_PATH' });
  });

  it('prefers a system Chromium on PATH', async () => {
    const file = path.join(dir, 'chromium');
    writeFileSync(file, '#!/bin/sh\n');
    chmodSync(file, 0o755);
    process.env['PATH'] = dir;
    await expect(chromiumExecutable()).resolves.toEqual({ path: file, source: 'system' });
  });

  it('falls back to the headless shell shipped inside the npm package, unpacked once', async () => {
    process.env['PATH'] = dir; // no browser there
    const first = await chromiumExecutable();
    expect(first.source).toBe('@sparticuz/chromium');
    expect(first.path).toMatch(/node_modules\/\.cache\/tideline-chromium\/[0-9.]+\/chromium$/);
    await expect(chromiumExecutable()).resolves.toEqual(first);
  }, 60_000);

  it('runs without a sandbox only as root, and never calls home', () => {
    const args = chromiumArgs();
    expect(args.includes('--no-sandbox')).toBe(process.getuid?.() === 0);
    expect(args).toEqual(
      expect.arrayContaining([
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ]),
    );
  });
});
