import { MessagingError } from './errors';
import { describeFailure, failureHeaders, fingerprint, forwardedHeaders, ProcessingError } from './failure';
import { HEADER, parseHeaders } from './headers';

const TOPIC = 'orders.order-placed.v1';

describe('describeFailure', () => {
  it('keeps the code and retryable false of a MessagingError', () => {
    const failure = describeFailure(new MessagingError('TDL_MSG_SIGNATURE_INVALID', 'altered record'), TOPIC);
    expect(failure).toMatchObject({
      code: 'TDL_MSG_SIGNATURE_INVALID',
      message: 'altered record',
      retryable: false,
    });
  });

  it('keeps the code and retryable true of a retryable MessagingError', () => {
    const failure = describeFailure(new MessagingError('TDL_MSG_KAFKA_UNAVAILABLE', 'no broker'), TOPIC);
    expect(failure).toMatchObject({ code: 'TDL_MSG_KAFKA_UNAVAILABLE', retryable: true });
  });

  it.each([true, false])('keeps the code of a ProcessingError and its retryable %s', (retryable) => {
    const error = new ProcessingError('ORDER_NOT_FOUND', 'order o-1 not found', retryable);
    expect(describeFailure(error, TOPIC)).toMatchObject({
      code: 'ORDER_NOT_FOUND',
      message: 'order o-1 not found',
      retryable,
    });
  });

  it('gives a ProcessingError its name, code, retryable and cause', () => {
    const cause = new Error('socket closed');
    const error = new ProcessingError('STOCK_SERVICE_DOWN', 'stock check failed', true, { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'ProcessingError',
      code: 'STOCK_SERVICE_DOWN',
      retryable: true,
      cause,
    });
  });

  it('keeps a Node error code such as ECONNREFUSED and treats it as retryable', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(describeFailure(error, TOPIC)).toMatchObject({
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED 127.0.0.1:5432',
      retryable: true,
    });
  });

  it('keeps a Node ERR_ code', () => {
    const error = Object.assign(new TypeError('bad argument'), { code: 'ERR_INVALID_ARG_TYPE' });
    expect(describeFailure(error, TOPIC).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it.each([
    ['57P01', 'terminating connection due to administrator command'],
    ['23505', 'duplicate key value violates unique constraint "orders_pkey"'],
    ['40001', 'could not serialize access due to concurrent update'],
  ])('keeps the pg SQLSTATE %s, with its message, as a retryable failure', (code, message) => {
    const failure = describeFailure({ code, message, severity: 'FATAL' }, TOPIC);
    expect(failure).toMatchObject({ code, message, retryable: true });
  });

  it('keeps a pg SQLSTATE that starts with a letter (P0001 raise_exception)', () => {
    const failure = describeFailure({ code: 'P0001', message: 'stock must not go negative' }, TOPIC);
    expect(failure).toMatchObject({ code: 'P0001', retryable: true });
  });

  it.each([
    ['one character', 'A'],
    ['65 characters', `A${'B'.repeat(64)}`],
    ['a leading dash', '-ORDER'],
    ['a space', 'ORDER NOT_FOUND'],
    ['an empty string', ''],
  ])('replaces a code with %s by TDL_MSG_HANDLER_FAILED but keeps its retryable', (_what, code) => {
    const failure = describeFailure(new ProcessingError(code, 'nope', false), TOPIC);
    expect(failure).toMatchObject({ code: 'TDL_MSG_HANDLER_FAILED', retryable: false });
  });

  it('accepts a code of exactly 2 and of exactly 64 characters, and a lower-case code', () => {
    expect(describeFailure({ code: 'AB', message: 'm' }, TOPIC).code).toBe('AB');
    expect(describeFailure(new ProcessingError('order-not-found', 'm', false), TOPIC).code).toBe(
      'order-not-found',
    );
    const long = `A${'B'.repeat(63)}`;
    expect(describeFailure({ code: long, message: 'm' }, TOPIC).code).toBe(long);
  });

  it('ignores a code or retryable of the wrong type', () => {
    const failure = describeFailure({ code: 42, retryable: 'false', message: 'odd error' }, TOPIC);
    expect(failure).toMatchObject({ code: 'TDL_MSG_HANDLER_FAILED', retryable: true, message: 'odd error' });
  });

  it('reads an unknown error as TDL_MSG_HANDLER_FAILED, retryable, with its message', () => {
    const failure = describeFailure(new RangeError('index 7 out of range'), TOPIC);
    expect(failure).toEqual({
      code: 'TDL_MSG_HANDLER_FAILED',
      message: 'index 7 out of range',
      retryable: true,
      fingerprint: fingerprint(TOPIC, 'TDL_MSG_HANDLER_FAILED', 'index 7 out of range'),
    });
  });

  it.each<[string, unknown, string]>([
    ['a thrown string', 'boom', 'boom'],
    ['an Error without a message', new TypeError(''), 'TypeError'],
    ['a thrown undefined', undefined, 'non-error thrown: undefined'],
    ['a thrown number', 42, 'non-error thrown: number'],
    ['a thrown null', null, 'non-error thrown: object'],
  ])('gives %s a message, code TDL_MSG_HANDLER_FAILED and retryable true', (_what, thrown, message) => {
    const failure = describeFailure(thrown, TOPIC);
    expect(failure).toMatchObject({ code: 'TDL_MSG_HANDLER_FAILED', message, retryable: true });
    expect(failure.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reads code, message and retryable from a plain object', () => {
    expect(
      describeFailure({ code: 'QUOTA_EXCEEDED', message: 'quota', retryable: false }, TOPIC),
    ).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      message: 'quota',
      retryable: false,
    });
  });

  it('fingerprints by the source topic, the code and the message', () => {
    const failure = describeFailure(
      new ProcessingError('ORDER_NOT_FOUND', 'order 15 not found', false),
      TOPIC,
    );
    expect(failure.fingerprint).toBe(fingerprint(TOPIC, 'ORDER_NOT_FOUND', 'order 99 not found'));
  });
});

describe('fingerprint', () => {
  const code = 'ORDER_NOT_FOUND';

  it('is 16 lower-case hex characters', () => {
    expect(fingerprint(TOPIC, code, 'order not found')).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint('', '', '')).toMatch(/^[0-9a-f]{16}$/);
  });

  it.each([
    [
      'UUIDs',
      'order 0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b not found',
      'order 0194FFFF-0000-7000-8000-000000000000 not found',
    ],
    ['numbers', 'partition 3 offset 1200 failed after 2.5 s', 'partition 11 offset 7 failed after 30 s'],
    ['double-quoted values', 'unknown sku "A-100" in line "1"', 'unknown sku "ZZ" in line "banana"'],
    ['single-quoted values', "cannot read property 'id'", "cannot read property 'customerId'"],
    ['long hex ids', 'trace 0af7651916cd43dd8448eb211c80319c lost', 'trace ffffffffffffffff lost'],
  ])('is the same when only %s differ', (_what, first, second) => {
    expect(fingerprint(TOPIC, code, first)).toBe(fingerprint(TOPIC, code, second));
  });

  it('differs across codes', () => {
    expect(fingerprint(TOPIC, 'ORDER_NOT_FOUND', 'failed')).not.toBe(
      fingerprint(TOPIC, 'STOCK_LOW', 'failed'),
    );
  });

  it('differs across topics', () => {
    expect(fingerprint(TOPIC, code, 'failed')).not.toBe(
      fingerprint('orders.order-confirmed.v1', code, 'failed'),
    );
  });

  it('differs across message shapes', () => {
    expect(fingerprint(TOPIC, code, 'order 1 not found')).not.toBe(
      fingerprint(TOPIC, code, 'order 1 was cancelled'),
    );
    expect(fingerprint(TOPIC, code, 'order 1 not found')).not.toBe(
      fingerprint(TOPIC, code, 'order not found'),
    );
  });

  it('is the same for messages that differ only after their first 500 characters of shape', () => {
    const head = 'x'.repeat(500);
    expect(fingerprint(TOPIC, code, `${head} tail one`)).toBe(fingerprint(TOPIC, code, `${head} other tail`));
  });
});

describe('fingerprint and apostrophes', () => {
  // Regression: the quote mask took "can't … don't" for one quoted value, merging unrelated failures.
  it('does not read an apostrophe inside a word as a quote', () => {
    expect(fingerprint('t', 'C', "can't find order 5, don't retry")).not.toBe(
      fingerprint('t', 'C', "can't load customer 7, don't retry"),
    );
    expect(fingerprint('t', 'C', "can't find order 5")).toBe(fingerprint('t', 'C', "can't find order 6"));
  });
});

describe('forwardedHeaders', () => {
  const failure = failureHeaders({
    groupId: 'g',
    topic: 'orders.order-placed.v1',
    partition: 0,
    message: { offset: '7', timestamp: '1000' },
    headers: {},
    retried: false,
    attempt: 1,
    failure: describeFailure(new MessagingError('TDL_MSG_HEADER_INVALID', 'bad'), 'orders.order-placed.v1'),
    now: 0,
  });

  it('writes the original header bytes back as they came, repeats in order, plus the failure headers', () => {
    const odd = Buffer.from([0xff, 0x00]);
    const forwarded = forwardedHeaders(parseHeaders({ [HEADER.eventId]: ['a', 'b'], 'x-bin': odd }), failure);
    expect(forwarded[HEADER.eventId]).toEqual(['a', 'b']);
    expect(forwarded['x-bin']).toBe(odd);
    expect(forwarded[HEADER.errorCode]).toBe('TDL_MSG_HEADER_INVALID');
    expect(forwarded[HEADER.originalOffset]).toBe('7');
    expect(forwarded[HEADER.deadLetteredAt]).toBeDefined();
  });

  it('names null values in tdl-null-headers (kafkajs cannot write them) and keeps that list across tiers', () => {
    const first = forwardedHeaders(parseHeaders({ [HEADER.eventId]: null, 'x-a': [null, 'v'] }), failure);
    expect(first[HEADER.nullHeaders]).toBe(JSON.stringify([HEADER.eventId, 'x-a']));
    expect(first[HEADER.eventId]).toBeUndefined();
    expect(first['x-a']).toBe('v');
    const again = forwardedHeaders(parseHeaders({ ...first, 'x-b': null }), failure);
    expect(again[HEADER.nullHeaders]).toBe(JSON.stringify([HEADER.eventId, 'x-a', 'x-b']));
  });

  it('replaces the failure headers of an earlier tier instead of repeating them', () => {
    const earlier = parseHeaders({ [HEADER.errorCode]: 'OLD', [HEADER.retryDueAt]: '5' });
    const forwarded = forwardedHeaders(earlier, failure);
    expect(forwarded[HEADER.errorCode]).toBe('TDL_MSG_HEADER_INVALID');
    expect(forwarded[HEADER.retryDueAt]).toBeUndefined();
  });
});
