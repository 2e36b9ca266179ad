/**
 * Every record shape a Kafka client can legally write that Tideline cannot use, written the way
 * an operator or a foreign producer writes them: header shapes with Kafka's own console producer
 * (null header values are only writable with a client other than kafkajs), byte shapes with a
 * raw kafkajs producer, signed when the shape is about the bytes so the reason is the decoder's.
 * Used by the integration tests of each consumer type and by the fault scenario.
 */
import { runKafkaTool } from '@tideline/testing';
import type { Kafka } from 'kafkajs';
import { frame } from '../codec';
import { HEADER, type Headers } from '../headers';

/** How a shape is told apart in the dead-letter topic: its `x-odd` header (also for a null key). */
export const ODD_HEADER = 'x-odd';
/** The writer's run (`prefix`), so a scenario on shared topics counts only its own. */
export const ODD_RUN_HEADER = 'x-odd-run';

export interface OddShape {
  name: string;
  /** The error code the record's dead letter carries. */
  code: string;
  /** On a compacted topic read by a table: what the table does instead. */
  onTable: 'skipped' | 'deleted';
}

export type Sign = (topic: string, key: Buffer | null, value: Buffer | null, headers: Headers) => void;

/** Kafka's default message.max.bytes (1 MiB + 12): the largest record batch a broker takes. */
export const BROKER_MAX_MESSAGE_BYTES = 1_048_588;

/** The console shapes are unsigned: their header or key problem is found before the signature. */
const consoleShapes = [
  { name: 'null-header-value', code: 'TDL_MSG_HEADER_INVALID', onTable: 'skipped' },
  { name: 'empty-header-value', code: 'TDL_MSG_HEADER_INVALID', onTable: 'skipped' },
  { name: 'duplicate-header', code: 'TDL_MSG_HEADER_INVALID', onTable: 'skipped' },
  { name: 'null-key', code: 'TDL_MSG_KEY_INVALID', onTable: 'skipped' },
] as const satisfies readonly OddShape[];

const rawShapes = [
  { name: 'non-utf8-header', code: 'TDL_MSG_HEADER_INVALID', onTable: 'skipped' },
  { name: 'unknown-magic-byte', code: 'TDL_MSG_DECODE_FAILED', onTable: 'skipped' },
  { name: 'unknown-schema-id', code: 'TDL_MSG_UNKNOWN_SCHEMA_ID', onTable: 'skipped' },
  { name: 'foreign-schema-id', code: 'TDL_MSG_SCHEMA_MISMATCH', onTable: 'skipped' },
  { name: 'max-size-value', code: 'TDL_MSG_DECODE_FAILED', onTable: 'skipped' },
] as const satisfies readonly OddShape[];

/** A signed null value: on a topic that is not compacted refused, on a compacted one a tombstone. */
const nullValue = { name: 'null-value', code: 'TDL_MSG_VALUE_MISSING', onTable: 'deleted' } as const;

export const ODD_SHAPES: readonly OddShape[] = [...consoleShapes, ...rawShapes, nullValue];

/**
 * Writes lines with Kafka's own `ConsoleProducer` (parse.key, parse.headers, `<NULL>` as the
 * null marker for key, value and header values): `headers<TAB>key<TAB>value`, in batches
 * compressed with `compression` (none by default).
 */
export async function consoleProduce(
  brokers: readonly string[],
  topic: string,
  lines: readonly string[],
  compression: 'none' | 'gzip' | 'lz4' | 'snappy' | 'zstd' = 'none',
) {
  const { code, stderr } = await runKafkaTool(
    'org.apache.kafka.tools.ConsoleProducer',
    [
      '--bootstrap-server',
      brokers.join(','),
      '--topic',
      topic,
      '--property',
      'parse.key=true',
      '--property',
      'parse.headers=true',
      '--property',
      'null.marker=<NULL>',
      '--producer-property',
      'acks=all',
      // ConsoleProducer sets compression.type from this flag, over any --producer-property.
      '--compression-codec',
      compression,
    ],
    { input: lines.map((line) => `${line}\n`).join('') },
  );
  // It reports a line it cannot send on stderr and goes on: any exception is a failure here.
  if (code !== 0 || /Exception|ERROR/.test(stderr))
    throw new Error(`ConsoleProducer exited ${code}: ${stderr.slice(-2000)}`);
}

/**
 * Writes one record of every odd shape to `topic` (partition 0 for the raw ones). `sign` signs
 * like the topic's owner; `foreignSchemaId` is a schema id registered under another subject.
 */
export async function writeOddRecords(args: {
  kafka: Kafka;
  brokers: readonly string[];
  topic: string;
  sign: Sign;
  foreignSchemaId: number;
  prefix?: string;
  /** Shapes not to write (a compacted topic refuses a null key). */
  skip?: readonly string[];
}): Promise<void> {
  const { topic, sign } = args;
  const run = args.prefix ?? 'odd';
  const id = (shape: string) => `${run}-${shape}`;
  const tag = (shape: string) => `${ODD_HEADER}:${shape},${ODD_RUN_HEADER}:${run}`;
  const wanted = (line: { shape: string }) => !args.skip?.includes(line.shape);
  const lines = [
    {
      shape: 'null-header-value',
      line: `${HEADER.eventId}:<NULL>,${tag('null-header-value')}\t${id('null-header-value')}\tv`,
    },
    {
      shape: 'empty-header-value',
      line: `${HEADER.eventType}:,${tag('empty-header-value')}\t${id('empty-header-value')}\tv`,
    },
    {
      shape: 'duplicate-header',
      line: `${HEADER.eventId}:a,${HEADER.eventId}:b,${tag('duplicate-header')}\t${id('duplicate-header')}\tv`,
    },
    { shape: 'null-key', line: `${tag('null-key')}\t<NULL>\tv` },
  ];
  await consoleProduce(
    args.brokers,
    topic,
    lines.filter(wanted).map((l) => l.line),
  );
  const signed = (shape: string, value: Buffer | null, extra: Headers = {}) => {
    const key = Buffer.from(id(shape));
    const headers: Headers = { [ODD_HEADER]: shape, [ODD_RUN_HEADER]: run, ...extra };
    sign(topic, key, value, headers);
    return { key, value, headers, partition: 0 };
  };
  const junk = Buffer.from([2, 4, 6]);
  // At the broker's limit: the value fills what the batch (61 bytes), record (~25), key and
  // headers leave, less 32 bytes of slack; its dead letter (~600 bytes of failure headers more) is over it.
  const sized = signed('max-size-value', Buffer.alloc(0));
  const headerBytes = Object.entries(sized.headers).reduce(
    (n, [k, v]) => n + k.length + Buffer.byteLength(v) + 4,
    0,
  );
  const maxSize = Buffer.alloc(
    BROKER_MAX_MESSAGE_BYTES - 61 - 25 - sized.key.length - headerBytes - 32,
    0xff,
  );
  const producer = args.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: [
        {
          key: Buffer.from(id('non-utf8-header')),
          value: Buffer.from('v'),
          headers: {
            [ODD_HEADER]: 'non-utf8-header',
            [ODD_RUN_HEADER]: run,
            [HEADER.producer]: Buffer.from([0xc3, 0x28]),
          },
          partition: 0,
        },
        signed('unknown-magic-byte', Buffer.from([7, 0, 0, 0, 1, 2])),
        signed('unknown-schema-id', frame(2_000_000_000 + Math.floor(Math.random() * 1e8), junk)),
        signed('foreign-schema-id', frame(args.foreignSchemaId, junk)),
        signed('null-value', null),
      ],
    });
    await producer.send({ topic, acks: -1, messages: [signed('max-size-value', maxSize)] });
  } finally {
    await producer.disconnect();
  }
}
