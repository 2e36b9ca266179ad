import fs from 'node:fs';
import path from 'node:path';
import { runCli } from './cli';
import { cliErrorCodes } from './cli-error';

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
      'manifests strimzi',
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
      ['topics', 'plan', '--registry', 'http://r:8081'],
      'tideline: topics plan does not take --registry; see tideline topics plan --help\n',
    ],
    [
      ['schemas', 'check', '--bootstrap-server', '127.0.0.1:9092'],
      'tideline: schemas check does not take --bootstrap-server; see tideline schemas check --help\n',
    ],
    [
      ['groups', 'list', '--bootstrap-server', 'kafka-0'],
      'tideline: --bootstrap-server: each broker must be host:port (got "kafka-0")\n',
    ],
    [
      ['groups', 'list', '--bootstrap-server', ','],
      'tideline: --bootstrap-server: needs at least one broker as host:port (got ",")\n',
    ],
    [
      ['schemas', 'diff', '--registry', 'ftp://registry'],
      'tideline: --registry: must be an http(s) URL (got "ftp://registry")\n',
    ],
    [
      ['--version', 'groups', 'list'],
      'tideline: --version takes no command or other option; see tideline --help\n',
    ],
    [
      ['groups', 'lag', '--version'],
      'tideline: --version takes no command or other option; see tideline --help\n',
    ],
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

  it('prints its package version in one line', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `tideline ${version}\n`, stderr: '' });
    expect(await run(['--version', '--json'])).toEqual({
      code: 0,
      stdout: `${JSON.stringify({ version })}\n`,
      stderr: '',
    });
  });

  it('says in the help which command takes --group (groups lag no longer needs it) and the connection flags', async () => {
    const lag = (await run(['groups', 'lag', '--help'])).stdout;
    expect(lag).toMatch(/^Usage: tideline groups lag \[options\]/);
    expect(lag).toMatch(
      /--bootstrap-server HOST:PORT,… +the Kafka brokers \(as KAFKA_BROKERS, which it overrides\)/,
    );
    expect(lag).not.toContain('--registry URL');
    expect((await run(['dlq', 'show', '--help'])).stdout).toContain('--registry URL');
    expect((await run(['--help'])).stdout).toContain('tideline --version');
  });

  const jsonError = (stderr: string) => {
    expect(stderr.endsWith('\n')).toBe(true);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    return JSON.parse(stderr) as { error: { code: string; message: string } };
  };

  it.each([
    [
      ['groups', 'describe', '--json'],
      'groups describe needs --group G; see tideline groups describe --help',
    ],
    [['--json', 'topics', 'frob'], 'unknown command "topics frob"; see tideline --help'],
    [
      ['groups', 'list', '--json', '--bootstrap-server', 'x'],
      '--bootstrap-server: each broker must be host:port (got "x")',
    ],
  ])('with --json answers bad usage %j as a JSON error on stderr, exit 2', async (argv, message) => {
    const { code, stdout, stderr } = await run(argv, { KAFKA_BROKERS: '127.0.0.1:9' });
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(jsonError(stderr)).toEqual({ error: { code: 'TDL_CLI_USAGE', message } });
  });

  it('with --json answers an option the parser refuses as JSON too, before knowing the command', async () => {
    const { code, stderr } = await run(['schemas', 'check', '--frobnicate', '--json']);
    expect(code).toBe(2);
    expect(jsonError(stderr).error).toMatchObject({
      code: 'TDL_CLI_USAGE',
      message: expect.stringMatching(/^Unknown option '--frobnicate'/) as unknown,
    });
    // After `--` it is an argument, not the flag.
    expect((await run(['schemas', 'check', '--frobnicate', '--', '--json'])).stderr).toMatch(/^tideline: /);
  });

  it('with --json answers a bad configuration and a failure with their codes, exit 1', async () => {
    const config = await run(['topics', 'plan', '--json'], { KAFKA_BROKERS: 'nope' });
    expect(config.code).toBe(1);
    expect(jsonError(config.stderr)).toEqual({
      error: {
        code: 'TDL_CONFIG_INVALID',
        message: 'invalid configuration: KAFKA_BROKERS: each broker must be host:port (got "nope")',
      },
    });
    const catalog = await run(['asyncapi', '--json', '--schemas', '/nonexistent/schemas']);
    expect(catalog.code).toBe(1);
    expect(jsonError(catalog.stderr).error.code).toBe('TDL_CLI_CATALOG_INVALID');
  });

  it('lets --bootstrap-server win over KAFKA_BROKERS (the variable is not even checked)', async () => {
    // Nothing listens on port 9: refused at once, and the error names the flag's broker.
    const { code, stderr } = await run(['groups', 'list', '--json', '--bootstrap-server', '127.0.0.1:9'], {
      KAFKA_BROKERS: 'nope',
    });
    expect(code).toBe(1);
    expect(jsonError(stderr).error).toMatchObject({
      code: 'TDL_MSG_KAFKA_UNAVAILABLE',
      message: expect.stringMatching(/^Kafka at 127\.0\.0\.1:9 is not reachable: /) as unknown,
    });
  });

  it('documents every CLI error code in docs/reference/errors.md', () => {
    const doc = fs.readFileSync(path.resolve(__dirname, '../../../docs/reference/errors.md'), 'utf8');
    for (const [code, { exitCode }] of Object.entries(cliErrorCodes)) {
      const row = doc.split('\n').find((line) => new RegExp(`^\\| \`${code}\` +\\|`).test(line));
      expect(row).toBeDefined();
      expect(row!.split('|')[2]!.trim()).toBe(String(exitCode));
    }
  });
});
