// A scratch copy of the workspace: the files git knows (committed or not, minus the ignored),
// and a node_modules of symlinks into the real one, except the workspace packages, which point
// into the copy (so the copy's generated code resolves the copy's libs/contracts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const workspaceRoot = path.resolve(__dirname, '..', '..', '..');

export function scratchWorkspace(): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-nx-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: workspaceRoot,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file !== '' && fs.existsSync(path.join(workspaceRoot, file)));
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(workspaceRoot, file), path.join(dir, file));
  }
  const real = path.join(workspaceRoot, 'node_modules');
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(modules, '.bin'), { recursive: true });
  for (const entry of fs.readdirSync(real)) {
    if (entry === '.bin' || entry === '@tideline' || entry === '.cache') continue;
    fs.symlinkSync(path.join(real, entry), path.join(modules, entry));
  }
  for (const bin of fs.readdirSync(path.join(real, '.bin')))
    fs.symlinkSync(
      fs.realpathSync(path.join(real, '.bin', bin)).replace(workspaceRoot, dir),
      path.join(modules, '.bin', bin),
    );
  fs.mkdirSync(path.join(modules, '@tideline'));
  for (const link of fs.readdirSync(path.join(real, '@tideline'))) {
    const target = path.relative(workspaceRoot, fs.realpathSync(path.join(real, '@tideline', link)));
    fs.symlinkSync(path.join(dir, target), path.join(modules, '@tideline', link));
  }
  execFileSync('git', ['init', '-q'], { cwd: dir });
  // fs.rm does not follow symlinks: the real node_modules stays.
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
