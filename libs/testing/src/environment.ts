// jest testEnvironment of the integration tests (see jest.preset.cjs): gives each test file a
// scope of its own (the run's id and a file id) that every uniqueName carries, and after the
// file, pass or fail, deletes every topic, group, subject and database whose name contains it:
// what its TestTopics, its services' groups, their retry and dead-letter topics and tables' groups
// made. Groups of members killed without leaving wait for the run's global teardown.
import { randomBytes } from 'node:crypto';
import { TestEnvironment } from 'jest-environment-node';
import { deleteScope, describeNames } from './cleanup';
import { TEST_RUN_VARIABLE, newRunId } from './names';

export default class TidelineTestEnvironment extends TestEnvironment {
  private readonly scope = `${(process.env[TEST_RUN_VARIABLE] ??= newRunId())}${randomBytes(2).toString('hex')}`;

  override async setup(): Promise<void> {
    await super.setup();
    this.global.__tidelineTestScope = this.scope;
  }

  override async teardown(): Promise<void> {
    try {
      const { left } = await deleteScope(this.scope);
      const rest = describeNames({ ...left, groups: [] });
      if (rest)
        process.stderr.write(`test clean-up: could not delete yet (${rest}); the run's teardown retries\n`);
    } catch (error) {
      process.stderr.write(`test clean-up of scope ${this.scope} failed: ${(error as Error).message}\n`);
    }
    await super.teardown();
  }
}
