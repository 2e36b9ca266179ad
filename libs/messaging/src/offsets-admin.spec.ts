import { isMessagingError } from './errors';
import { parseOffsetTarget, type OffsetTarget } from './offsets-admin';

describe('parseOffsetTarget', () => {
  it.each<[string, OffsetTarget]>([
    ['earliest', { kind: 'earliest' }],
    ['latest', { kind: 'latest' }],
    [' LATEST ', { kind: 'latest' }],
    ['2026-11-23T10:00:00Z', { kind: 'timestamp', timestamp: Date.UTC(2026, 10, 23, 10) }],
    ['2026-11-23T10:00Z', { kind: 'timestamp', timestamp: Date.UTC(2026, 10, 23, 10) }],
    ['2026-11-23T10:00:00.123+01:00', { kind: 'timestamp', timestamp: Date.UTC(2026, 10, 23, 9, 0, 0, 123) }],
    [
      '2026-11-23T10:00:00.1239-0230',
      { kind: 'timestamp', timestamp: Date.UTC(2026, 10, 23, 12, 30, 0, 123) },
    ],
    ['2028-02-29T23:59:59Z', { kind: 'timestamp', timestamp: Date.UTC(2028, 1, 29, 23, 59, 59) }],
    ['1970-01-01T00:00:00Z', { kind: 'timestamp', timestamp: 0 }],
    ['0:15', { kind: 'offsets', offsets: [{ partition: 0, offset: '15' }] }],
    [
      '0:15,1:20, 7:0',
      {
        kind: 'offsets',
        offsets: [
          { partition: 0, offset: '15' },
          { partition: 1, offset: '20' },
          { partition: 7, offset: '0' },
        ],
      },
    ],
    [
      '3:9223372036854775807',
      { kind: 'offsets', offsets: [{ partition: 3, offset: '9223372036854775807' }] },
    ],
  ])('accepts %j', (spec, expected) => {
    expect(parseOffsetTarget(spec)).toEqual(expected);
  });

  it.each<[string, string]>([
    [
      'yesterday',
      '"yesterday" is not earliest, latest, an ISO time with a timezone, or partition:offset pairs',
    ],
    ['', '"" is not earliest, latest, an ISO time with a timezone, or partition:offset pairs'],
    ['15', '"15" is not earliest, latest'],
    ['2026-11-23T10:00:00', '"2026-11-23T10:00:00" has no timezone; add Z or an offset such as +01:00'],
    ['2026-11-23', '"2026-11-23" is not an ISO time with a timezone'],
    ['2026-11-23 10:00:00Z', '"2026-11-23 10:00:00Z" is not an ISO time with a timezone'],
    ['2026-02-30T10:00:00Z', '"2026-02-30T10:00:00Z" is not a valid date and time'],
    ['2026-11-23T24:00:00Z', '"2026-11-23T24:00:00Z" is not a valid date and time'],
    ['2026-13-01T10:00:00Z', '"2026-13-01T10:00:00Z" is not a valid date and time'],
    ['1969-12-31T23:59:59Z', 'is before 1970-01-01T00:00:00Z'],
    ['0:15,1:x', '"1:x" in "0:15,1:x" is not a partition:offset pair of non-negative integers'],
    ['-1:5', '"-1:5" is not a partition:offset pair of non-negative integers'],
    ['0:1.5', '"0:1.5" is not a partition:offset pair'],
    ['0:15,', '"0:15," has an empty partition:offset pair'],
    ['0:15,0:20', 'partition 0 appears more than once in "0:15,0:20"'],
    ['10:00', '"10:00" has a leading zero'],
    ['0:9223372036854775808', 'offset 9223372036854775808 in "0:9223372036854775808" is too large'],
    ['2147483648:0', 'partition 2147483648 in "2147483648:0" is too large'],
  ])('rejects %j as TDL_MSG_INVALID_OFFSET_SPEC naming the bad part', (spec, message) => {
    let caught: unknown;
    try {
      parseOffsetTarget(spec);
    } catch (error) {
      caught = error;
    }
    expect(isMessagingError(caught, 'TDL_MSG_INVALID_OFFSET_SPEC')).toBe(true);
    expect((caught as Error).message).toContain(message);
  });
});
