// A TCP fault proxy (latency, blackhole) for the PostgreSQL scenarios: a stand-in until
// libs/testing's fault toolkit (branch faults-toolkit) provides its own; real sockets only.
import net from 'node:net';
import { freePort } from '@tideline/testing';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  cut: boolean;
}

/**
 * A TCP proxy in front of a server: `latency(ms)` delays every chunk, `blackhole()` accepts and
 * never answers (every byte dropped both ways, sockets left open, as with a cut network),
 * `heal()` lets new connections through again (the cut ones stay dead, as after a real cut).
 */
export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private readonly silent = new Set<net.Socket>();
  private blackholed = false;
  private delayMs = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const port = await freePort();
    const holder: { proxy?: TcpProxy } = {};
    const server = net.createServer((client) => holder.proxy!.accept(client, targetPort));
    const proxy = (holder.proxy = new TcpProxy(server, port));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return proxy;
  }

  latency(ms: number): void {
    this.delayMs = ms;
  }

  blackhole(): void {
    this.blackholed = true;
    for (const pair of this.pairs) pair.cut = true;
  }

  heal(): void {
    this.blackholed = false;
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    for (const socket of this.silent) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, targetPort: number): void {
    client.on('error', () => undefined);
    if (this.blackholed) {
      this.silent.add(client);
      client.on('data', () => undefined);
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream, cut: false };
    this.pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => {
        if (pair.cut) return;
        if (this.delayMs === 0) to.write(chunk);
        else setTimeout(() => !pair.cut && to.write(chunk), this.delayMs);
      });
      // A cut connection tells neither side anything, not even that the other one went away.
      from.on('close', () => {
        if (!pair.cut) to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }
}
