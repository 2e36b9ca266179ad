import { ConnectionLimiter, isRefusal, type ConnectionSlot } from './limits';

const slot = (result: ReturnType<ConnectionLimiter['acquire']>): ConnectionSlot => {
  if (isRefusal(result)) throw new Error(`refused: ${result.detail}`);
  return result;
};

describe('ConnectionLimiter', () => {
  it('refuses a client past its share with 429 and Retry-After, and lets others in', () => {
    const limiter = new ConnectionLimiter({ perInstance: 10, perClient: 2 });
    const a1 = slot(limiter.acquire('a', 'sse'));
    slot(limiter.acquire('a', 'websocket'));
    expect(limiter.acquire('a', 'sse')).toEqual({
      status: 429,
      title: 'Too Many Requests',
      detail: 'this client holds 2 live-stream connections, the most one client may; close one first',
      retryAfterSeconds: 5,
    });
    slot(limiter.acquire('b', 'sse'));
    a1.release();
    slot(limiter.acquire('a', 'sse'));
    expect(limiter.stats()).toEqual({ connections: 3, clients: 2 });
  });

  it('refuses anyone with 503 once the instance is full, until a connection ends', () => {
    const limiter = new ConnectionLimiter({ perInstance: 2, perClient: 0 });
    const first = slot(limiter.acquire('a', 'sse'));
    slot(limiter.acquire('a', 'sse'));
    expect(limiter.acquire('b', 'websocket')).toMatchObject({ status: 503, retryAfterSeconds: 5 });
    first.release();
    first.release(); // a second release frees nothing more
    slot(limiter.acquire('b', 'websocket'));
    expect(limiter.acquire('c', 'sse')).toMatchObject({ status: 503 });
    expect(limiter.stats()).toEqual({ connections: 2, clients: 2 });
  });
});
