// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtime = require('../runtime.cjs') as { newClusterId(): string };

it('makes KRaft cluster ids that kafka-storage cannot read as an option', () => {
  // About 1 in 64 random ids would start with "-": 5,000 make a miss all but impossible.
  const ids = Array.from({ length: 5_000 }, () => runtime.newClusterId());
  expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
  expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
  expect(new Set(ids).size).toBe(ids.length);
});
