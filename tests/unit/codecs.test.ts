// src/native/codecs.ts: the addon's sha256, brotli and CRC-32 (the node binary's own
// OpenSSL, brotli and zlib) give what node:crypto and node:zlib give, so traces
// written by either read with the other; damaged, cut or too long brotli streams fail
// as node:zlib's do. This Node exports the libraries: the addon's must be the ones
// in use here, or start-up quietly loses what it gained (docs/startup.md).
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fromAddon, fromNodeModules } from '../../src/native/codecs.js';

const addon = fromAddon();
const node = fromNodeModules();

/** Bytes that compress some (text-like runs) but not to nothing, and random ones. */
function sample(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = i % 7 === 0 ? x >>> 24 : 97 + ((i >> 5) % 26);
  }
  return b;
}
const random = (n: number) => {
  const b = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i++) b[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16;
  return b;
};

describe('codecs from the node binary', () => {
  it('are available on this Node, and used', () => {
    expect(addon).toBeDefined();
  });

  it('sha256 and CRC-32 equal node:crypto\'s and zlib\'s, whole or in pieces', () => {
    for (const data of [Buffer.alloc(0), Buffer.from('abc'), sample(100_000, 1), random(3 << 20)]) {
      const want = createHash('sha256').update(data).digest('hex');
      expect(addon!.sha256().update(data).digest()).toBe(want);
      const pieces = addon!.sha256();
      for (let at = 0; at < data.length; at += 65_537) pieces.update(data.subarray(at, at + 65_537));
      expect(pieces.digest()).toBe(want);
      expect(node.sha256().update(data).digest()).toBe(want);
      expect(addon!.crc32(data)).toBe(zlib.crc32(data) >>> 0);
      expect(node.crc32(data)).toBe(zlib.crc32(data) >>> 0);
    }
    expect(addon!.crc32(Buffer.from('123456789'))).toBe(0xcbf43926);  // the check value of CRC-32/IEEE
  });

  it('brotli streams of either read with the other', () => {
    for (const [data, quality, lgwin] of [[sample(300_000, 2), 4, 22], [random(200_000), 1, 22], [sample(50_000, 3), 5, 24], [Buffer.alloc(0), 4, 22]] as const) {
      const ours = addon!.brotliCompress(data, quality, lgwin);
      const nodes = node.brotliCompress(data, quality, lgwin);
      expect(zlib.brotliDecompressSync(ours).equals(data)).toBe(true);
      expect(addon!.brotliDecompress(nodes, data.length + 1).equals(data)).toBe(true);
      expect(addon!.brotliDecompress(ours, -1).equals(data)).toBe(true);
      if (data.length > 1000 && quality > 1) expect(ours.length).toBeLessThan(data.length / 2);
    }
  });

  it('a damaged, cut or too long stream throws, as node:zlib does', () => {
    const data = sample(100_000, 4);
    const good = zlib.brotliCompressSync(data);
    const cut = good.subarray(0, good.length - 5);
    const damaged = Buffer.from(good);
    damaged[10] ^= 0xff;
    damaged[11] ^= 0x55;
    for (const [bad, limit] of [[cut, -1], [damaged, -1], [good, data.length - 1], [Buffer.from('not brotli at all'), -1]] as const) {
      const nodeError = (() => {
        try {
          node.brotliDecompress(bad, limit);
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      })();
      expect(nodeError).toBeDefined();
      expect(() => addon!.brotliDecompress(bad, limit)).toThrow(nodeError);
    }
  });
});
