// CRC-32/IEEE (reflected, polynomial 0xEDB88320), as used by zip and PNG: zlib's,
// which Node exposes from 20.15 on (several times faster than a table in JS, and a
// trace's chunks are checked at open and again when read); the table otherwise.
import * as zlib from 'node:zlib';

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  if (zlibCrc32) return zlibCrc32(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
