import { connectionRefused, type Transport } from './instrumentation';

export interface ConnectionLimits {
  /** Live-stream connections (SSE and WebSocket together) one instance holds. */
  perInstance: number;
  /** Live-stream connections one client (its remote address) holds; 0: no per-client bound. */
  perClient: number;
}

/** A connection may open: call `release` once when it ends. */
export interface ConnectionSlot {
  release(): void;
}

/** Why a connection may not open, as the HTTP answer says it. */
export interface ConnectionRefusal {
  /** 503: this instance is full (another may not be); 429: this client holds its share. */
  status: 503 | 429;
  title: 'Service Unavailable' | 'Too Many Requests';
  detail: string;
  retryAfterSeconds: number;
}

const RETRY_AFTER_SECONDS = 5;

/**
 * Counts an instance's live-stream connections, in total and per client, so no client (and no
 * crowd) can hold more than its bound of sockets, memory and replays. SSE and WebSocket share
 * one limiter.
 */
export class ConnectionLimiter {
  private total = 0;
  private readonly byClient = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** A slot for a connection of `client`, or the refusal to answer with. */
  acquire(client: string, transport: Transport): ConnectionSlot | ConnectionRefusal {
    if (this.total >= this.limits.perInstance) {
      connectionRefused(transport, 'instance');
      return {
        status: 503,
        title: 'Service Unavailable',
        detail: `this instance holds its ${this.limits.perInstance} live-stream connections; retry (another instance may have room)`,
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      };
    }
    const held = this.byClient.get(client) ?? 0;
    if (this.limits.perClient > 0 && held >= this.limits.perClient) {
      connectionRefused(transport, 'client');
      return {
        status: 429,
        title: 'Too Many Requests',
        detail: `this client holds ${held} live-stream connections, the most one client may; close one first`,
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      };
    }
    this.total += 1;
    this.byClient.set(client, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total -= 1;
        const left = (this.byClient.get(client) ?? 1) - 1;
        if (left === 0) this.byClient.delete(client);
        else this.byClient.set(client, left);
      },
    };
  }

  /** Connections open now, in total and by the number of clients holding any. */
  stats(): { connections: number; clients: number } {
    return { connections: this.total, clients: this.byClient.size };
  }
}

export const isRefusal = (result: ConnectionSlot | ConnectionRefusal): result is ConnectionRefusal =>
  'status' in result;
