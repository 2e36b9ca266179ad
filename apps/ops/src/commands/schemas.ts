import { checkSchemas, isMessagingError, registerSchemas } from '@tideline/messaging';
import { CliError } from '../cli-error';
import type { CommandContext } from '../context';

function asCliError(error: unknown): unknown {
  return isMessagingError(error) ? new CliError(error.message) : error;
}

/** `schemas check`: each local schema vs the latest registered version. Exit 1 when any is incompatible. */
export async function schemasCheck(ctx: CommandContext): Promise<void> {
  const checks = await checkSchemas(ctx.codec(), ctx.config.SCHEMA_REGISTRY_URL, ctx.topics).catch(
    (error: unknown) => {
      throw asCliError(error);
    },
  );
  for (const check of checks) {
    ctx.out.line(
      `${check.status.padEnd(12)} ${check.subject}${check.latestId === undefined ? '' : ` (latest id ${check.latestId})`}`,
    );
    for (const reason of check.reasons) ctx.out.line(`             ${reason}`);
  }
  ctx.out.result({ checks });
  const incompatible = checks.filter((c) => c.status === 'incompatible');
  if (incompatible.length > 0) {
    throw new CliError(
      `incompatible schema change: ${incompatible.map((c) => `${c.subject}: ${c.reasons.join('; ')}`).join(' | ')}`,
    );
  }
}

/** `schemas register`: registers every local schema; a dry run unless --execute. */
export async function schemasRegister(ctx: CommandContext): Promise<void> {
  if (!ctx.execute) {
    const checks = await checkSchemas(ctx.codec(), ctx.config.SCHEMA_REGISTRY_URL, ctx.topics).catch(
      (error: unknown) => {
        throw asCliError(error);
      },
    );
    for (const check of checks) {
      const verb =
        check.status === 'unchanged' ? 'keep' : check.status === 'incompatible' ? 'REFUSED' : 'register';
      ctx.out.line(
        `${verb.padEnd(9)} ${check.subject}${check.reasons.length ? `: ${check.reasons.join('; ')}` : ''}`,
      );
    }
    ctx.out.line('dry run: nothing registered; add --execute to register');
    ctx.out.result({ dryRun: true, checks });
    return;
  }
  const registered = await registerSchemas(ctx.codec(), ctx.topics).catch((error: unknown) => {
    throw asCliError(error);
  });
  for (const entry of registered) ctx.out.line(`registered ${entry.subject} (id ${entry.id})`);
  ctx.out.result({ dryRun: false, registered });
}
