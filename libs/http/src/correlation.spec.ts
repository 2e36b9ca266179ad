import { correlationIdFrom, traceIdOf } from './correlation';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('traceIdOf', () => {
  it.each([
    [`00-${TRACE_ID}-00f067aa0ba902b7-01`, TRACE_ID],
    [`01-${TRACE_ID}-00f067aa0ba902b7-01-future-fields`, TRACE_ID],
    [`00-${TRACE_ID}-00f067aa0ba902b7-01-extra`, undefined],
    [`ff-${TRACE_ID}-00f067aa0ba902b7-01`, undefined],
    [`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, undefined],
    [`00-${TRACE_ID}-${'0'.repeat(16)}-01`, undefined],
    [`00-${TRACE_ID.toUpperCase()}-00f067aa0ba902b7-01`, undefined],
    ['garbage', undefined],
    [undefined, undefined],
  ])('reads %j as %j', (header, expected) => {
    expect(traceIdOf(header)).toBe(expected);
  });
});

describe('correlationIdFrom', () => {
  it('keeps an id of 128 allowed characters', () => {
    const id = 'a.B_c-9'.repeat(18).slice(0, 128);
    expect(correlationIdFrom({ 'x-correlation-id': id })).toBe(id);
  });

  it('makes a new UUIDv7 when nothing usable was sent', () => {
    const id = correlationIdFrom({ 'x-correlation-id': '' });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(correlationIdFrom({})).not.toBe(id);
  });
});
