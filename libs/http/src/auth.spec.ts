import { ANONYMOUS, ApiKeyAuth, ApiKeyVerifier, presentedKey } from './auth';

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

describe('ApiKeyAuth', () => {
  it('lets every request through as anonymous when no keys are configured', () => {
    const auth = new ApiKeyAuth({ keys: [], realm: 'svc' });
    expect(auth.enabled).toBe(false);
    expect(auth.check({})).toEqual({ principal: ANONYMOUS });
  });

  it('gives a valid key its principal and answers no key or a wrong one with a challenge', () => {
    const auth = new ApiKeyAuth({ keys: ['first-key-0123456789'], realm: 'svc' });
    expect(auth.check({ 'x-api-key': 'first-key-0123456789' })).toEqual({
      principal: expect.stringMatching(/^key:[0-9a-f]{16}$/) as string,
    });
    expect(auth.check({})).toEqual({
      status: 401,
      challenge: 'Bearer realm="svc"',
      detail: 'Send an API key as Authorization: Bearer <key> or X-API-Key: <key>.',
    });
    expect(auth.check({ authorization: 'Bearer wrong-key-0123456789' })).toMatchObject({
      status: 401,
      challenge: 'Bearer realm="svc", error="invalid_token"',
    });
  });
});
