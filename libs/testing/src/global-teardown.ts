// jest globalTeardown of every integration test run. The safety net: deletes whatever still
// carries the run's id (a failed test's, or the groups of services killed without leaving, once
// their sessions expired). Then the check: the stack holds no topic, group or database that was
// not there before the run, besides the catalog's own and what concurrent runs are using.
import { allTopics } from '@tideline/contracts';
import { added, deleteScope, describeNames, listStack } from './cleanup';
import { TEST_RUN_VARIABLE, isTestRunName } from './names';

/** How long the run waits for a killed member's session to expire (the services' default is 30 s). */
const GROUP_WAIT_MS = 45_000;

const catalogTopics = new Set(allTopics.map((t) => t.name));
const catalogGroups = [...new Set(allTopics.flatMap((t) => t.consumers))];

/**
 * Names the stack itself has: the catalog's topics, its groups and what they own (`<group>.retry.1`,
 * `<group>.dlt`, `<group>.table.…`; provisioned by tests on a fresh stack, used by `npm start`),
 * the broker's and the registry's internal ones, and the database the services default to.
 */
function belongsToStack(name: string): boolean {
  return (
    catalogTopics.has(name.replace(/-(key|value)$/, '')) ||
    catalogGroups.some((group) => name === group || name.startsWith(`${group}.`)) ||
    name.startsWith('__') ||
    /^(apicurio-|kafkasql-|registry-events$|_schemas$)/.test(name) ||
    ['postgres', 'template0', 'template1', 'tideline'].includes(name)
  );
}

export default async function globalTeardown(): Promise<void> {
  try {
    const run = process.env[TEST_RUN_VARIABLE];
    const before = globalThis.__tidelineStackBefore;
    if (run && before) {
      const { deleted, left } = await deleteScope(run, { groupWaitMs: GROUP_WAIT_MS });
      const swept = describeNames(deleted);
      if (swept) process.stderr.write(`\ntest run ${run}: deleted what its tests left (${swept})\n`);
      const stillThere = describeNames(left);
      const after = await listStack();
      // New since the run began and carrying its id: the clean-up could not delete it.
      const ours = describeNames(added(before, after, (name) => name.includes(run)));
      // New, carrying no run's id and not the catalog's: made under a name the clean-up cannot
      // attribute. On CI nothing else uses the stack, so that is this run's leak; on a shared
      // developer stack it may be someone else's, so it is only reported.
      const unattributed = describeNames(
        added(before, after, (name) => !name.includes(run) && !isTestRunName(name) && !belongsToStack(name)),
      );
      if (stillThere || ours || (unattributed && process.env['CI'] === 'true')) {
        throw new Error(
          `test run ${run} leaves the stack with more than it had: ${[stillThere || ours, unattributed].filter(Boolean).join('; ')}. ` +
            'Name what tests create with uniqueName (libs/testing) so the clean-up finds it.',
        );
      }
      if (unattributed)
        process.stderr.write(
          `test run ${run}: the stack has new names no run's id explains (${unattributed}): a leak, or someone else using the stack\n`,
        );
    }
  } finally {
    await globalThis.__tidelineStopContainers?.();
  }
}
