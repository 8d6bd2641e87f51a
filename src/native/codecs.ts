// sha256, brotli and CRC-32 for traces and the file store: from the addon
// (addon/codecs.cc), which calls the OpenSSL, brotli and zlib inside the node binary,
// else from node:crypto and node:zlib. Loading those two modules loads all of Node's
// streams (and crypto its ciphers, keys and X.509): ~5 ms of a start of `rewind
// record` or `replay --check` (docs/startup.md), for three functions whose C code
// is already in the process. The results are the same bytes either way (brotli
// streams may differ, but every brotli decoder reads both), so the trace format
// does not change; the fallback is for a Node that does not export those libraries
// and for an addon that is not built (`rewind ls` and the like do not need it).
import { createRequire } from 'node:module';
import { native } from './addon.js';

/** A sha256 under way: update() with the bytes, digest() once, in hex. */
export interface Sha256 {
  update(data: Uint8Array): Sha256;
  digest(): string;
}

export interface Codecs {
  sha256(): Sha256;
  brotliCompress(data: Uint8Array, quality: number, lgwin: number): Buffer;
  brotliDecompress(data: Uint8Array, limit: number): Buffer;
  crc32(data: Uint8Array): number;
}

interface NativeCodecs {
  codecsAvailable(): boolean;
  sha256Begin(): unknown;
  sha256Update(digest: unknown, data: Uint8Array): void;
  sha256Digest(digest: unknown): string;
  brotliCompress(data: Uint8Array, quality: number, lgwin: number): Buffer;
  brotliDecompress(data: Uint8Array, limit: number): Buffer;
  crc32(data: Uint8Array): number;
}

let chosen: Codecs | undefined;

function codecs(): Codecs {
  chosen ??= fromAddon() ?? fromNodeModules();
  return chosen;
}

/** The addon's codecs, if it is built and this Node exports the libraries (exported for tests). */
export function fromAddon(): Codecs | undefined {
  let n: NativeCodecs;
  try {
    n = native() as unknown as NativeCodecs;
  } catch {
    return undefined;  // not built: the node modules do
  }
  if (typeof n.codecsAvailable !== 'function' || !n.codecsAvailable()) return undefined;
  return {
    sha256() {
      const digest = n.sha256Begin();
      const hash: Sha256 = {
        update(data) {
          n.sha256Update(digest, data);
          return hash;
        },
        digest: () => n.sha256Digest(digest),
      };
      return hash;
    },
    brotliCompress: n.brotliCompress,
    brotliDecompress: n.brotliDecompress,
    crc32: n.crc32,
  };
}

/** node:crypto's and node:zlib's (exported for tests). */
export function fromNodeModules(): Codecs {
  const require = createRequire(import.meta.url);
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const zlib = require('node:zlib') as typeof import('node:zlib');
  const crcOfZlib = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  return {
    sha256() {
      const h = crypto.createHash('sha256');
      const hash: Sha256 = {
        update(data) {
          h.update(data);
          return hash;
        },
        digest: () => h.digest('hex'),
      };
      return hash;
    },
    brotliCompress: (data, quality, lgwin) => zlib.brotliCompressSync(data, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_LGWIN]: lgwin, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    }),
    brotliDecompress: (data, limit) => zlib.brotliDecompressSync(data, limit >= 0 ? { maxOutputLength: limit } : {}),
    crc32: crcOfZlib ? (data) => crcOfZlib(data) >>> 0 : crc32Table,
  };
}

let table: Uint32Array | undefined;

/** CRC-32 in JS, for a Node without zlib.crc32 (< 20.15) and an addon without codecs. */
function crc32Table(buf: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = table[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function sha256(): Sha256 {
  return codecs().sha256();
}

/** The sha256 of data, in hex. */
export function sha256Of(data: Uint8Array): string {
  return codecs().sha256().update(data).digest();
}

/** A brotli stream of data, at quality 0..11 with a window of 2^lgwin bytes (10..24). */
export function brotliCompress(data: Uint8Array, quality: number, lgwin: number): Buffer {
  return codecs().brotliCompress(data, quality, lgwin);
}

/**
 * The bytes of a whole brotli stream; throws if it is damaged, cut short, followed by
 * more bytes, or longer than limit bytes (if given).
 */
export function brotliDecompress(data: Uint8Array, limit?: number): Buffer {
  return codecs().brotliDecompress(data, limit ?? -1);
}

/** CRC-32/IEEE (reflected, polynomial 0xEDB88320), as zip and PNG have it. */
export function crc32(data: Uint8Array): number {
  return codecs().crc32(data);
}
