import { v7 as uuidv7 } from 'uuid';
import { reactionEventId } from './reaction-id';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('reactionEventId (a duplicated cause gives one reaction id)', () => {
  it('is the same for the same cause, topic and key', () => {
    const cause = uuidv7();
    expect(reactionEventId(cause, 'orders.order-confirmed.v1', 'o-1')).toBe(
      reactionEventId(cause, 'orders.order-confirmed.v1', 'o-1'),
    );
  });

  it('differs by cause, topic and key', () => {
    const cause = uuidv7();
    const ids = new Set([
      reactionEventId(cause, 't', 'k'),
      reactionEventId(uuidv7(), 't', 'k'),
      reactionEventId(cause, 'u', 'k'),
      reactionEventId(cause, 't', 'l'),
    ]);
    expect(ids.size).toBe(4);
  });

  it('is a UUIDv7 with the timestamp of a UUIDv7 cause', () => {
    const cause = uuidv7();
    const id = reactionEventId(cause, 't', 'k');
    expect(id).toMatch(V7);
    expect(id.slice(0, 13)).toBe(cause.slice(0, 13));
  });

  it('is a UUIDv7 for any other cause id', () => {
    expect(reactionEventId('not-a-uuid', 't', 'k')).toMatch(V7);
  });
});
