import { loadConfig, signingVariables, type Env } from './index';
import { problemsFor as problemsOf } from './test-support/problems';

const SECRET_A = Buffer.alloc(32, 0xa1);
const SECRET_B = Buffer.alloc(48, 0xb2);
const A = SECRET_A.toString('base64');
const B = SECRET_B.toString('base64');
/** 31 bytes: one short of an HMAC-SHA256 key. */
const SHORT = Buffer.alloc(31, 0xc3).toString('base64');

const problemsFor = (env: Env) => problemsOf(signingVariables, env);

describe('signingVariables defaults', () => {
  it('requires signatures and has no keys or topic policies when nothing is set', () => {
    const config = loadConfig(signingVariables, {});
    expect(config.SIGNING_KEY_ID).toBeUndefined();
    expect(config.SIGNING_KEY).toBeUndefined();
    expect(config.SIGNING_POLICY).toBe('required');
    expect(config.SIGNING_VERIFY_KEYS).toEqual(new Map());
    expect(config.SIGNING_TOPIC_POLICIES).toEqual(new Map());
  });

  it.each(['required', 'optional', 'off'] as const)('accepts SIGNING_POLICY=%s', (policy) => {
    expect(loadConfig(signingVariables, { SIGNING_POLICY: policy }).SIGNING_POLICY).toBe(policy);
  });

  it('rejects another SIGNING_POLICY, showing the value', () => {
    expect(problemsFor({ SIGNING_POLICY: 'sometimes' })).toEqual([
      'SIGNING_POLICY: Invalid option: expected one of "required"|"optional"|"off" (got "sometimes")',
    ]);
  });
});

describe('SIGNING_KEY_ID and SIGNING_KEY', () => {
  it('decodes a base64 secret of 32 bytes to a Buffer', () => {
    const config = loadConfig(signingVariables, { SIGNING_KEY_ID: 'orders-2026.01_a', SIGNING_KEY: A });
    expect(config.SIGNING_KEY_ID).toBe('orders-2026.01_a');
    expect(Buffer.isBuffer(config.SIGNING_KEY)).toBe(true);
    expect(config.SIGNING_KEY).toEqual(SECRET_A);
  });

  it('accepts a secret longer than 32 bytes', () => {
    expect(loadConfig(signingVariables, { SIGNING_KEY: B }).SIGNING_KEY).toEqual(SECRET_B);
  });

  it.each([
    ['31 bytes', SHORT],
    ['empty', ''],
    ['a few bytes', 'c2hvcnQ='],
  ])('rejects a secret of %s without showing it', (_what, raw) => {
    expect(problemsFor({ SIGNING_KEY: raw })).toEqual([
      'SIGNING_KEY: must be base64 of at least 32 bytes (value hidden)',
    ]);
  });

  it.each(['has space', 'a'.repeat(65), '', 'key/1'])(
    'rejects SIGNING_KEY_ID %j, showing the value',
    (id) => {
      expect(problemsFor({ SIGNING_KEY_ID: id })).toEqual([
        `SIGNING_KEY_ID: must be 1-64 letters, digits, ".", "_" or "-" (got "${id}")`,
      ]);
    },
  );

  it('accepts a key id of 64 characters', () => {
    const id = 'k'.repeat(64);
    expect(loadConfig(signingVariables, { SIGNING_KEY_ID: id }).SIGNING_KEY_ID).toBe(id);
  });
});

describe('SIGNING_VERIFY_KEYS', () => {
  it('parses id=secret pairs into a map of Buffers', () => {
    const keys = loadConfig(signingVariables, { SIGNING_VERIFY_KEYS: `k1=${A},k2=${B}` }).SIGNING_VERIFY_KEYS;
    expect([...keys.keys()]).toEqual(['k1', 'k2']);
    expect(keys.get('k1')).toEqual(SECRET_A);
    expect(keys.get('k2')).toEqual(SECRET_B);
  });

  it('trims blanks around pairs, ids and secrets and skips empty entries', () => {
    const keys = loadConfig(signingVariables, {
      SIGNING_VERIFY_KEYS: ` k1 = ${A} ,, k2=${B}, `,
    }).SIGNING_VERIFY_KEYS;
    expect(keys).toEqual(
      new Map([
        ['k1', SECRET_A],
        ['k2', SECRET_B],
      ]),
    );
  });

  it('keeps the = padding of a secret (splits each pair at its first =)', () => {
    expect(A.endsWith('=')).toBe(true);
    expect(
      loadConfig(signingVariables, { SIGNING_VERIFY_KEYS: `k1=${A}` }).SIGNING_VERIFY_KEYS.get('k1'),
    ).toEqual(SECRET_A);
  });

  it.each([
    ['a pair without =', 'k1', 'entry 1 is not key-id=base64-secret'],
    ['an empty secret', 'k1=', 'entry 1: the secret must be base64 of at least 32 bytes'],
    ['a 31-byte secret', `k1=${SHORT}`, 'entry 1: the secret must be base64 of at least 32 bytes'],
    [
      'an id with a space',
      `bad id=${A}`,
      'entry 1: the key id must be 1-64 letters, digits, ".", "_" or "-"',
    ],
    ['an id of 65 characters', `${'k'.repeat(65)}=${A}`, 'entry 1: the key id must be 1-64'],
    ['a duplicate key id', `k1=${A},k1=${B}`, 'entry 2 repeats a name listed before it'],
    [
      'a passphrase instead of base64',
      'k1=correct horse battery staple is a long enough passphrase',
      'entry 1: the secret must be base64',
    ],
  ])('rejects %s', (_what, raw, message) => {
    const problems = problemsFor({ SIGNING_VERIFY_KEYS: raw });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`SIGNING_VERIFY_KEYS: ${message}`);
    expect(problems[0]).toMatch(/ \(value hidden\)$/);
  });

  it('lists each bad pair as its own problem and none for the good one', () => {
    const problems = problemsFor({ SIGNING_VERIFY_KEYS: `good=${A},k1=${SHORT},bad id=${B}` });
    expect(problems).toEqual([
      'SIGNING_VERIFY_KEYS: entry 2: the secret must be base64 of at least 32 bytes (value hidden)',
      'SIGNING_VERIFY_KEYS: entry 3: the key id must be 1-64 letters, digits, ".", "_" or "-" (value hidden)',
    ]);
  });

  // Regression: a secret given without its id (or with a malformed one) was echoed in the message.
  it.each([A, `=${A}`, Buffer.alloc(32, 0xfb).toString('base64')])(
    'never shows the secret of %s given without a valid id',
    (raw) => {
      const text = problemsFor({ SIGNING_VERIFY_KEYS: raw }).join('\n');
      expect(text).toContain('(value hidden)');
      expect(text).not.toContain(raw.replace(/^=|=+$/g, ''));
    },
  );

  it('never shows the secrets of a list with a bad id or a short secret', () => {
    const text = problemsFor({ SIGNING_VERIFY_KEYS: `good=${A},k1=${SHORT},bad id=${B}` }).join('\n');
    expect(text).toContain('(value hidden)');
    for (const secret of [A, SHORT, B, A.replace(/=+$/, ''), B.replace(/=+$/, '')]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('SIGNING_TOPIC_POLICIES', () => {
  it('rejects an unknown policy, naming it and the topic and showing the value', () => {
    expect(problemsFor({ SIGNING_TOPIC_POLICIES: 'legacy.events=maybe' })).toEqual([
      'SIGNING_TOPIC_POLICIES: policy "maybe" for legacy.events is not required, optional or off (got "legacy.events=maybe")',
    ]);
  });

  it('rejects policies in another case', () => {
    expect(problemsFor({ SIGNING_TOPIC_POLICIES: 'a=OFF' })).toEqual([
      'SIGNING_TOPIC_POLICIES: policy "OFF" for a is not required, optional or off (got "a=OFF")',
    ]);
  });

  it.each([
    ['a pair without =', 'legacy.events'],
    ['a pair without a topic', '=off'],
  ])('rejects %s', (_what, raw) => {
    expect(problemsFor({ SIGNING_TOPIC_POLICIES: raw })).toEqual([
      `SIGNING_TOPIC_POLICIES: "${raw}" is not topic=required|optional|off (got "${raw}")`,
    ]);
  });
});

describe('which values a ConfigError shows', () => {
  it('hides SIGNING_KEY and SIGNING_VERIFY_KEYS but shows the other signing variables', () => {
    const env = {
      SIGNING_KEY_ID: 'bad id',
      SIGNING_KEY: SHORT,
      SIGNING_VERIFY_KEYS: `k1=${SHORT}`,
      SIGNING_POLICY: 'sometimes',
      SIGNING_TOPIC_POLICIES: 't=maybe',
    };
    const problems = problemsFor(env);
    expect(problems).toHaveLength(5);
    expect(problems.find((p) => p.startsWith('SIGNING_KEY_ID:'))).toMatch(/\(got "bad id"\)$/);
    expect(problems.find((p) => p.startsWith('SIGNING_KEY:'))).toMatch(/\(value hidden\)$/);
    expect(problems.find((p) => p.startsWith('SIGNING_VERIFY_KEYS:'))).toMatch(/\(value hidden\)$/);
    expect(problems.find((p) => p.startsWith('SIGNING_POLICY:'))).toMatch(/\(got "sometimes"\)$/);
    expect(problems.find((p) => p.startsWith('SIGNING_TOPIC_POLICIES:'))).toMatch(/\(got "t=maybe"\)$/);
    expect(problems.join('\n')).not.toContain(SHORT);
  });
});
