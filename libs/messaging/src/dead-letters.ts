import type { TopicDescriptor } from '@tideline/contracts';
import type avro from 'avsc';
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import { unframe, type RegistryCodec } from './codec';
import { MessagingError, kafkaUnavailable } from './errors';
import { deadLetterTopicName, retryTopicName } from './group-topics';
import { HEADER, withoutFailureHeaders, type Headers } from './headers';
import { kafkaError, type OutgoingRecord } from './publisher';
import { readTopic, type ReadProgress, type TopicRecord } from './topic-reader';

/**
 * Dead letters of a consumer group, and their redrive.
 *
 * A redrive moves a dead letter back to its original topic (or one of the group's retry tiers) and, in the same
 * Kafka transaction, appends a marker to the dead-letter topic (`tdl-redrive-of: <partition>:<offset>`, no value).
 * Readers skip dead letters that have a marker and never count markers as dead letters, so the redrive state lives
 * in Kafka itself and a second redrive moves nothing twice. One transactional id per group
 * (`tideline-redrive.<group>`): a redrive that starts fences any other redrive of the same group still running.
 */

/** A dead letter's place and failure, without its value (what a scan keeps of every record). */
export interface DeadLetter {
  /** Partition and offset in the dead-letter topic. */
  partition: number;
  offset: string;
  /** When it was dead-lettered (the dead-letter record's Kafka timestamp), ms since the epoch. */
  timestamp: number;
  key: string | null;
  /** Where it was first published. Empty when the record carries no failure headers. */
  originalTopic: string;
  originalPartition: number | null;
  originalOffset: string | null;
  errorCode: string;
  errorMessage: string;
  fingerprint: string;
  attempts: number;
  eventId: string | null;
}

/** A dead letter with its bytes and headers (for show and redrive). */
export interface DeadLetterRecord extends DeadLetter {
  value: Buffer | null;
  headers: Headers;
}

export interface DeadLetterFilter {
  /** Only dead letters first published to this topic. */
  topic?: string | undefined;
  /** Only this failure fingerprint, or fingerprints starting with it. */
  fingerprint?: string | undefined;
  /** Only dead letters dead-lettered at or after this time (ms since the epoch). */
  since?: number | undefined;
}

/** Dead letters that share a failure fingerprint. */
export interface DeadLetterGroup {
  fingerprint: string;
  topic: string;
  errorCode: string;
  /** The message of the first dead letter of the group (others differ only in ids, numbers or quoted values). */
  errorMessage: string;
  /** Not yet redriven. */
  count: number;
  /** Dead-lettered time of the oldest and newest of them, ms since the epoch. */
  firstSeen: number;
  lastSeen: number;
}

export interface DeadLetterScan {
  groupId: string;
  deadLetterTopic: string;
  /** Matching dead letters not redriven yet: oldest first. */
  pending: DeadLetter[];
  /** Matching dead letters already redriven (skipped). */
  redriven: number;
  /** Records read from the dead-letter topic, markers included. */
  read: number;
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return value === undefined || value === '' ? undefined : value;
}

/** A record of a dead-letter topic as a dead letter (undefined for a redrive marker). */
export function deadLetterOf(record: TopicRecord): DeadLetter | undefined {
  const { headers } = record;
  if (headers[HEADER.redriveOf] !== undefined) return undefined;
  const originalPartition = header(headers, HEADER.originalPartition);
  return {
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? null : record.key.toString('utf8'),
    originalTopic: header(headers, HEADER.originalTopic) ?? '',
    originalPartition: originalPartition === undefined ? null : Number(originalPartition),
    originalOffset: header(headers, HEADER.originalOffset) ?? null,
    errorCode: header(headers, HEADER.errorCode) ?? '',
    errorMessage: header(headers, HEADER.errorMessage) ?? '',
    fingerprint: header(headers, HEADER.errorFingerprint) ?? '',
    attempts: Number(header(headers, HEADER.attempts) ?? 0),
    eventId: header(headers, HEADER.eventId) ?? null,
  };
}

/** The `<partition>:<offset>` a redrive marker names, or undefined for any other record. */
export function redriveMarkerOf(record: TopicRecord): string | undefined {
  return record.headers[HEADER.redriveOf];
}

export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.topic !== undefined && letter.originalTopic !== filter.topic) return false;
  if (filter.fingerprint !== undefined && !letter.fingerprint.startsWith(filter.fingerprint)) return false;
  if (filter.since !== undefined && letter.timestamp < filter.since) return false;
  return true;
}

const position = (letter: Pick<DeadLetter, 'partition' | 'offset'>): string =>
  `${letter.partition}:${letter.offset}`;

/** Oldest first; ties (one producer batch) by partition and offset. */
export function byAge(a: DeadLetter, b: DeadLetter): number {
  return (
    a.timestamp - b.timestamp ||
    a.partition - b.partition ||
    (BigInt(a.offset) < BigInt(b.offset) ? -1 : BigInt(a.offset) > BigInt(b.offset) ? 1 : 0)
  );
}

/** Groups dead letters by fingerprint: most frequent first, then most recent. Pure. */
export function summarizeDeadLetters(letters: readonly DeadLetter[]): DeadLetterGroup[] {
  const groups = new Map<string, DeadLetterGroup>();
  for (const letter of letters) {
    const slot = `${letter.fingerprint}\n${letter.originalTopic}`;
    const group = groups.get(slot);
    if (!group) {
      groups.set(slot, {
        fingerprint: letter.fingerprint,
        topic: letter.originalTopic,
        errorCode: letter.errorCode,
        errorMessage: letter.errorMessage,
        count: 1,
        firstSeen: letter.timestamp,
        lastSeen: letter.timestamp,
      });
      continue;
    }
    group.count += 1;
    if (letter.timestamp < group.firstSeen) {
      group.firstSeen = letter.timestamp;
      group.errorMessage = letter.errorMessage;
    }
    group.lastSeen = Math.max(group.lastSeen, letter.timestamp);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || b.lastSeen - a.lastSeen);
}

async function startOffsets(kafka: Kafka, topic: string, since: number | undefined) {
  if (since === undefined) return undefined;
  const admin = kafka.admin();
  try {
    await admin.connect();
    // Markers come after the dead letter they name, so a read from `since` still sees every relevant marker.
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, since);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.offset)]));
  } catch (error) {
    throw kafkaUnavailable(error);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function assertTopic(kafka: Kafka, topic: string, what: string): Promise<void> {
  const admin = kafka.admin();
  let topics: string[];
  try {
    await admin.connect();
    topics = await admin.listTopics();
  } catch (error) {
    throw kafkaUnavailable(error);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (!topics.includes(topic)) {
    throw new MessagingError('TDL_MSG_UNKNOWN_TOPIC', `${what} ${topic} does not exist`, {
      details: { topic },
    });
  }
}

/**
 * Reads a group's dead-letter topic (up to its end at the start) and returns the dead letters that match `filter`
 * and were not redriven yet, oldest first. Keeps no values, so it scales to large dead-letter topics.
 *
 * @throws MessagingError TDL_MSG_UNKNOWN_TOPIC when the group has no dead-letter topic, TDL_MSG_KAFKA_UNAVAILABLE,
 * TDL_MSG_READ_STALLED.
 */
export async function scanDeadLetters(
  kafka: Kafka,
  options: { groupId: string; filter?: DeadLetterFilter; onProgress?: (progress: ReadProgress) => void },
): Promise<DeadLetterScan> {
  const { groupId, filter = {} } = options;
  const topic = deadLetterTopicName(groupId);
  await assertTopic(kafka, topic, `the dead-letter topic of group ${groupId},`);
  const matching: DeadLetter[] = [];
  const redrivenPositions = new Set<string>();
  const summary = await readTopic({
    kafka,
    topic,
    from: await startOffsets(kafka, topic, filter.since),
    concurrently: true,
    groupPrefix: 'tideline.dlq-scan',
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    onRecord: (record) => {
      const marker = redriveMarkerOf(record);
      if (marker !== undefined) {
        redrivenPositions.add(marker);
        return;
      }
      const letter = deadLetterOf(record);
      if (letter && matchesFilter(letter, filter)) matching.push(letter);
    },
  });
  const pending = matching.filter((letter) => !redrivenPositions.has(position(letter))).sort(byAge);
  return {
    groupId,
    deadLetterTopic: topic,
    pending,
    redriven: matching.length - pending.length,
    read: summary.read,
  };
}

/** The range of the dead-letter topic that holds `letters`: from the first to past the last, per partition. */
function rangeOf(letters: readonly DeadLetter[]): { from: Map<number, bigint>; until: Map<number, bigint> } {
  const from = new Map<number, bigint>();
  const until = new Map<number, bigint>();
  for (const letter of letters) {
    const offset = BigInt(letter.offset);
    if (offset < (from.get(letter.partition) ?? offset + 1n)) from.set(letter.partition, offset);
    if (offset + 1n > (until.get(letter.partition) ?? 0n)) until.set(letter.partition, offset + 1n);
  }
  return { from, until };
}

/**
 * Reads the given dead letters again with their values and headers, handing each to `onLetter` in offset order
 * per partition, one partition after another.
 */
export async function readDeadLetters(
  kafka: Kafka,
  options: {
    groupId: string;
    letters: readonly DeadLetter[];
    onLetter: (letter: DeadLetterRecord) => void | Promise<void>;
  },
): Promise<void> {
  const wanted = new Set(options.letters.map(position));
  if (wanted.size === 0) return;
  const { from, until } = rangeOf(options.letters);
  await readTopic({
    kafka,
    topic: deadLetterTopicName(options.groupId),
    from,
    until,
    groupPrefix: 'tideline.dlq-read',
    onRecord: async (record) => {
      if (!wanted.has(`${record.partition}:${record.offset}`)) return;
      const letter = deadLetterOf(record);
      if (letter) await options.onLetter({ ...letter, value: record.value, headers: record.headers });
    },
  });
}

/**
 * A dead letter's value decoded for people: with its topic's schema from the catalog when known, else with the
 * writer's schema from the registry. An undecodable value (often why it is a dead letter) gives the reason instead.
 */
export async function decodeDeadLetterValue(
  codec: RegistryCodec,
  topics: readonly TopicDescriptor<unknown>[],
  letter: Pick<DeadLetterRecord, 'value' | 'originalTopic'>,
): Promise<{ value: unknown } | { error: string }> {
  if (letter.value === null) return { value: null };
  try {
    const topic = topics.find((t) => t.name === letter.originalTopic);
    if (topic) return { value: await codec.decode(topic, letter.value) };
    const { schemaId, body } = unframe(letter.value);
    const writer = (await codec.registry.getSchema(schemaId)) as unknown as avro.Type;
    return { value: writer.fromBuffer(body, undefined, true) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Where a redrive sends dead letters: their original topic, or a retry tier of the group. */
export type RedriveTarget = { kind: 'original' } | { kind: 'retry'; tier: number };

export interface RedriveProgress {
  redriven: number;
  total: number;
}

export interface RedriveResult {
  redriven: number;
  /** Records written per target topic. */
  byTopic: Record<string, number>;
}

/** The record a dead letter becomes on its way back. Pure. */
export function redrivenRecord(
  letter: DeadLetterRecord,
  groupId: string,
  target: RedriveTarget,
  now: number,
): OutgoingRecord {
  const from = `${deadLetterTopicName(groupId)}:${position(letter)}`;
  const key = letter.key === null ? null : Buffer.from(letter.key, 'utf8');
  if (target.kind === 'original') {
    // The handler sees the record as first published (identity, correlation, trace), plus where it came from.
    return {
      topic: letter.originalTopic,
      key,
      value: letter.value,
      headers: { ...withoutFailureHeaders(letter.headers), [HEADER.redrivenFrom]: from },
    };
  }
  // A retry tier reads the original-* headers to know the record's source topic; due at once.
  const headers: Headers = {
    ...letter.headers,
    [HEADER.attempts]: String(target.tier),
    [HEADER.retryDueAt]: String(now),
    [HEADER.redrivenFrom]: from,
  };
  delete headers[HEADER.deadLetteredAt];
  return { topic: retryTopicName(groupId, target.tier), key, value: letter.value, headers };
}

/** The marker a redrive appends to the dead-letter topic (same partition as the dead letter). Pure. */
export function redriveMarker(letter: DeadLetter, groupId: string, targetTopic: string, now: number) {
  return {
    topic: deadLetterTopicName(groupId),
    partition: letter.partition,
    key: null,
    value: null,
    headers: {
      [HEADER.redriveOf]: position(letter),
      [HEADER.redrivenTo]: targetTopic,
      [HEADER.redrivenAt]: new Date(now).toISOString(),
      [HEADER.group]: groupId,
    },
  };
}

function isFenced(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const type = (current as { type?: unknown }).type;
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED') return true;
    if (/fenced|epoch/i.test(current.message)) return true;
    current = current.cause ?? (current as { originalError?: unknown }).originalError;
  }
  return false;
}

/**
 * Moves dead letters back, exactly once each (see the top of this file). Open it BEFORE scanning: opening fences
 * any other redrive of the group, so the scan sees everything that one committed.
 */
export class DeadLetterRedriver {
  private constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    readonly groupId: string,
  ) {}

  /** Connects the group's transactional producer and takes the redrive over (fencing any other). */
  static async open(kafka: Kafka, groupId: string): Promise<DeadLetterRedriver> {
    const producer = kafka.producer({
      transactionalId: `tideline-redrive.${groupId}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await producer.connect();
      // The first transaction initialises the producer id, which fences the previous holder of the id.
      const transaction = await producer.transaction();
      await transaction.abort();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw kafkaError(error);
    }
    return new DeadLetterRedriver(kafka, producer, groupId);
  }

  /**
   * Redrives `letters` (from a scan made after `open`) at most `ratePerSecond` records per second, in
   * transactions of up to `batchSize` records. Dead letters without an original topic are refused before anything
   * moves.
   *
   * @throws MessagingError TDL_MSG_UNKNOWN_TOPIC (target topic missing), TDL_MSG_REDRIVE_FENCED,
   * TDL_MSG_KAFKA_UNAVAILABLE; records reported before the error are committed.
   */
  async redrive(
    letters: readonly DeadLetter[],
    options: {
      target: RedriveTarget;
      ratePerSecond: number;
      onProgress?: (progress: RedriveProgress) => void;
      now?: () => number;
      batchSize?: number;
    },
  ): Promise<RedriveResult> {
    const now = options.now ?? Date.now;
    const result: RedriveResult = { redriven: 0, byTopic: {} };
    if (letters.length === 0) return result;
    const orphans = letters.filter((l) => l.originalTopic === '');
    if (orphans.length > 0) {
      throw new MessagingError(
        'TDL_MSG_UNKNOWN_TOPIC',
        `${orphans.length} dead letter(s) carry no ${HEADER.originalTopic} header (first at ${position(orphans[0]!)}); they cannot be redriven`,
      );
    }
    const targets = new Set(
      options.target.kind === 'original'
        ? letters.map((l) => l.originalTopic)
        : [retryTopicName(this.groupId, options.target.tier)],
    );
    for (const target of targets) await assertTopic(this.kafka, target, 'the redrive target');

    const rate = options.ratePerSecond;
    const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, Math.floor(rate / 5) || 1));
    const started = now();
    let chunk: DeadLetterRecord[] = [];
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      await this.commit(chunk, options.target, now(), result);
      chunk = [];
      options.onProgress?.({ redriven: result.redriven, total: letters.length });
      // Rate limit: the n-th record goes no earlier than n / rate seconds after the start.
      const due = started + (result.redriven / rate) * 1000;
      const wait = due - now();
      if (wait > 0 && result.redriven < letters.length) await new Promise((r) => setTimeout(r, wait));
    };
    await readDeadLetters(this.kafka, {
      groupId: this.groupId,
      letters,
      onLetter: async (letter) => {
        chunk.push(letter);
        if (chunk.length >= batchSize) await flush();
      },
    });
    await flush();
    return result;
  }

  private async commit(
    chunk: readonly DeadLetterRecord[],
    target: RedriveTarget,
    now: number,
    result: RedriveResult,
  ): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    const add = (topic: string, message: Message) =>
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
    for (const letter of chunk) {
      const record = redrivenRecord(letter, this.groupId, target, now);
      add(record.topic, { key: record.key, value: record.value, headers: record.headers });
      const { topic, ...marker } = redriveMarker(letter, this.groupId, record.topic, now);
      add(topic, marker);
    }
    let transaction;
    try {
      transaction = await this.producer.transaction();
      await transaction.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      await transaction.commit();
    } catch (error) {
      await transaction?.abort().catch(() => undefined);
      if (isFenced(error)) {
        throw new MessagingError(
          'TDL_MSG_REDRIVE_FENCED',
          `another redrive of group ${this.groupId} started and took over; this one stopped after ${result.redriven} record(s), all committed`,
          { cause: error, details: { groupId: this.groupId, redriven: result.redriven } },
        );
      }
      throw kafkaError(error);
    }
    for (const [topic, messages] of byTopic) {
      if (topic === deadLetterTopicName(this.groupId)) continue;
      result.byTopic[topic] = (result.byTopic[topic] ?? 0) + messages.length;
    }
    result.redriven += chunk.length;
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}
