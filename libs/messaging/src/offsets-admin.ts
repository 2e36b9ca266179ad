import {
  AssignerProtocol,
  type Admin,
  type ConsumerGroupState,
  type GroupDescription,
  type Kafka,
} from 'kafkajs';
import { MessagingError, isMessagingError, kafkaErrorType, kafkaUnavailable } from './errors';

/** Where to move a consumer group's committed offsets on one topic. */
export type OffsetTarget =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  /** The first record whose timestamp is at or after `timestamp` (ms since the epoch); the end if none is. */
  | { kind: 'timestamp'; timestamp: number }
  /** Explicit offsets; partitions not listed keep their committed offset. */
  | { kind: 'offsets'; offsets: { partition: number; offset: string }[] };

const FORMS = 'earliest, latest, an ISO time with a timezone, or partition:offset pairs';
const MAX_PARTITION = 2_147_483_647n;
const MAX_OFFSET = 9_223_372_036_854_775_807n;

function invalidSpec(spec: string, message: string): MessagingError {
  return new MessagingError('TDL_MSG_INVALID_OFFSET_SPEC', message, { details: { spec } });
}

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/i;

function parseIsoTime(spec: string): number {
  const match = ISO_TIME.exec(spec);
  if (!match) {
    throw invalidSpec(spec, `"${spec}" is not an ISO time with a timezone (e.g. 2026-11-23T10:00:00Z)`);
  }
  const [
    ,
    year,
    month,
    day,
    hour,
    minute,
    second = '0',
    fraction = '',
    zulu,
    sign,
    offsetHour,
    offsetMinute,
  ] = match;
  if (zulu === undefined && sign === undefined) {
    throw invalidSpec(spec, `"${spec}" has no timezone; add Z or an offset such as +01:00 (e.g. ${spec}Z)`);
  }
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = mo >= 1 && mo <= 12 ? new Date(Date.UTC(y, mo, 0)).getUTCDate() : 0;
  const offsetH = Number(offsetHour ?? 0);
  const offsetM = Number(offsetMinute ?? 0);
  if (d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59 || offsetH > 23 || offsetM > 59) {
    throw invalidSpec(spec, `"${spec}" is not a valid date and time`);
  }
  const offsetMs = (sign === '-' ? -1 : 1) * (offsetH * 60 + offsetM) * 60_000;
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const utc = new Date(0);
  utc.setUTCFullYear(y, mo - 1, d); // Date.UTC maps years 0-99 to 1900-1999
  utc.setUTCHours(h, mi, s, millis);
  const timestamp = utc.getTime() - offsetMs;
  if (timestamp < 0) {
    throw invalidSpec(spec, `"${spec}" is before 1970-01-01T00:00:00Z; Kafka timestamps cannot be negative`);
  }
  return timestamp;
}

function parseOffsetPairs(spec: string): { partition: number; offset: string }[] {
  const pairs = spec.split(',').map((pair) => pair.trim());
  const where = (pair: string) => (pairs.length > 1 ? `"${pair}" in "${spec}"` : `"${pair}"`);
  const offsets: { partition: number; offset: string }[] = [];
  for (const pair of pairs) {
    if (pair === '') throw invalidSpec(spec, `"${spec}" has an empty partition:offset pair`);
    const match = /^(\d+):(\d+)$/.exec(pair);
    if (!match) {
      throw invalidSpec(
        spec,
        `${where(pair)} is not a partition:offset pair of non-negative integers (e.g. 0:15)`,
      );
    }
    const [, partitionText = '', offsetText = ''] = match;
    if (/^0\d/.test(partitionText) || /^0\d/.test(offsetText)) {
      // "10:00" is more likely a time of day than partition 10, offset 0.
      throw invalidSpec(
        spec,
        `${where(pair)} has a leading zero: write pairs like 0:15, and times as ISO times with a date and timezone`,
      );
    }
    const partition = BigInt(partitionText);
    const offset = BigInt(offsetText);
    if (partition > MAX_PARTITION)
      throw invalidSpec(spec, `partition ${partitionText} in "${spec}" is too large`);
    if (offset > MAX_OFFSET) throw invalidSpec(spec, `offset ${offsetText} in "${spec}" is too large`);
    if (offsets.some((o) => BigInt(o.partition) === partition)) {
      throw invalidSpec(spec, `partition ${partitionText} appears more than once in "${spec}"`);
    }
    offsets.push({ partition: Number(partition), offset: offsetText });
  }
  return offsets;
}

/**
 * Parses an offset reset target as typed by an operator: `earliest`, `latest`, an ISO-8601 time with a
 * timezone (`2026-11-23T10:00:00Z`, `2026-11-23T10:00:00.123+01:00`; seconds optional, fractions truncated to
 * ms), or `partition:offset` pairs (`0:15,1:20`: non-negative integers without leading zeros, each partition
 * once). Pure.
 *
 * @throws MessagingError TDL_MSG_INVALID_OFFSET_SPEC naming the bad part.
 */
export function parseOffsetTarget(spec: string): OffsetTarget {
  const text = spec.trim();
  const keyword = text.toLowerCase();
  if (keyword === 'earliest') return { kind: 'earliest' };
  if (keyword === 'latest') return { kind: 'latest' };
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) return { kind: 'timestamp', timestamp: parseIsoTime(text) };
  if (text.includes(':')) return { kind: 'offsets', offsets: parseOffsetPairs(text) };
  throw invalidSpec(spec, `"${spec}" is not ${FORMS}`);
}

/** One partition of an offset reset plan. Offsets are strings (Kafka offsets are 64-bit). */
export interface PartitionOffsetChange {
  partition: number;
  /** Log start offset: the oldest record still in the partition. */
  low: string;
  /** High watermark: the offset the next record will get. */
  high: string;
  /** The group's committed offset now, null when it has none on this partition. */
  from: string | null;
  /** The offset the reset commits: the next record the group will read. */
  to: string;
  /**
   * `to - (from ?? low)`: negative moves the group back (that many records are consumed again), positive moves
   * it forward (that many records are skipped), 0 changes nothing.
   */
  delta: number;
}

export interface OffsetResetPlan {
  groupId: string;
  topic: string;
  target: OffsetTarget;
  /** The group's state as the coordinator reports it (`Dead` for a group that does not exist yet). */
  state: ConsumerGroupState;
  /** Current members as `clientId (host)`, e.g. `order-processor-1 (/127.0.0.1)`; a reset needs none. */
  members: string[];
  /** The partitions the reset commits, by partition; with explicit offsets only the ones listed. */
  partitions: PartitionOffsetChange[];
}

export interface OffsetResetOptions {
  groupId: string;
  topic: string;
  to: OffsetTarget;
}

function unknownTopic(topic: string, cause?: unknown): MessagingError {
  return new MessagingError('TDL_MSG_UNKNOWN_TOPIC', `topic ${topic} does not exist`, {
    cause,
    details: { topic },
  });
}

function unknownGroup(groupId: string, cause?: unknown): MessagingError {
  return new MessagingError(
    'TDL_MSG_UNKNOWN_GROUP',
    `consumer group ${groupId} is unknown: it has no committed offsets and no members`,
    { cause, details: { groupId } },
  );
}

/** Maps a kafkajs failure to a typed error; anything unrecognised means Kafka did not answer. */
function kafkaError(error: unknown, context: { topic?: string; groupId?: string }): MessagingError {
  if (error instanceof MessagingError) return error;
  const type = kafkaErrorType(error);
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION' && context.topic !== undefined)
    return unknownTopic(context.topic, error);
  if (type === 'GROUP_ID_NOT_FOUND' && context.groupId !== undefined)
    return unknownGroup(context.groupId, error);
  return kafkaUnavailable(error);
}

async function withKafka<T>(
  context: { topic?: string; groupId?: string },
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw kafkaError(error, context);
  }
}

/**
 * Fails fast with TDL_MSG_UNKNOWN_TOPIC: kafkajs's fetchTopicOffsets retries an unknown topic for seconds
 * (and remembers it as a metadata target), a metadata request answers at once.
 */
async function assertTopicExists(admin: Admin, topic: string): Promise<void> {
  if (topic === '') throw unknownTopic(topic);
  try {
    await admin.fetchTopicMetadata({ topics: [topic] });
  } catch (error) {
    if (kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') throw unknownTopic(topic, error);
    throw error;
  }
}

export interface Watermarks {
  partition: number;
  low: bigint;
  high: bigint;
}

export async function watermarks(admin: Admin, topic: string): Promise<Watermarks[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets
    .map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }))
    .sort((a, b) => a.partition - b.partition);
}

/**
 * A topic's low and high watermarks per partition, failing at once with TDL_MSG_UNKNOWN_TOPIC
 * when the topic does not exist and TDL_MSG_KAFKA_UNAVAILABLE when Kafka does not answer.
 */
export function topicWatermarks(admin: Admin, topic: string): Promise<Watermarks[]> {
  return withKafka({ topic }, async () => {
    await assertTopicExists(admin, topic);
    return watermarks(admin, topic);
  });
}

/** Committed offsets by topic and partition; kafkajs reports "none" as -1. */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topics?: string[],
): Promise<Map<string, Map<number, bigint>>> {
  const fetched = await admin.fetchOffsets(topics ? { groupId, topics } : { groupId });
  const result = new Map<string, Map<number, bigint>>();
  for (const { topic, partitions } of fetched) {
    const byPartition = new Map<number, bigint>();
    for (const { partition, offset } of partitions) {
      const value = BigInt(offset);
      if (value >= 0n) byPartition.set(partition, value);
    }
    result.set(topic, byPartition);
  }
  return result;
}

async function describeGroup(admin: Admin, groupId: string): Promise<GroupDescription> {
  const { groups } = await admin.describeGroups([groupId]);
  return (
    groups.find((g) => g.groupId === groupId) ?? {
      groupId,
      members: [],
      protocol: '',
      protocolType: '',
      state: 'Unknown',
    }
  );
}

const memberLabel = (m: { clientId: string; clientHost: string }): string =>
  `${m.clientId} (${m.clientHost})`;

function targetOffsets(
  spec: OffsetTarget,
  topic: string,
  partitions: Watermarks[],
  byTimestamp: Map<number, bigint> | undefined,
): Map<number, bigint> {
  switch (spec.kind) {
    case 'earliest':
      return new Map(partitions.map((p) => [p.partition, p.low]));
    case 'latest':
      return new Map(partitions.map((p) => [p.partition, p.high]));
    case 'timestamp':
      return new Map(partitions.map((p) => [p.partition, byTimestamp?.get(p.partition) ?? p.high]));
    case 'offsets': {
      const known = new Map(partitions.map((p) => [p.partition, p]));
      const problems: string[] = [];
      const result = new Map<number, bigint>();
      for (const { partition, offset } of spec.offsets) {
        const marks = known.get(partition);
        const value = BigInt(offset);
        if (!marks) {
          problems.push(
            `partition ${partition} does not exist (${topic} has partitions 0-${partitions.length - 1})`,
          );
        } else if (value < marks.low || value > marks.high) {
          problems.push(
            `offset ${offset} is outside partition ${partition}'s range ${marks.low}..${marks.high} (log start..high watermark)`,
          );
        } else {
          result.set(partition, value);
        }
      }
      if (problems.length > 0) {
        throw new MessagingError(
          'TDL_MSG_INVALID_OFFSET_SPEC',
          `cannot reset ${topic}: ${problems.join('; ')}`,
          {
            details: { topic, offsets: spec.offsets },
          },
        );
      }
      return result;
    }
  }
}

/**
 * Works out what resetting `groupId`'s offsets on `topic` to `to` would commit. Changes nothing.
 *
 * - `earliest`: each partition's log start offset; `latest`: its high watermark.
 * - `timestamp`: the first record at or after the time (Kafka's ListOffsets by timestamp); a time after the last
 *   record resolves to the high watermark.
 * - `offsets`: only the partitions listed; each must exist and its offset lie within [low, high].
 *
 * @throws MessagingError TDL_MSG_UNKNOWN_TOPIC, TDL_MSG_INVALID_OFFSET_SPEC, TDL_MSG_KAFKA_UNAVAILABLE.
 */
export async function planOffsetReset(admin: Admin, options: OffsetResetOptions): Promise<OffsetResetPlan> {
  const { groupId, topic, to } = options;
  return withKafka({ topic, groupId }, async () => {
    await assertTopicExists(admin, topic);
    const [partitions, committed, group, byTimestamp] = await Promise.all([
      watermarks(admin, topic),
      committedOffsets(admin, groupId, [topic]),
      describeGroup(admin, groupId),
      to.kind === 'timestamp' ? admin.fetchTopicOffsetsByTimestamp(topic, to.timestamp) : undefined,
    ]);
    const targets = targetOffsets(
      to,
      topic,
      partitions,
      byTimestamp && new Map(byTimestamp.map((o) => [o.partition, BigInt(o.offset)])),
    );
    const current = committed.get(topic) ?? new Map<number, bigint>();
    return {
      groupId,
      topic,
      target: to,
      state: group.state,
      members: group.members.map(memberLabel),
      partitions: partitions.flatMap(({ partition, low, high }) => {
        const target = targets.get(partition);
        if (target === undefined) return [];
        const from = current.get(partition);
        return [
          {
            partition,
            low: low.toString(),
            high: high.toString(),
            from: from === undefined ? null : from.toString(),
            to: target.toString(),
            delta: Number(target - (from ?? low)),
          },
        ];
      }),
    };
  });
}

const isIdle = (state: string, members: readonly string[]): boolean =>
  members.length === 0 && (state === 'Empty' || state === 'Dead');

function groupActive(groupId: string, state: string, members: string[], cause?: unknown): MessagingError {
  const count = members.length;
  const message =
    count === 0
      ? `group ${groupId} is ${state}, so it has consumers; stop them before resetting offsets`
      : `group ${groupId} has ${count} active member${count === 1 ? '' : 's'}: ${members.join(', ')}; ` +
        `stop ${count === 1 ? 'it' : 'them'} before resetting offsets`;
  return new MessagingError('TDL_MSG_GROUP_ACTIVE', message, { cause, details: { groupId, state, members } });
}

/**
 * Resets `groupId`'s committed offsets on `topic` as {@link planOffsetReset} plans it, and returns that plan.
 * Creates the offsets of a group that never committed. Refuses while the group has members (Kafka would
 * overwrite the reset with their next commit).
 *
 * The commit briefly joins the group as its only member ({@link commitIdleGroupOffsets}).
 *
 * @throws MessagingError TDL_MSG_GROUP_ACTIVE naming the members, or any error of planOffsetReset.
 */
export async function resetOffsets(
  kafka: Kafka,
  admin: Admin,
  options: OffsetResetOptions,
): Promise<OffsetResetPlan> {
  const plan = await planOffsetReset(admin, options);
  if (!isIdle(plan.state, plan.members)) throw groupActive(plan.groupId, plan.state, plan.members);
  if (plan.partitions.length === 0) return plan;
  try {
    await commitIdleGroupOffsets(
      kafka,
      admin,
      plan.groupId,
      plan.partitions.map((p) => ({ topic: plan.topic, partition: p.partition, offset: p.to })),
    );
  } catch (error) {
    throw kafkaError(error, { topic: plan.topic, groupId: plan.groupId });
  }
  return plan;
}

/**
 * Commits `offsets` (on any number of topics) as the committed offsets of `groupId`, a group
 * without members: joins it once as its only member, commits, and leaves. (kafkajs'
 * `admin.setOffsets` joins once per topic and waits out a whole fetch, 5 s, before each commit.)
 *
 * @throws MessagingError TDL_MSG_GROUP_ACTIVE when the group has members, before or during the
 *   join; nothing is committed then.
 */
export async function commitIdleGroupOffsets(
  kafka: Kafka,
  admin: Admin,
  groupId: string,
  offsets: readonly { topic: string; partition: number; offset: string }[],
): Promise<void> {
  const topics = [...new Set(offsets.map((o) => o.topic))];
  if (topics.length === 0) return;
  const refuseActive = async (alone: number) => {
    const group = await describeGroup(admin, groupId);
    const members = group.members.map(memberLabel);
    if (members.length > alone || (alone === 0 && !isIdle(group.state, members)))
      throw groupActive(groupId, group.state, members.slice(alone));
  };
  await refuseActive(0);
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    // run() resolves once this member has joined and synced. The fetch loop it schedules finds
    // every topic paused, so nothing is read and nothing but `offsets` is committed.
    const running = consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async () => {},
    });
    consumer.pause(topics.map((topic) => ({ topic })));
    await running;
    // A consumer that joined meanwhile would overwrite the commit with its own: leave it its offsets.
    await refuseActive(1);
    await consumer.commitOffsets([...offsets]);
  } finally {
    await consumer.disconnect();
  }
}

export interface GroupMemberLag {
  memberId: string;
  clientId: string;
  host: string;
  /** The partitions assigned to this member, by topic. */
  assignments: Record<string, number[]>;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Committed offset, null when the group has none on this partition. */
  committed: string | null;
  low: string;
  high: string;
  /** Records the group has not consumed yet: `high - committed` (`high - low` with none), committed clamped to [low, high]. */
  offsetLag: number;
  /**
   * How old the first unconsumed record is: `now - timestamp` of the record at the committed offset (at `low`
   * with none); 0 when offsetLag is 0. Found by a search over time, so up to 1 s more than the true value;
   * see {@link groupLag}. Null when not asked for (`timeLag: false`).
   */
  timeLagMs: number | null;
}

export interface GroupLag {
  groupId: string;
  state: ConsumerGroupState;
  members: GroupMemberLag[];
  /** By topic, then partition. */
  partitions: PartitionLag[];
}

/** Time lag is found to this precision... */
const TIME_PRECISION_MS = 1000;
/** ...or after this many timestamp lookups per partition, whichever comes first. */
const MAX_TIME_LOOKUPS = 40;

/**
 * The timestamp (ms) of the record at `position` in each partition, to within {@link TIME_PRECISION_MS} below
 * the true value. kafkajs cannot fetch a record, but it can ask for "the first offset whose timestamp is ≥ T"
 * (ListOffsets by timestamp). That offset grows with T, so a bisection over [0, now] narrows [lo, hi) — the
 * offset for lo is ≤ `position`, the one for hi past it — until it is at most 1 s wide, and returns lo: the
 * record's timestamp lies in [lo, hi). About 32 lookups from today's clock, never more than
 * {@link MAX_TIME_LOOKUPS}; kafkajs makes two ListOffsets requests per lookup. Each lookup answers for
 * every partition of the topic; the partitions are searched in parallel and share lookups of the same T.
 * Strictly this finds the newest timestamp among the records up to `position`, which is the record's own
 * timestamp whenever timestamps grow with offsets. A record newer than `now` yields `now + 1`.
 * `floors` (per partition, a timestamp known to be at or below the answer, e.g. the one found
 * for an earlier position) narrow the search: a few lookups instead of thirty.
 */
export async function recordTimestamps(
  admin: Admin,
  topic: string,
  positions: Map<number, bigint>,
  now: number,
  floors?: ReadonlyMap<number, number>,
): Promise<Map<number, number>> {
  const lookups = new Map<number, Promise<Map<number, bigint>>>();
  const offsetsAt = (timestamp: number): Promise<Map<number, bigint>> => {
    let lookup = lookups.get(timestamp);
    if (!lookup) {
      lookup = admin
        .fetchTopicOffsetsByTimestamp(topic, timestamp)
        .then((offsets) => new Map(offsets.map((o) => [o.partition, BigInt(o.offset)])));
      lookups.set(timestamp, lookup);
    }
    return lookup;
  };
  const searches = [...positions].map(async ([partition, position]): Promise<[number, number]> => {
    // Invariant: the offset for `lo` is ≤ position (every timestamp is ≥ 0), the offset for `hi` is > position.
    let lo = 0;
    let hi = Math.max(now, 0) + 1;
    const past = async (timestamp: number) => ((await offsetsAt(timestamp)).get(partition) ?? -1n) > position;
    let used = 1;
    if (!(await past(hi))) return [partition, hi];
    const floor = floors?.get(partition);
    if (floor !== undefined && floor > lo && floor < hi) {
      used++;
      if (!(await past(floor))) lo = floor;
    }
    while (hi - lo > TIME_PRECISION_MS && used < MAX_TIME_LOOKUPS) {
      const mid = Math.floor((lo + hi) / 2);
      used++;
      if (await past(mid)) hi = mid;
      else lo = mid;
    }
    return [partition, lo];
  });
  return new Map(await Promise.all(searches));
}

function decodeAssignment(buffer: Buffer): Record<string, number[]> {
  try {
    const decoded = AssignerProtocol.MemberAssignment.decode(buffer);
    return Object.fromEntries(
      Object.entries(decoded?.assignment ?? {}).map(([topic, partitions]) => [
        topic,
        [...partitions].sort((a, b) => a - b),
      ]),
    );
  } catch {
    return {}; // not a consumer-protocol group (e.g. Kafka Connect)
  }
}

const clamp = (value: bigint, low: bigint, high: bigint): bigint =>
  value < low ? low : value > high ? high : value;

/**
 * How far `groupId` is behind, per partition of every topic it has committed offsets on (or is assigned):
 * records not yet consumed (offsetLag) and the age of the first of them (timeLagMs, relative to `now`), plus
 * the group's state and members with their assignments. Topics that no longer exist are left out.
 *
 * Kafka's admin API cannot read a record, so the first unconsumed record's timestamp is found by bisecting
 * over time with "first offset at or after timestamp" lookups: at most 40 lookups per partition (about 32 for
 * current clocks), the partitions of a topic in parallel sharing lookups, topics one after another. The result
 * is exact to 1 s and never less than the true lag.
 *
 * @throws MessagingError TDL_MSG_UNKNOWN_GROUP when the group has no committed offsets and is not listed by
 * the cluster, TDL_MSG_KAFKA_UNAVAILABLE.
 */
export async function groupLag(
  admin: Admin,
  groupId: string,
  { now = Date.now(), timeLag = true }: { now?: number; timeLag?: boolean } = {},
): Promise<GroupLag> {
  if (groupId === '') throw unknownGroup(groupId);
  return withKafka({ groupId }, async () => {
    const [group, committed] = await Promise.all([
      describeGroup(admin, groupId),
      committedOffsets(admin, groupId),
    ]);
    if (committed.size === 0 && group.members.length === 0) {
      const { groups } = await admin.listGroups();
      if (!groups.some((g) => g.groupId === groupId)) throw unknownGroup(groupId);
    }
    return measureGroup(admin, group, committed, {
      now,
      timeLag,
      existing: new Set(await admin.listTopics()),
      marks: new Map(),
    });
  });
}

/** What measuring several groups shares: the topics that exist and each topic's watermarks. */
interface LagScope {
  now: number;
  timeLag: boolean;
  existing: ReadonlySet<string>;
  marks: Map<string, Promise<Watermarks[] | undefined>>;
  /** Only this topic (every topic when undefined). */
  topic?: string | undefined;
}

async function measureGroup(
  admin: Admin,
  group: GroupDescription,
  committed: Map<string, Map<number, bigint>>,
  scope: LagScope,
): Promise<GroupLag> {
  const { now, timeLag } = scope;
  const members = group.members.map((m) => ({
    memberId: m.memberId,
    clientId: m.clientId,
    host: m.clientHost,
    assignments: decodeAssignment(m.memberAssignment),
  }));
  const topics = [...new Set([...committed.keys(), ...members.flatMap((m) => Object.keys(m.assignments))])]
    .filter((topic) => scope.existing.has(topic) && (scope.topic === undefined || topic === scope.topic))
    .sort();

  const partitions: PartitionLag[] = [];
  for (const topic of topics) {
    let pending = scope.marks.get(topic);
    if (!pending) {
      // Deleted since the listing (tests come and go): left out, like a topic that no longer exists.
      pending = withKafka({ topic }, () => watermarks(admin, topic)).catch((error: unknown) => {
        if (isMessagingError(error, 'TDL_MSG_UNKNOWN_TOPIC')) return undefined;
        throw error;
      });
      scope.marks.set(topic, pending);
    }
    const marks = await pending;
    if (marks === undefined) continue;
    const current = committed.get(topic) ?? new Map<number, bigint>();
    const lags = marks.map(({ partition, low, high }) => {
      const offset = current.get(partition);
      const position = clamp(offset ?? low, low, high);
      return { partition, low, high, offset, position, offsetLag: high - position };
    });
    const behind = new Map(lags.filter((l) => l.offsetLag > 0n).map((l) => [l.partition, l.position]));
    const timestamps =
      behind.size > 0 && timeLag
        ? await withKafka({ topic }, () => recordTimestamps(admin, topic, behind, now))
        : new Map<number, number>();
    for (const lag of lags) {
      const timestamp = timestamps.get(lag.partition);
      partitions.push({
        topic,
        partition: lag.partition,
        committed: lag.offset === undefined ? null : lag.offset.toString(),
        low: lag.low.toString(),
        high: lag.high.toString(),
        offsetLag: Number(lag.offsetLag),
        timeLagMs: !timeLag ? null : timestamp === undefined ? 0 : Math.max(0, now - timestamp),
      });
    }
  }
  return { groupId: group.groupId, state: group.state, members, partitions };
}

/** One group's lag in the view of every group. */
export interface GroupLagSummary extends GroupLag {
  /** `consumer` for Kafka consumer groups; empty for a group that only has committed offsets. */
  protocolType: string;
  /**
   * Records behind over its partitions (as {@link PartitionLag.offsetLag}); null when the group has no
   * committed offset on any of them: where it starts depends on its reset policy, so there is nothing to measure.
   */
  offsetLag: number | null;
  /** The oldest unconsumed record's age over its partitions; null as offsetLag, or when not asked for. */
  timeLagMs: number | null;
}

const byLag = (a: GroupLagSummary, b: GroupLagSummary): number =>
  (b.offsetLag ?? -1) - (a.offsetLag ?? -1) ||
  (b.timeLagMs ?? -1) - (a.timeLagMs ?? -1) ||
  a.groupId.localeCompare(b.groupId);

/** Groups measured at once by {@link everyGroupLag}. */
const GROUP_CONCURRENCY = 4;

/**
 * The lag of every consumer group of the cluster (as {@link groupLag} per group), the most behind first:
 * by offset lag, then time lag, then id; groups with no committed offsets last. One ListGroups, batched
 * DescribeGroups, one ListTopics, and each topic's watermarks once for all groups. With `topic`, only the
 * groups that read it (committed offsets or an assignment), measured on it alone.
 *
 * @throws MessagingError TDL_MSG_KAFKA_UNAVAILABLE.
 */
export async function everyGroupLag(
  admin: Admin,
  { now = Date.now(), timeLag = true, topic }: { now?: number; timeLag?: boolean; topic?: string } = {},
): Promise<GroupLagSummary[]> {
  return withKafka({}, async () => {
    const { groups } = await admin.listGroups();
    const protocols = new Map(groups.map((g) => [g.groupId, g.protocolType]));
    const ids = [...protocols.keys()].sort();
    const described = new Map<string, GroupDescription>();
    for (let start = 0; start < ids.length; start += 100) {
      const { groups: batch } = await admin.describeGroups(ids.slice(start, start + 100));
      for (const group of batch) described.set(group.groupId, group);
    }
    const scope: LagScope = {
      now,
      timeLag,
      existing: new Set(await admin.listTopics()),
      marks: new Map(),
      topic,
    };
    const summaries: GroupLagSummary[] = [];
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const groupId = ids[next++]!;
        const group = described.get(groupId) ?? {
          groupId,
          members: [],
          protocol: '',
          protocolType: '',
          state: 'Unknown',
        };
        const committed = await withKafka({ groupId }, () =>
          committedOffsets(admin, groupId).catch((error: unknown) => {
            // Deleted between the listing and now: it is no longer a group to show.
            if (kafkaErrorType(error) === 'GROUP_ID_NOT_FOUND') return undefined;
            throw error;
          }),
        );
        if (committed === undefined) continue;
        const lag = await measureGroup(admin, group, committed, scope);
        if (topic !== undefined && lag.partitions.length === 0) continue;
        const measured = lag.partitions.some((p) => p.committed !== null);
        summaries.push({
          ...lag,
          protocolType: protocols.get(groupId) ?? '',
          offsetLag: measured ? lag.partitions.reduce((sum, p) => sum + p.offsetLag, 0) : null,
          timeLagMs: measured && timeLag ? Math.max(0, ...lag.partitions.map((p) => p.timeLagMs ?? 0)) : null,
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(GROUP_CONCURRENCY, ids.length) }, worker));
    return summaries.sort(byLag);
  });
}

/** A consumer group as the cluster lists it. */
export interface ConsumerGroupSummary {
  groupId: string;
  state: ConsumerGroupState;
  /** `consumer` for Kafka consumer groups; empty for a group that only has committed offsets. */
  protocolType: string;
  members: number;
}

/** Every consumer group of the cluster with its state and member count, sorted by id. */
export async function listConsumerGroups(admin: Admin): Promise<ConsumerGroupSummary[]> {
  return withKafka({}, async () => {
    const { groups } = await admin.listGroups();
    const ids = groups.map((g) => g.groupId).sort();
    const described = new Map<string, GroupDescription>();
    for (let start = 0; start < ids.length; start += 100) {
      const { groups: batch } = await admin.describeGroups(ids.slice(start, start + 100));
      for (const group of batch) described.set(group.groupId, group);
    }
    return groups
      .map((g) => {
        const description = described.get(g.groupId);
        return {
          groupId: g.groupId,
          state: description?.state ?? 'Unknown',
          protocolType: g.protocolType,
          members: description?.members.length ?? 0,
        };
      })
      .sort((a, b) => a.groupId.localeCompare(b.groupId));
  });
}
