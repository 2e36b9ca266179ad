import fs from 'node:fs';
import path from 'node:path';
import { CliError, usageError } from '../cli-error';
import type { CommandContext } from '../context';
import { strimziManifests } from '../manifests/strimzi';

const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function strimzi(ctx: CommandContext): void {
  const cluster = ctx.options.cluster ?? 'kafka';
  if (!CLUSTER_NAME.test(cluster))
    throw usageError(`--cluster must be a Kubernetes resource name (got "${cluster}")`);
  const files = strimziManifests(ctx.topics, { cluster });
  const out = ctx.options.out;
  if (ctx.options.check && out === undefined) throw usageError('--check needs --out DIR to compare with');
  if (out === undefined) {
    for (const [name, text] of Object.entries(files)) ctx.out.line(`# ${name}\n${text}`);
    ctx.out.result({ files });
    return;
  }
  const read = (name: string) => {
    try {
      return fs.readFileSync(path.join(out, name), 'utf8');
    } catch {
      return undefined;
    }
  };
  const differing = Object.keys(files).filter((name) => read(name) !== files[name]);
  if (ctx.options.check) {
    ctx.out.result({ differing });
    if (differing.length > 0)
      throw new CliError(
        `${differing.map((name) => path.join(out, name)).join(', ')} ${differing.length === 1 ? 'differs' : 'differ'} from the catalog; run tideline manifests strimzi --out ${out}`,
        'TDL_CLI_MANIFESTS_DRIFT',
      );
    ctx.out.line(`${out} matches the catalog`);
    return;
  }
  fs.mkdirSync(out, { recursive: true });
  for (const name of differing) fs.writeFileSync(path.join(out, name), files[name]!);
  for (const name of Object.keys(files))
    ctx.out.line(`${differing.includes(name) ? 'wrote    ' : 'unchanged'} ${path.join(out, name)}`);
  ctx.out.result({ written: differing, unchanged: Object.keys(files).filter((n) => !differing.includes(n)) });
}

/** `manifests strimzi [--out DIR] [--check]`: the Strimzi resources of the catalog. */
export const manifestsStrimzi = (ctx: CommandContext): Promise<void> =>
  Promise.resolve().then(() => strimzi(ctx));
