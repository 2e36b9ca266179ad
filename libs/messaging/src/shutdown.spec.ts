import type { Logger } from './log';
import { exitOnSignal } from './shutdown';

// SIGUSR2 raised with process.emit only calls the listeners: the process itself is never signalled.
const SIGNAL = 'SIGUSR2';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An injectable exit that records each code; `exited` resolves with the first. */
function exitTrap(): { exit: jest.Mock<void, [number]>; exited: Promise<number> } {
  let resolve!: (code: number) => void;
  const exited = new Promise<number>((res) => (resolve = res));
  return { exit: jest.fn<void, [number]>((code) => resolve(code)), exited };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (_fields: Record<string, unknown>, message: string): void => {
    lines.push(message);
  };
  return { lines, debug: record, info: record, warn: record, error: record };
}

const raise = (): boolean => process.emit(SIGNAL, SIGNAL);

describe('exitOnSignal', () => {
  let remove: (() => void) | undefined;

  afterEach(() => {
    remove?.();
    remove = undefined;
    jest.useRealTimers();
  });

  it('runs stop on the first signal and exits 0 once it resolved', async () => {
    const stopped = deferred();
    const stop = jest.fn(() => stopped.promise);
    const { exit, exited } = exitTrap();
    remove = exitOnSignal(stop, { exit, signals: [SIGNAL] });

    raise();
    expect(stop).toHaveBeenCalledTimes(1);
    expect(exit).not.toHaveBeenCalled();

    stopped.resolve();
    await expect(exited).resolves.toBe(0);
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('exits 1 when stop rejects', async () => {
    const { exit, exited } = exitTrap();
    const logger = recordingLogger();
    remove = exitOnSignal(() => Promise.reject(new Error('commit failed')), {
      exit,
      signals: [SIGNAL],
      logger,
    });

    raise();
    await expect(exited).resolves.toBe(1);
    expect(exit).toHaveBeenCalledTimes(1);
    expect(logger.lines).toContain('shutdown failed');
  });

  it('exits 1 when stop passes the deadline', () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { exit } = exitTrap();
    remove = exitOnSignal(() => new Promise<void>(() => undefined), {
      exit,
      signals: [SIGNAL],
      deadlineMs: 500,
    });

    raise();
    jest.advanceTimersByTime(499);
    expect(exit).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(exit).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(1);
  });

  it('waits 10 s by default before giving up on stop', () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { exit } = exitTrap();
    remove = exitOnSignal(() => new Promise<void>(() => undefined), { exit, signals: [SIGNAL] });

    raise();
    jest.advanceTimersByTime(9_999);
    expect(exit).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(exit).toHaveBeenCalledWith(1);
  });

  it('cancels the deadline once stop resolved', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { exit, exited } = exitTrap();
    remove = exitOnSignal(() => Promise.resolve(), { exit, signals: [SIGNAL], deadlineMs: 500 });

    raise();
    await expect(exited).resolves.toBe(0);
    jest.advanceTimersByTime(10_000);
    expect(exit.mock.calls).toEqual([[0]]);
  });

  it('exits 130 at once on a second signal without running stop again', async () => {
    const stopped = deferred();
    const stop = jest.fn(() => stopped.promise);
    const { exit } = exitTrap();
    const logger = recordingLogger();
    remove = exitOnSignal(stop, { exit, signals: [SIGNAL], logger });

    raise();
    raise();
    expect(exit.mock.calls).toEqual([[130]]);
    expect(stop).toHaveBeenCalledTimes(1);
    expect(logger.lines).toContain('second signal: exiting without finishing in-flight work');

    // Let the first shutdown finish so its deadline timer is cleared.
    stopped.resolve();
    await stopped.promise;
  });

  it('listens to every signal given, and a different second signal also exits 130', async () => {
    const stopped = deferred();
    const stop = jest.fn(() => stopped.promise);
    const { exit } = exitTrap();
    remove = exitOnSignal(stop, { exit, signals: [SIGNAL, 'SIGWINCH'] });

    process.emit('SIGWINCH', 'SIGWINCH');
    expect(stop).toHaveBeenCalledTimes(1);
    raise();
    expect(exit.mock.calls).toEqual([[130]]);

    stopped.resolve();
    await stopped.promise;
  });

  it('returns a function that removes its handlers', () => {
    const before = process.listenerCount(SIGNAL);
    const stop = jest.fn(() => Promise.resolve());
    const { exit } = exitTrap();
    const removeHandlers = exitOnSignal(stop, { exit, signals: [SIGNAL] });
    expect(process.listenerCount(SIGNAL)).toBe(before + 1);

    removeHandlers();
    expect(process.listenerCount(SIGNAL)).toBe(before);
    raise();
    expect(stop).not.toHaveBeenCalled();
    expect(exit).not.toHaveBeenCalled();
  });
});
