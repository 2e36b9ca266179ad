import net from 'node:net';

/**
 * What the proxy does to traffic, switchable while connections are open:
 * - `pass`: forwards both ways;
 * - `latency`: forwards both ways, each chunk `latencyMs` late (per direction);
 * - `blackhole`: accepts connections, forwards nothing either way (new connections do not even
 *   reach the target), like a cable pulled: held bytes flow on `recover()`, as TCP would
 *   retransmit them, unless a side gave up first;
 * - `drop-responses`: client → server flows, server → client is held (the request was written,
 *   the answer never comes: the ambiguous timeout);
 * - `reset`: every open connection gets an RST and new ones are refused (the port is closed).
 */
export type ProxyMode = 'pass' | 'latency' | 'blackhole' | 'drop-responses' | 'reset';

export interface ProxyStats {
  /** Connections accepted since start. */
  connections: number;
  /** Connections open now. */
  open: number;
  bytesToTarget: number;
  bytesToClient: number;
  /** Connections reset by `reset()`. */
  resets: number;
}

type Chunk = { data: Buffer | 'end'; dueAt: number };

/** One direction of one connection: a queue that flows or is held. */
class Pipe {
  private readonly queue: Chunk[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly source: net.Socket,
    private readonly sink: () => net.Socket | undefined,
    private readonly flowing: () => boolean,
    private readonly latencyMs: () => number,
    private readonly count: (bytes: number) => void,
  ) {
    source.on('data', (data: Buffer) => this.push(data));
    // A FIN, a close or an error travels like data: in order, and held while the direction is.
    source.on('end', () => this.push('end'));
    source.on('close', () => this.push('end'));
    source.on('error', (error: NodeJS.ErrnoException) => {
      const target = this.sink();
      const abrupt = error.code === 'ECONNRESET' || error.code === 'ECONNREFUSED';
      if (abrupt && target && this.flowing()) target.resetAndDestroy();
    });
  }

  private push(data: Buffer | 'end'): void {
    if (this.ended) return;
    if (data === 'end') this.ended = true;
    this.queue.push({ data, dueAt: Date.now() + this.latencyMs() });
    // A held direction must not buffer without bound: let TCP's window push back instead.
    if (this.queuedBytes() > 4 * 1024 * 1024) this.source.pause();
    this.pump();
  }

  private queuedBytes(): number {
    return this.queue.reduce((sum, c) => sum + (c.data === 'end' ? 0 : c.data.length), 0);
  }

  pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const sink = this.sink();
    if (!sink || !this.flowing()) return;
    for (;;) {
      const head = this.queue[0];
      if (!head) break;
      const wait = head.dueAt - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      this.queue.shift();
      if (head.data === 'end') {
        if (!sink.destroyed) sink.end(() => sink.destroy());
      } else {
        this.count(head.data.length);
        if (!sink.destroyed) sink.write(head.data);
      }
    }
    if (this.source.isPaused()) this.source.resume();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

class Connection {
  upstream: net.Socket | undefined;
  private readonly pipes: Pipe[] = [];

  constructor(
    readonly client: net.Socket,
    private readonly proxy: TcpFaultProxy,
  ) {
    client.setNoDelay(true);
    client.on('close', () => this.closed());
    this.pipes.push(
      new Pipe(
        client,
        () => this.upstream,
        () => proxy.flowsToTarget(),
        () => proxy.latencyMs,
        (n) => (proxy.stats.bytesToTarget += n),
      ),
    );
    this.pump();
  }

  /** Connects to the target the first time client → server may flow (a blackhole reaches nothing). */
  pump(): void {
    if (!this.upstream && this.proxy.flowsToTarget()) {
      if (this.client.destroyed) return this.dispose();
      this.connect();
    }
    for (const pipe of this.pipes) pipe.pump();
  }

  private connect(): void {
    const upstream = net.connect(this.proxy.target);
    this.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('close', () => this.closed());
    this.pipes.push(
      new Pipe(
        upstream,
        () => this.client,
        () => this.proxy.flowsToClient(),
        () => this.proxy.latencyMs,
        (n) => (this.proxy.stats.bytesToClient += n),
      ),
    );
  }

  private closed(): void {
    if (this.client.destroyed && (this.upstream?.destroyed ?? true)) this.dispose();
  }

  reset(): void {
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.dispose();
  }

  private dispose(): void {
    for (const pipe of this.pipes) pipe.dispose();
    this.proxy.forget(this);
  }
}

/**
 * A TCP proxy on 127.0.0.1 between a client (a service) and a target (a broker, PostgreSQL),
 * whose mode a test switches at run time. Real sockets, no mocks: what the client sees is what
 * a network fault looks like to it.
 */
export class TcpFaultProxy {
  readonly stats: ProxyStats = { connections: 0, open: 0, bytesToTarget: 0, bytesToClient: 0, resets: 0 };
  latencyMs = 0;
  private current: ProxyMode = 'pass';
  private readonly connections = new Set<Connection>();
  private server: net.Server | undefined;
  private closed = false;

  private constructor(
    readonly target: { host: string; port: number },
    public port: number,
  ) {}

  /** Starts listening on `port` (default: a free one) and forwarding to `target`. */
  static async start(target: { host?: string; port: number }, port = 0): Promise<TcpFaultProxy> {
    const proxy = new TcpFaultProxy({ host: target.host ?? '127.0.0.1', port: target.port }, port);
    await proxy.listen();
    return proxy;
  }

  get host(): string {
    return '127.0.0.1';
  }

  /** `127.0.0.1:<port>`, to hand to a client instead of the target. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get mode(): ProxyMode {
    return this.current;
  }

  flowsToTarget(): boolean {
    return this.current === 'pass' || this.current === 'latency' || this.current === 'drop-responses';
  }

  flowsToClient(): boolean {
    return this.current === 'pass' || this.current === 'latency';
  }

  pass(): Promise<void> {
    return this.recover();
  }

  latency(ms: number): Promise<void> {
    this.latencyMs = ms;
    return this.switchTo('latency');
  }

  blackhole(): Promise<void> {
    return this.switchTo('blackhole');
  }

  dropResponses(): Promise<void> {
    return this.switchTo('drop-responses');
  }

  /** RST on every open connection; new connections are refused until `recover()`. */
  async reset(): Promise<void> {
    this.current = 'reset';
    const unlistened = this.unlisten();
    for (const connection of [...this.connections]) {
      connection.reset();
      this.stats.resets += 1;
    }
    await unlistened;
  }

  /** Back to `pass`: held bytes flow, the port accepts again. */
  recover(): Promise<void> {
    this.latencyMs = 0;
    return this.switchTo('pass');
  }

  forget(connection: Connection): void {
    if (this.connections.delete(connection)) this.stats.open -= 1;
  }

  /** Closes the port and destroys every connection. */
  async close(): Promise<void> {
    this.closed = true;
    const unlistened = this.unlisten();
    for (const connection of [...this.connections]) connection.reset();
    await unlistened;
  }

  private async switchTo(mode: Exclude<ProxyMode, 'reset'>): Promise<void> {
    this.current = mode;
    if (!this.server && !this.closed) await this.listen();
    for (const connection of this.connections) connection.pump();
  }

  private listen(): Promise<void> {
    const server = net.createServer({ noDelay: true }, (client) => {
      this.stats.connections += 1;
      this.stats.open += 1;
      this.connections.add(new Connection(client, this));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private unlisten(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

/** Starts a {@link TcpFaultProxy} in front of `target`. */
export function startTcpProxy(
  target: { host?: string; port: number },
  port?: number,
): Promise<TcpFaultProxy> {
  return TcpFaultProxy.start(target, port);
}
