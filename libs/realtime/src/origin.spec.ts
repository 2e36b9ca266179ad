import { parseAllowedOrigins, refusedOrigin } from './origin';

describe('refusedOrigin', () => {
  const none = { allowed: [] };

  it('lets a request without an Origin through (curl, services, native clients)', () => {
    expect(refusedOrigin({ host: 'projection:3002' }, none)).toBeUndefined();
  });

  it("lets the service's own pages through, whatever scheme a proxy terminated", () => {
    expect(refusedOrigin({ host: '127.0.0.1:3002', origin: 'http://127.0.0.1:3002' }, none)).toBeUndefined();
    expect(
      refusedOrigin({ host: 'orders.example.com', origin: 'https://orders.example.com' }, none),
    ).toBeUndefined();
    expect(
      refusedOrigin({ host: 'Orders.Example.com', origin: 'https://orders.example.com' }, none),
    ).toBeUndefined();
  });

  it('refuses any other origin, naming it, unless it is allowed', () => {
    const evil = { host: '127.0.0.1:3002', origin: 'http://evil.example' };
    expect(refusedOrigin(evil, none)).toBe(
      `origin "http://evil.example" is not this service's and not in its allowed origins`,
    );
    expect(refusedOrigin(evil, { allowed: ['http://evil.example'] })).toBeUndefined();
    expect(refusedOrigin(evil, { allowed: ['*'] })).toBeUndefined();
    // Another port of the same host is another origin.
    expect(refusedOrigin({ host: '127.0.0.1:3002', origin: 'http://127.0.0.1:3003' }, none)).toBeDefined();
    // A sandboxed page or a file says "null": never the service's own.
    expect(refusedOrigin({ host: '127.0.0.1:3002', origin: 'null' }, none)).toBeDefined();
    expect(refusedOrigin({ origin: 'http://127.0.0.1:3002' }, none)).toBeDefined();
  });
});

describe('parseAllowedOrigins', () => {
  it('reads comma-separated origins and *', () => {
    expect(parseAllowedOrigins('')).toEqual([]);
    expect(parseAllowedOrigins(' https://app.example.com , http://localhost:5173,')).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
    expect(parseAllowedOrigins('*')).toEqual(['*']);
    // Written as browsers send it.
    expect(parseAllowedOrigins('https://APP.example.com')).toEqual(['https://app.example.com']);
  });

  it.each([
    'app.example.com',
    'https://app.example.com/',
    'https://app.example.com/path',
    'null',
    'https://app.example.com:443',
  ])('refuses %s, naming it', (entry) => {
    expect(() => parseAllowedOrigins(`https://ok.example, ${entry}`)).toThrow(`"${entry}" is not an origin`);
  });
});
