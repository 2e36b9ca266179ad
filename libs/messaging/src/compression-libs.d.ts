// Types for the two pure-JavaScript codecs that ship none (see compression.ts).
declare module 'lz4js' {
  export function compress(source: Uint8Array): Uint8Array;
  export function decompress(source: Uint8Array): Uint8Array;
}

declare module 'snappyjs' {
  export function compress(source: Uint8Array): Uint8Array;
  export function uncompress(source: Uint8Array): Uint8Array;
}
