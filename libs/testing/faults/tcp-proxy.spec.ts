import net from 'node:net';
import { eventually } from '../src/poll';
import { startTcpProxy, type TcpFaultProxy } from '../src/faults/tcp-proxy';

/** An echo server that records what reached it. */
async function echoServer() {
  const received: Buffer[] = [];
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (data) => {
      received.push(data);
      socket.write(data);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(received).toString(),
    accepted: () => accepted,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client socket collecting what comes back, and how it ended. */
function client(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  let data = '';
  let error: NodeJS.ErrnoException | undefined;
  socket.on('data', (chunk) => (data += chunk.toString()));
  socket.on('error', (e) => (error = e));
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, connected, data: () => data, error: () => error };
}

describe('TcpFaultProxy', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: TcpFaultProxy;
  const sockets: net.Socket[] = [];
  const open = (port = proxy.port) => {
    const c = client(port);
    sockets.push(c.socket);
    return c;
  };

  beforeEach(async () => {
    echo = await echoServer();
    proxy = await startTcpProxy({ port: echo.port });
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await proxy.close();
    await echo.close();
  });

  it('passes both ways and counts connections and bytes', async () => {
    const c = open();
    await c.connected;
    c.socket.write('hello');
    await eventually('the echo', () => (c.data() === 'hello' ? true : undefined));
    expect(proxy.stats).toMatchObject({ connections: 1, open: 1, bytesToTarget: 5, bytesToClient: 5 });
  });

  it('adds latency per direction', async () => {
    await proxy.latency(150);
    const c = open();
    await c.connected;
    const sent = Date.now();
    c.socket.write('slow');
    await eventually('the echo', () => (c.data() === 'slow' ? true : undefined));
    expect(Date.now() - sent).toBeGreaterThanOrEqual(290);
  });

  it('blackholes new and open connections, then lets the held bytes through on recover', async () => {
    const before = open();
    await before.connected;
    await proxy.blackhole();
    before.socket.write('held-1');
    const during = open();
    await during.connected; // accepted, but nothing reaches the target
    during.socket.write('held-2');
    await eventually('the proxy to see the bytes', () => (proxy.stats.connections === 2 ? true : undefined));
    await new Promise((resolve) => setImmediate(resolve));
    expect(echo.received()).toBe('');
    expect(echo.accepted()).toBe(1);

    await proxy.recover();
    await eventually('both echoes', () =>
      before.data() === 'held-1' && during.data() === 'held-2' ? true : undefined,
    );
    expect(echo.accepted()).toBe(2);
  });

  it('drops responses only: the request reaches the target, the answer is held', async () => {
    const c = open();
    await c.connected;
    await proxy.dropResponses();
    c.socket.write('written');
    await eventually('the target to receive it', () => (echo.received() === 'written' ? true : undefined));
    expect(c.data()).toBe('');
    await proxy.recover();
    await eventually('the held answer', () => (c.data() === 'written' ? true : undefined));
  });

  it('resets open connections and refuses new ones until recover', async () => {
    const c = open();
    await c.connected;
    await proxy.reset();
    await eventually('the reset', () => c.error());
    expect(c.error()?.code).toBe('ECONNRESET');
    await expect(open().connected).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(proxy.stats.resets).toBe(1);

    await proxy.recover();
    const again = open();
    await again.connected;
    again.socket.write('back');
    await eventually('the echo', () => (again.data() === 'back' ? true : undefined));
  });
});
