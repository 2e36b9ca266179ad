import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { compress as snappyBlock } from 'snappyjs';
import { registerCompressionCodecs } from './compression';

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

registerCompressionCodecs();
const codec = (type: CompressionTypes.LZ4 | CompressionTypes.Snappy | CompressionTypes.ZSTD) =>
  (CompressionCodecs[type] as () => Codec)();
const payload = Buffer.from('tideline '.repeat(500) + 'end');

it('reads back an LZ4 frame and a Snappy block it wrote', async () => {
  for (const type of [CompressionTypes.LZ4, CompressionTypes.Snappy] as const) {
    const compressed = await codec(type).compress({ buffer: payload });
    expect(compressed.length).toBeLessThan(payload.length);
    expect(await codec(type).decompress(compressed)).toEqual(payload);
  }
});

it("reads Snappy in the Java client's xerial framing (header, then length-prefixed chunks)", async () => {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const chunk = (part: Buffer) => {
    const block = Buffer.from(snappyBlock(part));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(block.length);
    return Buffer.concat([length, block]);
  };
  const framed = Buffer.concat([header, chunk(payload.subarray(0, 1000)), chunk(payload.subarray(1000))]);
  expect(await codec(CompressionTypes.Snappy).decompress(framed)).toEqual(payload);
});

it('reads ZSTD but refuses to write it', async () => {
  // `printf hello | zstd -c`: one frame with its content size and checksum.
  const frame = Buffer.from('KLUv/QRYKQAAaGVsbG+jbZ+I', 'base64');
  expect((await codec(CompressionTypes.ZSTD).decompress(frame)).toString()).toBe('hello');
  await expect(codec(CompressionTypes.ZSTD).compress({ buffer: payload })).rejects.toThrow(/ZSTD/);
});
