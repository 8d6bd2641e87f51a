// CRC-32/IEEE (reflected, polynomial 0xEDB88320), as used by zip and PNG: zlib's
// (Node >= 20.15), which a replay's check of every chunk spent ~20 ms on in a JS
// loop for a make; the table below where Node has none.
import * as zlib from 'node:zlib';

const fromZlib = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  if (fromZlib) return fromZlib(buf.subarray(start, end)) >>> 0;
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
