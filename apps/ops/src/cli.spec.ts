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
    for (const command of ['schemas check', 'schemas register', 'topics plan', 'topics apply'])
      expect(stdout).toContain(command);
  });

  it('prints a command help', async () => {
    const { code, stdout } = await run(['topics', 'apply', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('dry run unless --execute');
  });

  it.each([
    [['topics', 'frob'], 'tideline: unknown command "topics frob"; see tideline --help\n'],
    [
      ['schemas', 'check', '--frobnicate'],
      /^tideline: Unknown option '--frobnicate'.*; see tideline --help\n$/,
    ],
  ])('answers bad usage %j with one line on stderr and exit 2', async (argv, message) => {
    const { code, stdout, stderr } = await run(argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('lists every bad variable of a bad configuration in one line', async () => {
    const { code, stderr } = await run(['topics', 'plan'], {
      KAFKA_BROKERS: 'nope',
      SCHEMA_REGISTRY_URL: 'ftp://x',
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'tideline: invalid configuration: KAFKA_BROKERS: each broker must be host:port (got "nope"); SCHEMA_REGISTRY_URL: must be an http(s) URL (got "ftp://x")\n',
    );
  });

  it('refuses a schemas folder that does not exist, naming it', async () => {
    const { code, stderr } = await run(['schemas', 'check', '--schemas', '/nonexistent/schemas']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^tideline: cannot read schemas from \/nonexistent\/schemas: ENOENT/);
  });
});
