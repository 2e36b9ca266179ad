import { ApiKeyVerifier, presentedKey } from './auth';
import { requestHash } from './idempotency';

describe('requestHash', () => {
  it('ignores key order and undefined members', () => {
    expect(requestHash({ a: 1, b: { c: [1, { d: 2, e: 3 }] } })).toBe(
      requestHash({ b: { c: [1, { e: 3, d: 2 }] }, a: 1, z: undefined }),
    );
  });

  it('tells different requests apart', () => {
    expect(requestHash({ a: [1, 2] })).not.toBe(requestHash({ a: [2, 1] }));
    expect(requestHash({ a: '1' })).not.toBe(requestHash({ a: 1 }));
  });
});

describe('ApiKeyVerifier', () => {
  const verifier = new ApiKeyVerifier(['first-key-0123456789', 'second-key-0123456789']);

  it('names a principal per key without revealing the key', () => {
    const first = verifier.verify('first-key-0123456789');
    const second = verifier.verify('second-key-0123456789');
    expect(first).toMatch(/^key:[0-9a-f]{16}$/);
    expect(second).toMatch(/^key:[0-9a-f]{16}$/);
    expect(first).not.toBe(second);
  });

  it.each([undefined, '', 'first-key-012345678', 'first-key-01234567890'])('rejects %j', (key) => {
    expect(verifier.verify(key)).toBeUndefined();
  });

  it('reads Bearer before X-API-Key', () => {
    expect(presentedKey({ authorization: 'Bearer a', 'x-api-key': 'b' })).toBe('a');
    expect(presentedKey({ 'x-api-key': ' b ' })).toBe('b');
    expect(presentedKey({ authorization: 'Token a', 'x-api-key': 'b' })).toBeUndefined();
  });
});
