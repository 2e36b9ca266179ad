import type { TopicDescriptor } from '@tideline/contracts';
import { createServiceLogger } from '@tideline/http';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { EventPublisher } from '../app';
import type { ClaimResult, ClaimTicket, IdempotencyStore, StoredResponse } from '../idempotency';

export interface PublishedEvent {
  topic: string;
  key: string;
  value: unknown;
  options: { correlationId: string; eventId: string };
}

/** Records what would have been published; `failWith` makes the next publishes fail, `hold` keeps them pending. */
export class FakePublisher implements EventPublisher {
  readonly published: PublishedEvent[] = [];
  failWith: Error | undefined;
  private held: (() => void)[] | undefined;

  publish<Value>(
    topic: TopicDescriptor<Value>,
    key: string,
    value: Value,
    options: { correlationId: string; eventId: string },
  ): Promise<unknown> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const record = () => this.published.push({ topic: topic.name, key, value, options });
    if (this.held) {
      const held = this.held;
      return new Promise((resolve) => held.push(() => resolve(record())));
    }
    record();
    return Promise.resolve({ topic: topic.name, partition: 0, offset: '0' });
  }

  /** Publishes stay pending until `release()`. */
  hold(): void {
    this.held = [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const resolve of held) resolve();
  }

  pending(): number {
    return this.held?.length ?? 0;
  }
}

interface Row {
  requestHash: string;
  token: string;
  response?: StoredResponse;
}

/** A copy with object keys reordered as PostgreSQL's jsonb does (shorter keys first). */
function likeJsonb(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(likeJsonb);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a.length !== b.length ? a.length - b.length : a < b ? -1 : 1,
  );
  return Object.fromEntries(entries.map(([k, v]) => [k, likeJsonb(v)]));
}

/** The idempotency contract in memory (no expiry). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly rows = new Map<string, Row>();
  failWith: Error | undefined;
  private tokens = 0;

  claim(scope: string, key: string, requestHash: string): Promise<ClaimResult> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const id = `${scope}\n${key}`;
    const row = this.rows.get(id);
    if (!row) {
      const token = String((this.tokens += 1));
      this.rows.set(id, { requestHash, token });
      return Promise.resolve({ kind: 'claimed', ticket: { scope, key, token } });
    }
    if (row.requestHash !== requestHash) return Promise.resolve({ kind: 'mismatch' });
    if (!row.response) return Promise.resolve({ kind: 'in-flight' });
    return Promise.resolve({ kind: 'replay', response: row.response });
  }

  complete(ticket: ClaimTicket, response: StoredResponse): Promise<void> {
    const row = this.rows.get(`${ticket.scope}\n${ticket.key}`);
    if (row?.token === ticket.token)
      row.response = { status: response.status, body: likeJsonb(response.body) };
    return Promise.resolve();
  }

  release(ticket: ClaimTicket): Promise<void> {
    const id = `${ticket.scope}\n${ticket.key}`;
    if (this.rows.get(id)?.token === ticket.token && !this.rows.get(id)?.response) this.rows.delete(id);
    return Promise.resolve();
  }
}

/** order-api's logger, keeping its JSON lines for assertions. */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = createServiceLogger('order-api', 'info', sink);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
