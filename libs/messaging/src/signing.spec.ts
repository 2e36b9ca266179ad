import { ConfigError } from '@tideline/config';
import { isMessagingError, type MessagingError, type MessagingErrorCode } from './errors';
import { HEADER, type Headers } from './headers';
import { RecordSigner, signerFromConfig, type SigningSettings } from './signing';

const TOPIC = 'orders.order-placed.v1';
const OTHER_TOPIC = 'orders.order-confirmed.v1';
const OLD_SECRET = Buffer.alloc(32, 1);
const NEW_SECRET = Buffer.alloc(32, 2);

/** The identity headers the signature covers (IDENTITY in signing.ts). */
const IDENTITY_HEADERS = [
  HEADER.eventId,
  HEADER.eventType,
  HEADER.correlationId,
  HEADER.causationId,
  HEADER.producer,
  HEADER.producedAt,
] as const;

function identity(): Headers {
  return {
    [HEADER.specVersion]: '1.0',
    [HEADER.eventId]: '0193a1b2-0000-7000-8000-000000000001',
    [HEADER.eventType]: 'dev.tideline.orders.OrderPlaced',
    [HEADER.correlationId]: '0193a1b2-0000-7000-8000-000000000002',
    [HEADER.causationId]: '0193a1b2-0000-7000-8000-000000000003',
    [HEADER.producer]: 'order-api',
    [HEADER.producedAt]: '2026-11-23T10:00:00.000Z',
    [HEADER.contentType]: 'application/vnd.apache.avro+binary',
    [HEADER.traceparent]: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };
}

interface SignedRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

/** A record (defaults filled in) after `signer.sign` added its signature headers. */
function signed(signer: RecordSigner, record: Partial<SignedRecord> = {}): SignedRecord {
  const result: SignedRecord = {
    topic: TOPIC,
    key: Buffer.from('order-1'),
    value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]),
    headers: identity(),
    ...record,
  };
  signer.sign(result.topic, result.key, result.value, result.headers);
  return result;
}

function verifyError(signer: RecordSigner, record: SignedRecord): unknown {
  try {
    signer.verify(record.topic, record.key, record.value, record.headers);
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectMessagingError(error: unknown, code: MessagingErrorCode): void {
  expect(isMessagingError(error, code)).toBe(true);
  expect((error as MessagingError).retryable).toBe(false);
}

function configError(build: () => unknown): ConfigError {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

const signerWith = (
  secret: Buffer,
  id = 'k1',
  extra: Partial<ConstructorParameters<typeof RecordSigner>[0]> = {},
) => new RecordSigner({ signingKey: { id, secret }, defaultPolicy: 'required', ...extra });

describe('RecordSigner sign and verify', () => {
  it('adds a base64url signature and the key id, which the same key verifies', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    expect(record.headers[HEADER.signatureKeyId]).toBe('k1');
    expect(record.headers[HEADER.signature]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifyError(signer, record)).toBeUndefined();
  });

  it('verifies a record with a null key and a null value (tombstone)', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer, { key: null, value: null });
    expect(verifyError(signer, record)).toBeUndefined();
  });

  it('gives the same signature for the same record and a different one for another secret', () => {
    const first = signed(signerWith(OLD_SECRET)).headers[HEADER.signature];
    const again = signed(signerWith(OLD_SECRET)).headers[HEADER.signature];
    const other = signed(signerWith(NEW_SECRET)).headers[HEADER.signature];
    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });

  it('rejects a record verified against another topic as TDL_MSG_SIGNATURE_INVALID', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    const error = verifyError(signer, { ...record, topic: OTHER_TOPIC });
    expectMessagingError(error, 'TDL_MSG_SIGNATURE_INVALID');
    expect((error as MessagingError).details).toEqual({ keyId: 'k1' });
  });

  it('rejects an altered key as TDL_MSG_SIGNATURE_INVALID', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    expectMessagingError(
      verifyError(signer, { ...record, key: Buffer.from('order-2') }),
      'TDL_MSG_SIGNATURE_INVALID',
    );
  });

  it('rejects an altered value (one flipped byte) as TDL_MSG_SIGNATURE_INVALID', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    const value = Buffer.from(record.value!);
    const last = value.length - 1;
    value.writeUInt8(value.readUInt8(last) ^ 1, last);
    expectMessagingError(verifyError(signer, { ...record, value }), 'TDL_MSG_SIGNATURE_INVALID');
  });

  it('tells a null key from an empty key and a null value from an empty value', () => {
    const signer = signerWith(OLD_SECRET);
    const nulls = signed(signer, { key: null, value: null });
    expectMessagingError(
      verifyError(signer, { ...nulls, key: Buffer.alloc(0) }),
      'TDL_MSG_SIGNATURE_INVALID',
    );
    expectMessagingError(
      verifyError(signer, { ...nulls, value: Buffer.alloc(0) }),
      'TDL_MSG_SIGNATURE_INVALID',
    );
  });

  it.each(IDENTITY_HEADERS)('rejects an altered %s header as TDL_MSG_SIGNATURE_INVALID', (name) => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    const headers = { ...record.headers, [name]: `${record.headers[name]}x` };
    expectMessagingError(verifyError(signer, { ...record, headers }), 'TDL_MSG_SIGNATURE_INVALID');
  });

  it.each(IDENTITY_HEADERS)('rejects a record whose %s header was removed', (name) => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    const headers = { ...record.headers };
    delete headers[name];
    expectMessagingError(verifyError(signer, { ...record, headers }), 'TDL_MSG_SIGNATURE_INVALID');
  });

  it.each(IDENTITY_HEADERS)('rejects a record that gained a %s header it was signed without', (name) => {
    const signer = signerWith(OLD_SECRET);
    const headers = identity();
    delete headers[name];
    const record = signed(signer, { headers });
    expect(verifyError(signer, record)).toBeUndefined();
    expectMessagingError(
      verifyError(signer, { ...record, headers: { ...record.headers, [name]: '' } }),
      'TDL_MSG_SIGNATURE_INVALID',
    );
  });

  it('leaves headers outside the identity set unsigned (trace context, content type)', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    const headers = {
      ...record.headers,
      [HEADER.traceparent]: '00-11111111111111111111111111111111-2222222222222222-01',
      [HEADER.contentType]: 'application/json',
      'x-extra': 'added later',
    };
    expect(verifyError(signer, { ...record, headers })).toBeUndefined();
  });

  it('rejects bytes moved from the key into the value (key "ab" + value "c" vs key "a" + value "bc")', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer, { key: Buffer.from('ab'), value: Buffer.from('c') });
    const moved = { ...record, key: Buffer.from('a'), value: Buffer.from('bc') };
    expectMessagingError(verifyError(signer, moved), 'TDL_MSG_SIGNATURE_INVALID');
    expect(
      signed(signer, { key: Buffer.from('a'), value: Buffer.from('bc') }).headers[HEADER.signature],
    ).not.toBe(record.headers[HEADER.signature]);
  });

  it('rejects bytes moved from the topic into the key', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer, { topic: 'orders.a', key: Buffer.from('b') });
    expectMessagingError(
      verifyError(signer, { ...record, topic: 'orders.', key: Buffer.from('ab') }),
      'TDL_MSG_SIGNATURE_INVALID',
    );
  });

  it('rejects bytes moved between two identity headers', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer, {
      headers: { ...identity(), [HEADER.correlationId]: 'ab', [HEADER.causationId]: 'c' },
    });
    const headers = { ...record.headers, [HEADER.correlationId]: 'a', [HEADER.causationId]: 'bc' };
    expectMessagingError(verifyError(signer, { ...record, headers }), 'TDL_MSG_SIGNATURE_INVALID');
  });

  it('rejects a signature made with another secret under the same key id', () => {
    const record = signed(signerWith(NEW_SECRET, 'k1'));
    expectMessagingError(verifyError(signerWith(OLD_SECRET, 'k1'), record), 'TDL_MSG_SIGNATURE_INVALID');
  });

  it('rejects a truncated or garbled signature as TDL_MSG_SIGNATURE_INVALID', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    const signature = record.headers[HEADER.signature]!;
    for (const bad of [signature.slice(0, 20), 'not a signature', '']) {
      const headers = { ...record.headers, [HEADER.signature]: bad };
      expectMessagingError(verifyError(signer, { ...record, headers }), 'TDL_MSG_SIGNATURE_INVALID');
    }
  });

  it('rejects a key id it does not know as TDL_MSG_SIGNATURE_UNKNOWN_KEY naming the id', () => {
    const record = signed(signerWith(NEW_SECRET, 'k2'));
    const error = verifyError(signerWith(OLD_SECRET, 'k1'), record);
    expectMessagingError(error, 'TDL_MSG_SIGNATURE_UNKNOWN_KEY');
    expect((error as MessagingError).details).toEqual({ keyId: 'k2' });
    expect((error as Error).message).toContain('"k2"');
  });
});

describe('signing policies', () => {
  it('rejects an unsigned record under required as TDL_MSG_SIGNATURE_MISSING', () => {
    const signer = signerWith(OLD_SECRET);
    const error = verifyError(signer, { topic: TOPIC, key: null, value: null, headers: identity() });
    expectMessagingError(error, 'TDL_MSG_SIGNATURE_MISSING');
    expect((error as Error).message).toContain(TOPIC);
  });

  it('treats a signature without its key id (or the other way round) as missing under required', () => {
    const signer = signerWith(OLD_SECRET);
    const record = signed(signer);
    const noKeyId = { ...record.headers };
    delete noKeyId[HEADER.signatureKeyId];
    const noSignature = { ...record.headers };
    delete noSignature[HEADER.signature];
    expectMessagingError(verifyError(signer, { ...record, headers: noKeyId }), 'TDL_MSG_SIGNATURE_MISSING');
    expectMessagingError(
      verifyError(signer, { ...record, headers: noSignature }),
      'TDL_MSG_SIGNATURE_MISSING',
    );
  });

  it('accepts an unsigned record under optional but still rejects a bad signature', () => {
    const signer = signerWith(OLD_SECRET, 'k1', { defaultPolicy: 'optional' });
    expect(
      verifyError(signer, { topic: TOPIC, key: null, value: null, headers: identity() }),
    ).toBeUndefined();
    const record = signed(signer);
    expect(verifyError(signer, record)).toBeUndefined();
    expectMessagingError(
      verifyError(signer, { ...record, value: Buffer.from('tampered') }),
      'TDL_MSG_SIGNATURE_INVALID',
    );
  });

  it('signs records on an optional topic when it has a key', () => {
    const signer = signerWith(OLD_SECRET, 'k1', { defaultPolicy: 'optional' });
    expect(signed(signer).headers[HEADER.signature]).toBeDefined();
  });

  it('adds nothing on sign and checks nothing on verify when the policy is off', () => {
    const signer = signerWith(OLD_SECRET, 'k1', { defaultPolicy: 'off' });
    const record = signed(signer);
    expect(record.headers).toEqual(identity());
    const forged = {
      ...record,
      headers: { ...record.headers, [HEADER.signature]: 'forged', [HEADER.signatureKeyId]: 'nobody' },
    };
    expect(verifyError(signer, forged)).toBeUndefined();
  });

  it('RecordSigner.disabled() signs and checks nothing', () => {
    const signer = RecordSigner.disabled();
    const record = signed(signer);
    expect(record.headers).toEqual(identity());
    expect(signer.policy(TOPIC)).toBe('off');
    expect(signer.canSign(TOPIC)).toBe(true);
    expect(verifyError(signer, record)).toBeUndefined();
  });

  it('lets a topic policy override the default in both directions', () => {
    const signer = signerWith(OLD_SECRET, 'k1', {
      defaultPolicy: 'required',
      topicPolicies: { [OTHER_TOPIC]: 'off', 'legacy.topic': 'optional' },
    });
    expect(signer.policy(TOPIC)).toBe('required');
    expect(signer.policy(OTHER_TOPIC)).toBe('off');
    expect(signer.policy('legacy.topic')).toBe('optional');
    const unsigned = (topic: string) => ({ topic, key: null, value: null, headers: identity() });
    expectMessagingError(verifyError(signer, unsigned(TOPIC)), 'TDL_MSG_SIGNATURE_MISSING');
    expect(verifyError(signer, unsigned(OTHER_TOPIC))).toBeUndefined();
    expect(verifyError(signer, unsigned('legacy.topic'))).toBeUndefined();
    expect(signed(signer, { topic: OTHER_TOPIC }).headers[HEADER.signature]).toBeUndefined();
  });

  it('requires a signature on a topic marked required even when the default is off', () => {
    const signer = signerWith(OLD_SECRET, 'k1', {
      defaultPolicy: 'off',
      topicPolicies: { [TOPIC]: 'required' },
    });
    expect(signed(signer).headers[HEADER.signature]).toBeDefined();
    expect(signed(signer, { topic: OTHER_TOPIC }).headers[HEADER.signature]).toBeUndefined();
    expectMessagingError(
      verifyError(signer, { topic: TOPIC, key: null, value: null, headers: identity() }),
      'TDL_MSG_SIGNATURE_MISSING',
    );
  });
});

describe('key rotation', () => {
  const verifier = new RecordSigner({
    verificationKeys: new Map([
      ['2026-01', OLD_SECRET],
      ['2026-02', NEW_SECRET],
    ]),
    defaultPolicy: 'required',
  });

  it('accepts records signed with the old and with the new key while both are listed', () => {
    const old = signed(signerWith(OLD_SECRET, '2026-01'));
    const current = signed(signerWith(NEW_SECRET, '2026-02'));
    expect(current.headers[HEADER.signatureKeyId]).toBe('2026-02');
    expect(verifyError(verifier, old)).toBeUndefined();
    expect(verifyError(verifier, current)).toBeUndefined();
  });

  it('signs with the new key while still verifying the old one', () => {
    const producer = signerWith(NEW_SECRET, '2026-02', {
      verificationKeys: new Map([['2026-01', OLD_SECRET]]),
    });
    const record = signed(producer);
    expect(record.headers[HEADER.signatureKeyId]).toBe('2026-02');
    expect(verifyError(producer, record)).toBeUndefined();
    expect(verifyError(producer, signed(signerWith(OLD_SECRET, '2026-01')))).toBeUndefined();
  });

  it('rejects the retired key once only the new one is listed', () => {
    const newOnly = new RecordSigner({
      verificationKeys: new Map([['2026-02', NEW_SECRET]]),
      defaultPolicy: 'required',
    });
    expectMessagingError(
      verifyError(newOnly, signed(signerWith(OLD_SECRET, '2026-01'))),
      'TDL_MSG_SIGNATURE_UNKNOWN_KEY',
    );
  });

  it('prefers the signing key over a verification key with the same id', () => {
    const signer = signerWith(NEW_SECRET, 'k1', { verificationKeys: new Map([['k1', OLD_SECRET]]) });
    expect(verifyError(signer, signed(signerWith(NEW_SECRET, 'k1')))).toBeUndefined();
    expectMessagingError(
      verifyError(signer, signed(signerWith(OLD_SECRET, 'k1'))),
      'TDL_MSG_SIGNATURE_INVALID',
    );
  });
});

describe('RecordSigner configuration checks', () => {
  it('refuses signing and verification keys shorter than 32 bytes, listing each', () => {
    const error = configError(
      () =>
        new RecordSigner({
          signingKey: { id: 'short', secret: Buffer.alloc(31) },
          verificationKeys: new Map([
            ['fine', OLD_SECRET],
            ['tiny', Buffer.alloc(8)],
          ]),
          defaultPolicy: 'required',
        }),
    );
    expect(error.problems).toEqual([
      'key tiny has 8 bytes; HMAC-SHA256 keys need at least 32',
      'key short has 31 bytes; HMAC-SHA256 keys need at least 32',
    ]);
  });

  it('accepts a key of exactly 32 bytes', () => {
    expect(() => signerWith(Buffer.alloc(32, 9))).not.toThrow();
  });

  it.each([
    ['required by default', { defaultPolicy: 'required' as const }],
    ['optional by default', { defaultPolicy: 'optional' as const }],
    [
      'off by default but required for one topic',
      { defaultPolicy: 'off' as const, topicPolicies: { [TOPIC]: 'required' as const } },
    ],
  ])('refuses signing %s without any key', (_what, options) => {
    const error = configError(() => new RecordSigner(options));
    expect(error.problems).toEqual([
      'signing is on for some topics but no signing or verification key is configured',
    ]);
    expect(error.code).toBe('TDL_CONFIG_INVALID');
  });

  it('needs no key when signing is off everywhere', () => {
    expect(() => new RecordSigner({ defaultPolicy: 'off', topicPolicies: { [TOPIC]: 'off' } })).not.toThrow();
  });
});

describe('signerFromConfig', () => {
  const settings = (overrides: Partial<SigningSettings> = {}): SigningSettings => ({
    SIGNING_VERIFY_KEYS: new Map(),
    SIGNING_POLICY: 'required',
    SIGNING_TOPIC_POLICIES: new Map(),
    ...overrides,
  });

  it('builds a signer that signs with SIGNING_KEY under SIGNING_KEY_ID', () => {
    const signer = signerFromConfig(settings({ SIGNING_KEY_ID: 'k1', SIGNING_KEY: OLD_SECRET }));
    const record = signed(signer);
    expect(record.headers[HEADER.signatureKeyId]).toBe('k1');
    expect(verifyError(signerWith(OLD_SECRET, 'k1'), record)).toBeUndefined();
  });

  it('names SIGNING_KEY_ID when SIGNING_KEY is set without it', () => {
    const error = configError(() => signerFromConfig(settings({ SIGNING_KEY: OLD_SECRET })));
    expect(error.problems).toEqual(['SIGNING_KEY_ID: must be set when SIGNING_KEY is']);
  });

  it('names SIGNING_KEY when SIGNING_KEY_ID is set without it', () => {
    const error = configError(() =>
      signerFromConfig(
        settings({ SIGNING_KEY_ID: 'k1', SIGNING_VERIFY_KEYS: new Map([['k0', OLD_SECRET]]) }),
      ),
    );
    expect(error.problems).toEqual(['SIGNING_KEY: must be set when SIGNING_KEY_ID is']);
  });

  it('names SIGNING_KEY when signing is on but no key at all is configured', () => {
    const error = configError(() => signerFromConfig(settings()));
    expect(error.problems).toEqual([
      'SIGNING_KEY: signing is on (SIGNING_POLICY) but neither SIGNING_KEY nor SIGNING_VERIFY_KEYS is set',
    ]);
  });

  it('counts a per-topic policy as signing being on', () => {
    const error = configError(() =>
      signerFromConfig(
        settings({ SIGNING_POLICY: 'off', SIGNING_TOPIC_POLICIES: new Map([[TOPIC, 'optional']]) }),
      ),
    );
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^SIGNING_KEY: signing is on/);
  });

  it('builds a signer without keys when signing is off everywhere', () => {
    const signer = signerFromConfig(settings({ SIGNING_POLICY: 'off' }));
    expect(signed(signer).headers).toEqual(identity());
  });

  it('applies SIGNING_TOPIC_POLICIES over SIGNING_POLICY', () => {
    const signer = signerFromConfig(
      settings({
        SIGNING_KEY_ID: 'k1',
        SIGNING_KEY: OLD_SECRET,
        SIGNING_TOPIC_POLICIES: new Map([[OTHER_TOPIC, 'off']]),
      }),
    );
    expect(signer.policy(TOPIC)).toBe('required');
    expect(signer.policy(OTHER_TOPIC)).toBe('off');
  });

  it('lets a verify-only process verify but makes sign throw TDL_MSG_SIGNATURE_MISSING on a required topic', () => {
    const signer = signerFromConfig(
      settings({
        SIGNING_VERIFY_KEYS: new Map([['k1', OLD_SECRET]]),
        SIGNING_TOPIC_POLICIES: new Map([['legacy.topic', 'optional']]),
      }),
    );
    expect(signer.canSign(TOPIC)).toBe(false);
    expect(verifyError(signer, signed(signerWith(OLD_SECRET, 'k1')))).toBeUndefined();
    let caught: unknown;
    try {
      signed(signer);
    } catch (error) {
      caught = error;
    }
    expectMessagingError(caught, 'TDL_MSG_SIGNATURE_MISSING');
    expect((caught as Error).message).toContain('SIGNING_KEY');
    const optional = signed(signer, { topic: 'legacy.topic' });
    expect(optional.headers[HEADER.signature]).toBeUndefined();
  });
});
