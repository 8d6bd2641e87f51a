// src/history/chunk-cache.ts, the trace reader's cache of decompressed chunks: holds
// at most its bytes, drops the least recently used first, counts a replaced entry
// once, and keeps no entry larger than the whole cache.
import { describe, expect, it } from 'vitest';
import { ChunkCache } from '../../src/history/chunk-cache.js';

const keys = (c: ChunkCache<string>, all: number[]) => all.filter((k) => c.has(k));

describe('the chunk cache', () => {
  it('drops the least recently used entries once over its bytes', () => {
    const c = new ChunkCache<string>(10, (v) => v.length);
    c.set(1, 'aaaa');
    c.set(2, 'bbbb');
    expect(c.get(1)).toBe('aaaa');  // 2 is now the least recently used
    c.set(3, 'cccc');
    expect(keys(c, [1, 2, 3])).toEqual([1, 3]);
    c.set(4, 'dddddddddd');  // exactly the cache: everything else goes
    expect(keys(c, [1, 2, 3, 4])).toEqual([4]);
    expect(c.get(2)).toBeUndefined();
  });

  it('counts a replaced entry once, keeps nothing larger than itself, and clears', () => {
    const c = new ChunkCache<string>(10, (v) => v.length);
    c.set(1, 'aaaaaaaa');
    c.set(1, 'aaaaaaaa');
    c.set(2, 'bb');
    expect(keys(c, [1, 2])).toEqual([1, 2]);
    c.set(3, 'x'.repeat(11));
    expect(keys(c, [1, 2, 3])).toEqual([1, 2]);
    c.clear();
    expect(keys(c, [1, 2])).toEqual([]);
    c.set(5, '');  // counted as one byte
    expect(c.get(5)).toBe('');
  });
});
