import { checkReadiness } from './readiness';

describe('checkReadiness', () => {
  it('is ready when every check resolves, whatever it resolves to', async () => {
    await expect(
      checkReadiness({ a: () => Promise.resolve(), b: () => Promise.resolve([1, 2]) }, 100),
    ).resolves.toEqual({ ready: true, checks: { a: { ok: true }, b: { ok: true } } });
  });

  it('is ready with no checks at all', async () => {
    await expect(checkReadiness({}, 100)).resolves.toEqual({ ready: true, checks: {} });
  });

  it('names each failed check and why: a rejection, a throw, a non-Error and a check that hangs', async () => {
    const report = await checkReadiness(
      {
        up: () => Promise.resolve(),
        refused: () => Promise.reject(new Error('Connection refused')),
        throws: () => {
          throw new Error('not configured');
        },
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a careless check might do
        odd: () => Promise.reject('plain string'),
        hangs: () => new Promise(() => undefined),
      },
      30,
    );
    expect(report).toEqual({
      ready: false,
      checks: {
        up: { ok: true },
        refused: { ok: false, error: 'Connection refused' },
        throws: { ok: false, error: 'not configured' },
        odd: { ok: false, error: 'plain string' },
        hangs: { ok: false, error: 'no answer within 30 ms' },
      },
    });
  });

  it('runs the checks concurrently, so slow checks do not add up', async () => {
    const slow = () => new Promise((resolve) => setTimeout(resolve, 100));
    const startedAt = Date.now();
    const report = await checkReadiness({ a: slow, b: slow, c: slow, d: slow }, 1000);
    expect(report.ready).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(300);
  });
});
