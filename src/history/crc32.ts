// CRC-32/IEEE (reflected, polynomial 0xEDB88320), as used by zip and PNG, of a range
// of a buffer: zlib's, in the node binary (src/native/codecs.ts), which a replay's
// check of every chunk spent ~20 ms on in a JS loop for a make.
import { crc32 as crc32Of } from '../native/codecs.js';

export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32Of(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
}
