import {
  checkSchemas,
  diffSchemas,
  isMessagingError,
  registerSchemas,
  type FieldChange,
} from '@tideline/messaging';
import { CliError, fromMessagingError } from '../cli-error';
import type { CommandContext } from '../context';

function asCliError(error: unknown): unknown {
  return isMessagingError(error) ? fromMessagingError(error) : error;
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
      'TDL_MSG_SCHEMA_INCOMPATIBLE',
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

const shown = (value: unknown): string => JSON.stringify(value);

/** One field change as a line: `+ channel  [null,string] = null`. Pure. */
export function describeChange(change: FieldChange): string {
  const def = (value: unknown, present: boolean) => (present ? ` = ${shown(value)}` : '');
  switch (change.kind) {
    case 'added':
      return `+ ${change.path}  ${change.type}${def(change.default, 'default' in change)}`;
    case 'removed':
      return `- ${change.path}  ${change.type}${def(change.default, 'default' in change)}`;
    case 'type':
      return `~ ${change.path}  ${change.from} → ${change.to}`;
    case 'default':
      return `~ ${change.path}  default ${'from' in change ? shown(change.from) : '(none)'} → ${'to' in change ? shown(change.to) : '(none)'}`;
    case 'doc':
      return `~ ${change.path}  doc ${'from' in change ? shown(change.from) : '(none)'} → ${'to' in change ? shown(change.to) : '(none)'}`;
  }
}

/** `schemas diff`: each local schema against the latest registered version, field by field (+ added, - removed, ~ changed). */
export async function schemasDiff(ctx: CommandContext): Promise<void> {
  const diffs = await diffSchemas(ctx.config.SCHEMA_REGISTRY_URL, ctx.topics).catch((error: unknown) => {
    throw asCliError(error);
  });
  for (const diff of diffs) {
    const registered =
      diff.latestId === undefined ? '' : ` (registered version ${diff.latestVersion}, id ${diff.latestId})`;
    if (diff.status === 'new-subject') ctx.out.line(`new        ${diff.subject}: not registered yet`);
    else if (diff.status === 'unchanged') ctx.out.line(`unchanged  ${diff.subject}${registered}`);
    else {
      ctx.out.line(`changed    ${diff.subject}${registered} → local:`);
      for (const change of diff.changes) ctx.out.line(`             ${describeChange(change)}`);
    }
  }
  ctx.out.result({ diffs });
}
