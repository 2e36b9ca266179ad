import type { TopicDescriptor } from '@tideline/contracts';
import { createServiceLogger } from '@tideline/http';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { EventPublisher } from '../app';
import type { LateOutcome } from '@tideline/messaging';
import type {
  ClaimResult,
  ClaimTicket,
  CommandIntent,
  IdempotencyStore,
  StoredResponse,
} from '../idempotency';

type PublishOptions = Parameters<EventPublisher['publish']>[3];

export interface PublishedEvent {
  topic: string;
  key: string;
  value: unknown;
  options: { correlationId: string; eventId: string; timestamp?: Date };
}

/** Records what would have been published; `failWith` makes the next publishes fail, `hold` keeps them pending. */
export class FakePublisher implements EventPublisher {
  readonly published: PublishedEvent[] = [];
  /** The late-outcome listeners of publishes that failed, oldest first. */
  readonly lateListeners: ((outcome: LateOutcome) => void)[] = [];
  failWith: Error | undefined;
  private held: (() => void)[] | undefined;

  publish<Value>(
    topic: TopicDescriptor<Value>,
    key: string,
    value: Value,
    { onLateOutcome, ...options }: PublishOptions,
  ): Promise<unknown> {
    if (this.failWith !== undefined) {
      if (onLateOutcome) this.lateListeners.push(onLateOutcome);
      return Promise.reject(this.failWith);
    }
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
  intent: CommandIntent;
  attempts: number;
  state: 'pending' | 'uncertain' | 'completed';
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

/** The idempotency state machine in memory (no expiry; `leaseOver` ends every pending lease). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly rows = new Map<string, Row>();
  failWith: Error | undefined;
  /** Pending claims count as abandoned (their holder died, their lease ended). */
  leaseOver = false;
  private tokens = 0;

  claim(scope: string, key: string, requestHash: string, intent: CommandIntent): Promise<ClaimResult> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const id = `${scope}\n${key}`;
    const row = this.rows.get(id);
    const token = String((this.tokens += 1));
    if (!row) {
      this.rows.set(id, { requestHash, token, intent, attempts: 1, state: 'pending' });
      const ticket = { scope, key, token, eventId: intent.eventId };
      return Promise.resolve({ kind: 'claimed', ticket, intent, resumed: false });
    }
    if (row.requestHash !== requestHash) return Promise.resolve({ kind: 'mismatch' });
    if (row.response) return Promise.resolve({ kind: 'replay', response: row.response });
    if (row.state === 'uncertain' || this.leaseOver) {
      Object.assign(row, { token, state: 'pending', attempts: row.attempts + 1 });
      const ticket = { scope, key, token, eventId: row.intent.eventId };
      return Promise.resolve({ kind: 'claimed', ticket, intent: row.intent, resumed: true });
    }
    return Promise.resolve({ kind: 'in-flight' });
  }

  complete(ticket: ClaimTicket, response: StoredResponse): Promise<void> {
    const row = this.rows.get(`${ticket.scope}\n${ticket.key}`);
    if (row?.intent.eventId === ticket.eventId && !row.response) {
      row.response = { status: response.status, body: likeJsonb(response.body) };
      row.state = 'completed';
    }
    return Promise.resolve();
  }

  release(ticket: ClaimTicket): Promise<void> {
    const id = `${ticket.scope}\n${ticket.key}`;
    const row = this.rows.get(id);
    if (row?.token === ticket.token && row.state === 'pending') this.rows.delete(id);
    return Promise.resolve();
  }

  markUncertain(ticket: ClaimTicket): Promise<void> {
    const row = this.rows.get(`${ticket.scope}\n${ticket.key}`);
    if (row?.token === ticket.token && row.state === 'pending') row.state = 'uncertain';
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
