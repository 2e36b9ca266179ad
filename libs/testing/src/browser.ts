// The Chromium that browser tests drive. A system Chromium or Chrome when the machine has one;
// otherwise the headless shell that the @sparticuz/chromium package ships inside its tarball
// (brotli-compressed, no download at install or run time), unpacked once beside node_modules.
import { constants, createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';

const SYSTEM_BROWSERS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const PACKAGE = '@sparticuz/chromium';

export interface ChromiumBinary {
  path: string;
  /** Where it came from: `CHROMIUM_PATH`, the system's PATH, or the npm package. */
  source: 'CHROMIUM_PATH' | 'system' | typeof PACKAGE;
}

/**
 * Flags for a browser under test on a machine with no display and a closed network: without
 * the background-networking ones Chromium keeps calling Google's hosts, which are refused here.
 * (playwright's launch() adds headless mode and a new empty --user-data-dir per launch itself.)
 */
export function chromiumArgs(): string[] {
  return [
    // Chromium's sandbox refuses to run as root; elsewhere keep it.
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
  ];
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

async function onPath(names: readonly string[]): Promise<string | undefined> {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Unpacks the package's chromium.br once per package version (atomic rename, safe in parallel). */
async function packagedChromium(): Promise<string> {
  let entry: string;
  try {
    entry = require.resolve(PACKAGE);
  } catch (error) {
    throw new Error(
      `No Chromium found (CHROMIUM_PATH, ${SYSTEM_BROWSERS.join(', ')} on PATH) and ${PACKAGE} is not installed (npm ci installs it)`,
      { cause: error },
    );
  }
  // <node_modules>/@sparticuz/chromium/build/index.js → the package root and its node_modules.
  const packageDir = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  const nodeModules = path.resolve(packageDir, '..', '..');
  const dir = path.join(nodeModules, '.cache', 'tideline-chromium', version);
  const binary = path.join(dir, 'chromium');
  if (await isExecutable(binary)) return binary;
  await mkdir(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  try {
    await pipeline(
      createReadStream(path.join(packageDir, 'bin', 'chromium.br')),
      createBrotliDecompress(),
      createWriteStream(partial, { mode: 0o755 }),
    );
    await rename(partial, binary);
  } finally {
    await rm(partial, { force: true });
  }
  return binary;
}

/**
 * The browser to drive: `CHROMIUM_PATH` when set (it must exist), else a Chromium or Chrome on
 * PATH, else the headless shell from the npm package, so `npm ci && npm test` needs nothing else.
 */
export async function chromiumExecutable(): Promise<ChromiumBinary> {
  const configured = process.env['CHROMIUM_PATH'];
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} does not exist`);
    return { path: configured, source: 'CHROMIUM_PATH' };
  }
  const system = await onPath(SYSTEM_BROWSERS);
  if (system) return { path: system, source: 'system' };
  return { path: await packagedChromium(), source: PACKAGE };
}
