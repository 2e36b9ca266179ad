import {
  FAILURE_HEADERS,
  HEADER,
  headerProblem,
  identityOf,
  parseHeaders,
  readHeaders,
  withoutFailureHeaders,
  type Headers,
} from './headers';

describe('readHeaders', () => {
  it('returns no headers for a record without any', () => {
    expect(readHeaders(undefined)).toEqual({});
    expect(readHeaders({})).toEqual({});
  });

  it('decodes Buffer values as UTF-8 and keeps string values', () => {
    expect(
      readHeaders({
        [HEADER.eventId]: Buffer.from('e-1'),
        [HEADER.producer]: 'order-api',
        'x-note': Buffer.from('größe ✓', 'utf8'),
      }),
    ).toEqual({ [HEADER.eventId]: 'e-1', [HEADER.producer]: 'order-api', 'x-note': 'größe ✓' });
  });

  it('keeps the last value of a repeated header', () => {
    expect(
      readHeaders({
        [HEADER.attempts]: [Buffer.from('1'), Buffer.from('2'), Buffer.from('3')],
        mixed: ['first', Buffer.from('last')],
      }),
    ).toEqual({ [HEADER.attempts]: '3', mixed: 'last' });
  });

  it('skips undefined values and empty arrays', () => {
    expect(readHeaders({ present: 'yes', missing: undefined, none: [] })).toEqual({ present: 'yes' });
  });

  it('keeps an empty value as an empty string', () => {
    expect(readHeaders({ blank: Buffer.alloc(0), empty: '' })).toEqual({ blank: '', empty: '' });
  });
});

// Regression: a null header value (legal in Kafka, written by Kafka's console producer and any
// Java client) threw a TypeError in readHeaders outside any try, and the consumer crash-looped.
describe('readHeaders never throws', () => {
  it('skips null values and keeps the last non-null value of a repeated header', () => {
    expect(readHeaders({ gone: null, mixed: [Buffer.from('a'), null], nulls: [null, null] })).toEqual({
      mixed: 'a',
    });
  });
});

describe('parseHeaders', () => {
  const invalidUtf8 = Buffer.from([0xc3, 0x28]);

  it('reads a null value (legal in Kafka) without throwing and names it', () => {
    const parsed = parseHeaders({ [HEADER.eventId]: null, 'x-note': 'kept' });
    expect(parsed.values).toEqual({ 'x-note': 'kept' });
    expect(parsed.problems.get(HEADER.eventId)).toBe('has a null value');
    expect(parsed.nulls).toEqual([HEADER.eventId]);
    expect(parsed.wire).toEqual({ 'x-note': 'kept' });
  });

  it('gives no value for a header given twice, and keeps both occurrences in order for forwarding', () => {
    const parsed = parseHeaders({ [HEADER.eventId]: [Buffer.from('e-1'), Buffer.from('e-2')] });
    expect(parsed.values[HEADER.eventId]).toBeUndefined();
    expect(parsed.problems.get(HEADER.eventId)).toBe('is given 2 times');
    expect(parsed.wire[HEADER.eventId]).toEqual([Buffer.from('e-1'), Buffer.from('e-2')]);
  });

  it('refuses bytes that are not UTF-8 (no replacement characters) and keeps them byte-exact', () => {
    const parsed = parseHeaders({ [HEADER.producer]: invalidUtf8 });
    expect(parsed.problems.get(HEADER.producer)).toBe('is not valid UTF-8');
    expect(parsed.wire[HEADER.producer]).toEqual(invalidUtf8);
  });

  it('keeps an empty value and a byte order mark as they are', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x61]);
    const parsed = parseHeaders({ empty: Buffer.alloc(0), bom });
    expect(parsed.values).toEqual({ empty: '', bom: '\ufeffa' });
    expect(Buffer.from(parsed.values['bom']!)).toEqual(bom);
  });

  it('reads a header named like an Object.prototype property as a header', () => {
    const raw = JSON.parse('{"__proto__": "x", "constructor": "y"}') as Record<string, string>;
    const parsed = parseHeaders(raw);
    expect(Object.entries(parsed.values)).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
    expect(Object.keys(parsed.wire)).toEqual(['__proto__', 'constructor']);
  });
});

describe('headerProblem', () => {
  it.each([
    ['a null identity header', { [HEADER.eventId]: null }, 'header ce_id has a null value'],
    ['an empty identity header', { [HEADER.eventType]: '' }, 'header ce_type is empty'],
    ['a repeated signature', { [HEADER.signature]: ['a', 'b'] }, 'header tdl-signature is given 2 times'],
    [
      'a non-UTF-8 key id',
      { [HEADER.signatureKeyId]: Buffer.from([0xff]) },
      'header tdl-signature-key-id is not valid UTF-8',
    ],
  ])('names %s', (_what, raw, problem) => {
    expect(headerProblem(parseHeaders(raw))).toBe(problem);
  });

  it('ignores headers the runtime does not read, and failure headers unless asked', () => {
    const parsed = parseHeaders({ 'x-debug': null, other: ['1', '2'], [HEADER.attempts]: ['1', '2'] });
    expect(headerProblem(parsed)).toBeUndefined();
    expect(headerProblem(parsed, FAILURE_HEADERS)).toBe('header tdl-attempts is given 2 times');
  });

  it('finds nothing wrong with a record without identity headers', () => {
    expect(headerProblem(parseHeaders(undefined))).toBeUndefined();
  });
});

describe('identityOf', () => {
  it('reads every identity field from its header', () => {
    const headers: Headers = {
      [HEADER.eventId]: 'e-1',
      [HEADER.eventType]: 'dev.tideline.orders.OrderPlaced',
      [HEADER.correlationId]: 'c-1',
      [HEADER.causationId]: 'e-0',
      [HEADER.producer]: 'order-api',
      [HEADER.producedAt]: '2026-11-23T10:00:00.000Z',
      [HEADER.traceparent]: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'x-other': 'ignored',
    };
    expect(identityOf(headers)).toEqual({
      eventId: 'e-1',
      eventType: 'dev.tideline.orders.OrderPlaced',
      correlationId: 'c-1',
      causationId: 'e-0',
      producer: 'order-api',
      producedAt: '2026-11-23T10:00:00.000Z',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
  });

  it('uses empty strings for missing required fields and undefined for missing optional ones', () => {
    expect(identityOf({})).toEqual({
      eventId: '',
      eventType: '',
      correlationId: '',
      causationId: undefined,
      producer: '',
      producedAt: '',
      traceparent: undefined,
    });
  });
});

describe('withoutFailureHeaders', () => {
  const identity: Headers = {
    [HEADER.specVersion]: '1.0',
    [HEADER.eventId]: 'e-1',
    [HEADER.eventType]: 'dev.tideline.orders.OrderPlaced',
    [HEADER.correlationId]: 'c-1',
    [HEADER.signature]: 'sig',
    [HEADER.signatureKeyId]: 'k1',
    [HEADER.traceparent]: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'x-custom': 'kept',
  };
  const failure: Headers = Object.fromEntries(FAILURE_HEADERS.map((name) => [name, `value of ${name}`]));

  it('strips every failure header and keeps every other header', () => {
    expect(withoutFailureHeaders({ ...identity, ...failure })).toEqual(identity);
  });

  it('strips exactly the retry and dead-letter headers', () => {
    expect([...FAILURE_HEADERS].sort()).toEqual(
      [
        HEADER.group,
        HEADER.originalTopic,
        HEADER.originalPartition,
        HEADER.originalOffset,
        HEADER.originalTimestamp,
        HEADER.attempts,
        HEADER.firstFailureAt,
        HEADER.lastFailureAt,
        HEADER.retryDueAt,
        HEADER.errorCode,
        HEADER.errorMessage,
        HEADER.errorFingerprint,
        HEADER.deadLetteredAt,
      ].sort(),
    );
  });

  it('returns a copy and leaves its input alone', () => {
    const input = { ...identity, ...failure };
    const output = withoutFailureHeaders(input);
    expect(output).not.toBe(input);
    expect(input).toEqual({ ...identity, ...failure });
  });

  it('returns an equal copy when there are no failure headers', () => {
    expect(withoutFailureHeaders(identity)).toEqual(identity);
  });
});
