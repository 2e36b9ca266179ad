import { runCli } from './cli';

async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { env, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('tideline CLI (no infrastructure)', () => {
  it('prints help with every command', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const command of [
      'schemas check',
      'schemas register',
      'schemas diff',
      'topics plan',
      'topics apply',
      'groups list',
      'groups describe',
      'groups lag',
      'replay',
      'dlq list',
      'dlq show',
      'dlq redrive',
      'asyncapi',
    ])
      expect(stdout).toContain(`  ${command} `);
  });

  it('prints a command help', async () => {
    const { code, stdout } = await run(['topics', 'apply', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('dry run unless --execute');
  });

  it('prints the options of a command, marking the required ones', async () => {
    const { code, stdout } = await run(['dlq', 'redrive', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: tideline dlq redrive --group G --topic T \[options\]/);
    expect(stdout).toMatch(/--rate R +at most R records per second \(default 100\)/);
    expect(stdout).toMatch(/--group G +the consumer group \(required\)/);
    expect(stdout).toContain('--execute');
    expect((await run(['groups', 'lag', '--help'])).stdout).not.toContain('--execute');
  });

  const G = ['--group', 'g', '--topic', 'orders.order-placed.v1'];
  it.each([
    [['topics', 'frob'], 'tideline: unknown command "topics frob"; see tideline --help\n'],
    [['replay', 'now'], 'tideline: unknown command "replay now"; see tideline --help\n'],
    [
      ['schemas', 'check', '--frobnicate'],
      /^tideline: Unknown option '--frobnicate'.*; see tideline --help\n$/,
    ],
    [
      ['groups', 'lag', '--execute', '--group', 'g'],
      'tideline: groups lag does not take --execute; see tideline groups lag --help\n',
    ],
    [
      ['topics', 'plan', '--group', 'g'],
      'tideline: topics plan does not take --group; see tideline topics plan --help\n',
    ],
    [
      ['topics', 'apply', '--replication', '0'],
      'tideline: --replication must be a whole number from 1 to 32 (got "0")\n',
    ],
    [
      ['groups', 'describe'],
      'tideline: groups describe needs --group G; see tideline groups describe --help\n',
    ],
    [
      ['replay', '--group', 'g'],
      'tideline: replay needs --topic T and --to TARGET; see tideline replay --help\n',
    ],
    [
      ['dlq', 'redrive', '--group', 'g'],
      'tideline: dlq redrive needs --topic T; see tideline dlq redrive --help\n',
    ],
    [['dlq', 'list', '--group', ''], 'tideline: --group needs a value; see tideline dlq list --help\n'],
    [
      [...['replay', ...G], '--to', '2026-11-23T10:00:00'],
      /^tideline: --to: "2026-11-23T10:00:00" has no timezone; add Z/,
    ],
    [
      [...['replay', ...G], '--to', 'yesterday'],
      /^tideline: --to: "yesterday" is not earliest, latest, an ISO time/,
    ],
    [[...['replay', ...G], '--to', '0:10,0:12'], /^tideline: --to: partition 0 appears more than once/],
    [
      ['dlq', 'list', '--group', 'g', '--since', 'last week'],
      /^tideline: --since must be an ISO time with timezone/,
    ],
    [
      ['dlq', 'list', '--group', 'g', '--since', '2026-13-01T00:00Z'],
      /^tideline: --since: "2026-13-01T00:00Z" is not a valid date/,
    ],
    [
      ['dlq', 'show', '--group', 'g', '--limit', '0'],
      'tideline: --limit must be a whole number from 1 to 1000000000 (got "0")\n',
    ],
    [
      ['dlq', 'redrive', ...G, '--rate', 'fast'],
      'tideline: --rate must be records per second from 0.1 to 100000 (got "fast")\n',
    ],
    [
      ['dlq', 'redrive', ...G, '--to-retry', '1.5'],
      'tideline: --to-retry must be a whole number from 1 to 100 (got "1.5")\n',
    ],
  ])('answers bad usage %j with one line on stderr and exit 2', async (argv, message) => {
    // Nothing listens there: a command that reached for Kafka would fail differently.
    const { code, stdout, stderr } = await run(argv, { KAFKA_BROKERS: '127.0.0.1:9' });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('lists every bad variable of a bad configuration in one line', async () => {
    const { code, stderr } = await run(['topics', 'plan'], {
      KAFKA_BROKERS: 'nope',
      SCHEMA_REGISTRY_URL: 'ftp://x',
      TOPIC_REPLICATION: 'all',
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'tideline: invalid configuration: KAFKA_BROKERS: each broker must be host:port (got "nope"); SCHEMA_REGISTRY_URL: must be an http(s) URL (got "ftp://x"); TOPIC_REPLICATION: must be a whole number from 1 to 32 (got "all")\n',
    );
  });

  it('refuses a schemas folder that does not exist, naming it', async () => {
    const { code, stderr } = await run(['schemas', 'check', '--schemas', '/nonexistent/schemas']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^tideline: cannot read schemas from \/nonexistent\/schemas: ENOENT/);
  });
});
