// What the benchmarks record about the machine and the code they ran on, and the wait for a
// quiet machine before they start (the machine is shared).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

/** The 1-minute load average. */
export function load1(): number {
  try {
    return Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return os.loadavg()[0] ?? 0;
  }
}

/** The busiest processes right now (what the benchmark waits for). */
function busiest(): string {
  const ps = spawnSync('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' });
  if (ps.status !== 0) return '';
  return ps.stdout
    .split('\n')
    .slice(0, 4)
    .map((line) => line.trim().replace(/\s+/, '% '))
    .filter((line) => line !== '')
    .join(', ');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the 1-minute load average is below `maxLoad`, at most `loadWaitS` seconds. */
export async function waitForQuiet(
  { maxLoad, loadWaitS }: { maxLoad: number; loadWaitS: number },
  aborted: () => boolean,
  progress: (line: string) => void,
) {
  const start = Date.now();
  if (maxLoad <= 0) return { waitedS: 0, load: load1(), gaveUp: false };
  let lastPrint = 0;
  for (;;) {
    const load = load1();
    const waitedS = (Date.now() - start) / 1000;
    if (load < maxLoad) {
      if (waitedS > 0.1)
        progress(`1-minute load ${load.toFixed(2)} < ${maxLoad} after ${waitedS.toFixed(0)} s: starting`);
      return { waitedS, load, gaveUp: false };
    }
    if (waitedS >= loadWaitS || aborted()) {
      progress(
        `1-minute load still ${load.toFixed(2)} after ${waitedS.toFixed(0)} s: starting anyway (noted in the results)`,
      );
      return { waitedS, load, gaveUp: true };
    }
    if (Date.now() - lastPrint >= 15_000) {
      lastPrint = Date.now();
      progress(
        `waiting for the 1-minute load average to drop below ${maxLoad}: now ${load.toFixed(2)} (${waitedS.toFixed(0)}/${loadWaitS} s; busiest: ${busiest()})`,
      );
    }
    await sleep(5_000);
  }
}

/** The Kafka version the local stack runs (tools/local-stack/pom.xml). */
export function kafkaVersion(): string {
  try {
    const pom = fs.readFileSync(path.join(root, 'tools', 'local-stack', 'pom.xml'), 'utf8');
    return pom.match(/<kafka\.version>([^<]+)<\/kafka\.version>/)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function git(args: string[]): string {
  const result = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : '';
}

/** The commit the benchmark ran on, noting uncommitted changes to tracked files. */
export function commitLabel(): string {
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no'])
    .split('\n')
    .filter((l) => l !== '').length;
  return dirty > 0 ? `${commit} (+ uncommitted changes in ${dirty} tracked files)` : commit;
}
