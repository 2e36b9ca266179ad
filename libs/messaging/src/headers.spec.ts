import {
  FAILURE_HEADERS,
  HEADER,
  identityOf,
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
