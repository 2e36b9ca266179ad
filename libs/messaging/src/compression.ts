// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the two untyped codecs need their types wherever these sources compile (other projects include them through the path aliases)
/// <reference path="./compression-libs.d.ts" />
import { decompress as zstdDecompress } from 'fzstd';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { compress as lz4Compress, decompress as lz4Decompress } from 'lz4js';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappyjs';

/**
 * kafkajs decodes only uncompressed and gzip batches; an LZ4, Snappy or ZSTD batch, which any
 * Java or librdkafka producer may legally write, makes its fetch throw and the consumer stop
 * for good. These codecs (pure JavaScript, no native build) let every consumer read them.
 * Tideline's own producers keep gzip or none; ZSTD is read-only here (fzstd only decompresses).
 */
interface Encoder {
  buffer: Buffer;
}

/** xerial snappy-java's stream header, which the Java client writes before its chunks. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16; // magic, version, compatible version

function unsnappy(buffer: Buffer): Buffer {
  if (buffer.length < XERIAL_HEADER_BYTES || !buffer.subarray(0, 8).equals(XERIAL_MAGIC)) {
    return Buffer.from(snappyUncompress(buffer));
  }
  const chunks: Buffer[] = [];
  let offset = XERIAL_HEADER_BYTES;
  while (offset + 4 <= buffer.length) {
    const length = buffer.readUInt32BE(offset);
    offset += 4;
    chunks.push(Buffer.from(snappyUncompress(buffer.subarray(offset, offset + length))));
    offset += length;
  }
  return Buffer.concat(chunks);
}

const lz4 = {
  compress: (encoder: Encoder) => Promise.resolve(Buffer.from(lz4Compress(encoder.buffer))),
  decompress: (buffer: Buffer) => Promise.resolve(Buffer.from(lz4Decompress(buffer))),
};

const snappy = {
  compress: (encoder: Encoder) => Promise.resolve(Buffer.from(snappyCompress(encoder.buffer))),
  decompress: (buffer: Buffer) => Promise.resolve(unsnappy(buffer)),
};

const zstd = {
  compress: () => Promise.reject(new Error('Tideline producers do not write ZSTD batches')),
  decompress: (buffer: Buffer) => Promise.resolve(Buffer.from(zstdDecompress(buffer))),
};

let registered = false;

/** Registers the LZ4, Snappy and ZSTD codecs with kafkajs (once per process). */
export function registerCompressionCodecs(): void {
  if (registered) return;
  registered = true;
  CompressionCodecs[CompressionTypes.LZ4] = () => lz4;
  CompressionCodecs[CompressionTypes.Snappy] = () => snappy;
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstd;
}
