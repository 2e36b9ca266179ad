import type { GroupLagSummary, OffsetResetPlan } from '@tideline/messaging';
import { table, formatAge } from '../format';
import { everyGroupLines } from './groups';
import { replayLines, replayPlan } from './replay';
import { describeChange } from './schemas';

const kafkaPlan = (partitions: OffsetResetPlan['partitions']): OffsetResetPlan => ({
  groupId: 'order-processor',
  topic: 'orders.order-placed.v1',
  target: { kind: 'timestamp', timestamp: Date.UTC(2026, 10, 23, 10) },
  state: 'Empty',
  members: [],
  partitions,
});

const p = (partition: number, from: string | null, to: string, low = '0') => ({
  partition,
  low,
  high: '5000',
  from,
  to,
  delta: Number(BigInt(to) - BigInt(from ?? low)),
});

describe('replay plan', () => {
  it('counts records to reprocess (moving back) and to skip (moving forward) per partition', () => {
    const plan = replayPlan(kafkaPlan([p(0, '1500', '1200'), p(1, '900', '900'), p(2, null, '100', '40')]), {
      status: 'none',
    });
    expect(plan.moves).toEqual([
      { partition: 0, from: '1500', to: '1200', reprocess: 300, skip: 0 },
      { partition: 1, from: '900', to: '900', reprocess: 0, skip: 0 },
      { partition: 2, from: null, to: '100', reprocess: 0, skip: 60 },
    ]);
    expect(plan).toMatchObject({ reprocess: 300, skip: 60 });
    expect(replayLines(plan)).toEqual([
      'replay of group order-processor on orders.order-placed.v1 to 2026-11-23T10:00:00.000Z',
      'PARTITION  FROM    TO  EFFECT',
      '        0  1500  1200  reprocess 300',
      '        1   900   900  unchanged',
      '        2     -   100  SKIP 60',
      'total: reprocess 300 records, SKIP 60 records (never processed)',
    ]);
  });

  it('measures a projection from its stored positions, which move too, and says when they could not be checked', () => {
    const found = replayPlan(kafkaPlan([p(0, '1500', '1200'), p(1, '1500', '1200')]), {
      status: 'found',
      positions: new Map([[0, '1490']]),
    });
    expect(found.moves.map((m) => [m.from, m.reprocess])).toEqual([
      ['1490', 290],
      ['1500', 300],
    ]);
    expect(replayLines(found).at(-1)).toMatch(
      /^projection order-processor: its positions in PostgreSQL move too/,
    );
    const unknown = replayPlan(kafkaPlan([p(0, '1', '0')]), {
      status: 'not-checked',
      reason: 'PostgreSQL did not answer',
    });
    expect(replayLines(unknown).at(-1)).toBe('projection positions not checked: PostgreSQL did not answer');
  });
});

describe('formatting', () => {
  it('aligns table columns, numbers to the right', () => {
    expect(
      table(
        ['NAME', 'COUNT', 'NOTE'],
        [
          ['a', '1,200', 'x'],
          ['bbb', '7', 'long note'],
        ],
      ),
    ).toEqual(['NAME  COUNT  NOTE', 'a     1,200  x', 'bbb       7  long note']);
  });

  it('says how old something is', () => {
    expect([45_000, 720_000, 12_000_000, 360_000_000].map(formatAge)).toEqual([
      '45s',
      '12m',
      '3h 20m',
      '4d 4h',
    ]);
  });

  it('shows schema changes field by field', () => {
    expect(describeChange({ kind: 'added', path: 'channel', type: '[null,string]', default: null })).toBe(
      '+ channel  [null,string] = null',
    );
    expect(describeChange({ kind: 'removed', path: 'coupon', type: 'string' })).toBe('- coupon  string');
    expect(describeChange({ kind: 'type', path: 'lines[].quantity', from: 'int', to: 'long' })).toBe(
      '~ lines[].quantity  int → long',
    );
    expect(describeChange({ kind: 'default', path: 'note', to: '' })).toBe('~ note  default (none) → ""');
  });
});

describe('groups lag of every group', () => {
  const group = (
    groupId: string,
    offsetLag: number | null,
    timeLagMs: number | null,
    topics: string[],
    members = 0,
  ): GroupLagSummary => ({
    groupId,
    state: members > 0 ? 'Stable' : 'Empty',
    protocolType: 'consumer',
    members: Array.from({ length: members }, (_, i) => ({
      memberId: `m${i}`,
      clientId: `c${i}`,
      host: '/10.0.0.1',
      assignments: {},
    })),
    partitions: topics.map((topic) => ({
      topic,
      partition: 0,
      committed: offsetLag === null ? null : '0',
      low: '0',
      high: '0',
      offsetLag: 0,
      timeLagMs: 0,
    })),
    offsetLag,
    timeLagMs,
  });

  it('shows one row per group, records and age behind, "-" for a group with no committed offsets, and a summary', () => {
    expect(
      everyGroupLines([
        group('order-processor', 1204, 200_000, ['orders.order-placed.v1', 'catalog.product-updated.v1'], 2),
        group('order-projection', 0, 0, ['orders.order-confirmed.v1'], 1),
        group('sales-projection', null, null, ['orders.order-confirmed.v1'], 1),
        group('old-tool', null, null, []),
      ]),
    ).toEqual([
      'GROUP             STATE   MEMBERS    LAG  TIME LAG  TOPICS',
      'order-processor   Stable        2  1,204  3m        orders.order-placed.v1, catalog.product-updated.v1',
      'order-projection  Stable        1      0  -         orders.order-confirmed.v1',
      'sales-projection  Stable        1      -  -         no committed offsets (assigned orders.order-confirmed.v1)',
      'old-tool          Empty         0      -  -         no committed offsets',
      '',
      '4 groups: 1 behind (1,204 records in all), 2 with no committed offsets',
    ]);
  });

  it('says when there is no group, or none reads the topic', () => {
    expect(everyGroupLines([])).toEqual(['no consumer groups']);
    expect(everyGroupLines([], 'orders.order-placed.v1')).toEqual([
      'no consumer group reads orders.order-placed.v1',
    ]);
  });
});
