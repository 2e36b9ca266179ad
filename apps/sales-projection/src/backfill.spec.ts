import { Backfill } from './backfill';

const T = Date.UTC(2026, 10, 23, 12);
const partitions = [
  { topic: 'a', partition: 0, start: 0n, target: 100n },
  { topic: 'a', partition: 1, start: 40n, target: 60n },
  { topic: 'b', partition: 0, start: 7n, target: 7n },
];

it('counts from the start positions to the ends seen at start', () => {
  const backfill = new Backfill(partitions, T);
  expect(backfill.progress).toMatchObject({ total: 120, done: 0, caughtUp: false, caughtUpAt: null });
  const progress = backfill.update(new Map([['a:0', 50n]]), T + 2_000);
  expect(progress).toMatchObject({ total: 120, done: 50, caughtUp: false, eventsPerSecond: 25 });
});

it('is caught up once every partition reached its end, and stays so', () => {
  const backfill = new Backfill(partitions, T);
  backfill.update(
    new Map([
      ['a:0', 100n],
      ['a:1', 59n],
    ]),
    T + 1_000,
  );
  expect(backfill.progress.caughtUp).toBe(false);
  // Past the end (new events arrived meanwhile) counts as the end.
  const done = backfill.update(
    new Map([
      ['a:0', 130n],
      ['a:1', 61n],
    ]),
    T + 4_000,
  );
  expect(done).toMatchObject({ total: 120, done: 120, caughtUp: true, eventsPerSecond: 30 });
  expect(done.caughtUpAt).toBe(new Date(T + 4_000).toISOString());
  // A position read lower later (another instance's older view) does not undo it.
  expect(backfill.update(new Map(), T + 9_000)).toMatchObject({ caughtUp: true, eventsPerSecond: 30 });
});

it('has nothing to do when the topics are empty or the projection is at their ends', () => {
  const backfill = new Backfill([{ topic: 'a', partition: 0, start: 10n, target: 10n }], T);
  expect(backfill.progress).toMatchObject({ total: 0, done: 0, caughtUp: true });
  // A start past the end (a retention or reset oddity) counts as nothing to do, not negative.
  expect(new Backfill([{ topic: 'a', partition: 0, start: 12n, target: 10n }], T).progress.total).toBe(0);
});
