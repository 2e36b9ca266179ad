// What a test run leaves on the stack, found by the scope its names carry (names.ts), and its
// deletion: topics (with a test's retry and dead-letter topics), consumer groups (a service's
// group and its tables' groups), registry subjects and PostgreSQL databases.
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Client } from 'pg';
import { dropDatabase } from './database';
import { testInfra, type TestInfra } from './infra';

export interface StackNames {
  topics: string[];
  groups: string[];
  subjects: string[];
  databases: string[];
}

const KINDS = ['topics', 'groups', 'subjects', 'databases'] as const;

function adminKafka(infra: TestInfra): Kafka {
  return new Kafka({
    clientId: 'tideline-test-cleanup',
    brokers: infra.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
}

async function withAdmin<T>(infra: TestInfra, use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = adminKafka(infra).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

async function withPostgres<T>(infra: TestInfra, use: (client: Client) => Promise<T>): Promise<T> {
  const url = new URL(infra.databaseUrl);
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function subjects(infra: TestInfra): Promise<string[]> {
  const response = await fetch(`${infra.registryUrl}/subjects`);
  if (!response.ok) throw new Error(`GET ${infra.registryUrl}/subjects answered ${response.status}`);
  return (await response.json()) as string[];
}

/** Every topic, consumer group, registry subject and database on the stack right now. */
export async function listStack(infra: TestInfra = testInfra()): Promise<StackNames> {
  const [kafka, registry, databases] = await Promise.all([
    withAdmin(infra, async (admin) => ({
      topics: await admin.listTopics(),
      groups: (await admin.listGroups()).groups.map((g) => g.groupId),
    })),
    subjects(infra),
    withPostgres(infra, async (client) =>
      (await client.query<{ datname: string }>('SELECT datname FROM pg_database')).rows.map((r) => r.datname),
    ),
  ]);
  return { ...kafka, subjects: registry, databases };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Deletes the groups that have no member left; waits up to `waitMs` for the others (a killed
 * member stays until its session times out). Returns those still not deleted.
 */
async function deleteGroups(admin: Admin, groups: readonly string[], waitMs: number): Promise<string[]> {
  let pending = [...groups];
  const deadline = Date.now() + waitMs;
  for (;;) {
    const described = pending.length > 0 ? (await admin.describeGroups(pending)).groups : [];
    const empty = described.filter((g) => g.state === 'Empty' || g.state === 'Dead').map((g) => g.groupId);
    if (empty.length > 0) {
      // Reports per group; one that just got a member again stays pending.
      const results = await admin.deleteGroups(empty).catch((error: { groups?: { groupId: string }[] }) => {
        const failed = new Set((error.groups ?? []).map((g) => g.groupId));
        return empty.filter((g) => !failed.has(g)).map((groupId) => ({ groupId }));
      });
      const deleted = new Set(results.map((r) => r.groupId));
      pending = pending.filter((g) => !deleted.has(g));
    }
    if (pending.length === 0 || Date.now() >= deadline) return pending;
    await sleep(1_000);
  }
}

/**
 * Deletes everything whose name contains `scope` (a test file's or a whole run's), waiting up to
 * `groupWaitMs` for groups whose members were killed. Returns what it deleted and what is left.
 */
export async function deleteScope(
  scope: string,
  { groupWaitMs = 0, infra = testInfra() }: { groupWaitMs?: number; infra?: TestInfra } = {},
): Promise<{ deleted: StackNames; left: StackNames }> {
  if (!/^[0-9a-z]{6,}$/.test(scope)) throw new Error(`refusing to delete by the scope '${scope}'`);
  const found = scoped(await listStack(infra), scope);
  const left: StackNames = { topics: [], groups: [], subjects: [], databases: [] };
  await withAdmin(infra, async (admin) => {
    left.groups = await deleteGroups(admin, found.groups, groupWaitMs);
    // One already being deleted fails the call; the listing afterwards tells what is left.
    if (found.topics.length > 0) await admin.deleteTopics({ topics: found.topics }).catch(() => undefined);
  });
  for (const subject of found.subjects) {
    for (const query of ['', '?permanent=true']) {
      await fetch(`${infra.registryUrl}/subjects/${encodeURIComponent(subject)}${query}`, {
        method: 'DELETE',
      });
    }
  }
  await withPostgres(infra, async (client) => {
    for (const database of found.databases) await dropDatabase(client, database);
  });
  // A deleted topic may stay listed for a moment: what is still there after a few seconds is left.
  let after = scoped(await listStack(infra), scope);
  for (let tries = 0; tries < 10 && after.topics.length + after.subjects.length > 0; tries += 1) {
    await sleep(500);
    after = scoped(await listStack(infra), scope);
  }
  left.topics = after.topics;
  left.subjects = after.subjects;
  left.databases = after.databases;
  return { deleted: found, left };
}

/** The names of `names` that contain `scope`. */
export function scoped(names: StackNames, scope: string): StackNames {
  const pick = (list: string[]) => list.filter((name) => name.includes(scope));
  return {
    topics: pick(names.topics),
    groups: pick(names.groups),
    subjects: pick(names.subjects),
    databases: pick(names.databases),
  };
}

/** What is in `after` and was not in `before`, per kind, kept by `keep`. */
export function added(
  before: StackNames,
  after: StackNames,
  keep: (name: string) => boolean = () => true,
): StackNames {
  const result = { topics: [], groups: [], subjects: [], databases: [] } as StackNames;
  for (const kind of KINDS) {
    const had = new Set(before[kind]);
    result[kind] = after[kind].filter((name) => !had.has(name) && keep(name));
  }
  return result;
}

/** `topics: a, b; groups: c` for the kinds that have names; '' when none has. */
export function describeNames(names: StackNames): string {
  return KINDS.filter((kind) => names[kind].length > 0)
    .map((kind) => `${kind}: ${names[kind].join(', ')}`)
    .join('; ');
}
