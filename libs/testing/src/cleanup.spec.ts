import { added, describeNames, scoped, type StackNames } from './cleanup';
import { isTestRunName, newRunId, TEST_RUN_VARIABLE, testScope, uniqueName } from './names';

const stack = (names: Partial<StackNames>): StackNames => ({
  topics: [],
  groups: [],
  subjects: [],
  databases: [],
  ...names,
});

describe('what a test run leaves behind', () => {
  const saved = process.env[TEST_RUN_VARIABLE];
  afterEach(() => {
    if (saved === undefined) delete process.env[TEST_RUN_VARIABLE];
    else process.env[TEST_RUN_VARIABLE] = saved;
    delete globalThis.__tidelineTestScope;
  });

  it('puts the file scope, else the run id, in every name, and only [a-z0-9] of it', () => {
    const run = newRunId();
    expect(run).toMatch(/^[0-9a-z]{12}$/);
    process.env[TEST_RUN_VARIABLE] = run;
    expect(uniqueName('group')).toMatch(new RegExp(`^group-${run}-[0-9a-f]{6}$`));
    globalThis.__tidelineTestScope = `${run}beef`;
    expect(testScope()).toBe(`${run}beef`);
    expect(uniqueName('order-processor-e2e')).toContain(`-${run}beef-`);
  });

  it("tells a test run's names (any run, old or new format) from the stack's own", () => {
    for (const name of [
      uniqueName('read'),
      'order-processor-e2e-mx669jvp-32e145.retry.1',
      'order-processor-run-mx66q6da6a49ae77-982341.table.catalog.product-updated.v1.01a2',
      'tdl_orders_e2e_mx669jvp3a7f_32e145',
    ])
      expect({ name, test: isTestRunName(name) }).toEqual({ name, test: true });
    for (const name of [
      'orders.order-placed.v1',
      'order-processor.dlt',
      'apicurio-91b00f14-afa7-4f7f-aa5e-f599bf641821',
      'hyg-unattributed-1796219196519',
      'tideline',
    ])
      expect({ name, test: isTestRunName(name) }).toEqual({ name, test: false });
  });

  it('finds what carries a scope and what is new since a snapshot', () => {
    const before = stack({ topics: ['orders.order-placed.v1'], groups: ['order-processor'] });
    const after = stack({
      topics: ['orders.order-placed.v1', 'g-abc123def456-aaaaaa.dlt', 'stray'],
      groups: ['order-processor', 'g-abc123def456-aaaaaa'],
      databases: ['tdl_abc123def456_aaaaaa'],
    });
    expect(scoped(after, 'abc123def456')).toEqual(
      stack({
        topics: ['g-abc123def456-aaaaaa.dlt'],
        groups: ['g-abc123def456-aaaaaa'],
        databases: ['tdl_abc123def456_aaaaaa'],
      }),
    );
    expect(added(before, after, (name) => !isTestRunName(name))).toEqual(stack({ topics: ['stray'] }));
    expect(describeNames(added(before, after))).toBe(
      'topics: g-abc123def456-aaaaaa.dlt, stray; groups: g-abc123def456-aaaaaa; databases: tdl_abc123def456_aaaaaa',
    );
    expect(describeNames(stack({}))).toBe('');
  });
});
