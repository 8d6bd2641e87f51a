// The dynamic linker's list, read from a fabricated address space byte by byte.
import { describe, expect, it } from 'vitest';
import { librariesSvr4Xml, readLinkMap } from '../../src/replay/link-map.js';
import type { ExecSnapshot } from '../../src/history/events.js';

/** A sparse little memory: regions of bytes at addresses. */
function memory(regions: [bigint, Buffer][]) {
  return async (addr: bigint, length: number) => {
    for (const [start, bytes] of regions) {
      if (addr >= start && addr < start + BigInt(bytes.length)) {
        const at = Number(addr - start);
        return bytes.subarray(at, Math.min(bytes.length, at + length));
      }
    }
    return Buffer.alloc(0);
  };
}

const BASE = 0x555555554000n;

function pieWithLinkMap(): [bigint, Buffer][] {
  const elf = Buffer.alloc(64 + 2 * 56);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf.writeUInt16LE(3, 16); // ET_DYN
  elf.writeBigUInt64LE(64n, 32); // e_phoff
  elf.writeUInt16LE(2, 56); // e_phnum
  elf.writeUInt32LE(1, 64); // PT_LOAD at vaddr 0
  elf.writeUInt32LE(2, 64 + 56); // PT_DYNAMIC
  elf.writeBigUInt64LE(0x3000n, 64 + 56 + 16);
  const dynamic = Buffer.alloc(48);
  dynamic.writeBigUInt64LE(1n, 0); // DT_NEEDED
  dynamic.writeBigUInt64LE(21n, 16); // DT_DEBUG
  dynamic.writeBigUInt64LE(0x7000n, 24); // -> r_debug
  const rDebug = Buffer.alloc(16);
  rDebug.writeUInt32LE(1, 0);
  rDebug.writeBigUInt64LE(0x8000n, 8); // r_map
  const lm = (addr: bigint, name: bigint, ld: bigint, next: bigint) => {
    const b = Buffer.alloc(40);
    b.writeBigUInt64LE(addr, 0);
    b.writeBigUInt64LE(name, 8);
    b.writeBigUInt64LE(ld, 16);
    b.writeBigUInt64LE(next, 24);
    return b;
  };
  return [
    [BASE, elf],
    [BASE + 0x3000n, dynamic],
    [0x7000n, rDebug],
    [0x8000n, lm(BASE, 0x9000n, BASE + 0x3000n, 0x8100n)],
    [0x8100n, lm(0x7ffff7dd0000n, 0x9100n, 0x7ffff7fa0000n, 0n)],
    [0x9000n, Buffer.from('\0')],
    [0x9100n, Buffer.from('/lib/x86_64-linux-gnu/libc.so.6\0')],
  ];
}

const snap = { exe: '/bin/prog', mappings: [{ start: '0x' + BASE.toString(16), end: '0x555555555000', perms: 'r--p', name: '/bin/prog', source: { zero: true } }] } as unknown as ExecSnapshot;

describe('link map', () => {
  it('follows DT_DEBUG to r_debug and walks the link maps', async () => {
    const list = await readLinkMap(memory(pieWithLinkMap()), snap);
    expect(list.map((e) => e.name)).toEqual(['', '/lib/x86_64-linux-gnu/libc.so.6']);
    expect(librariesSvr4Xml(list)).toBe(
      '<library-list-svr4 version="1.0" main-lm="0x8000"><library name="/lib/x86_64-linux-gnu/libc.so.6" lm="0x8100" '
        + 'l_addr="0x7ffff7dd0000" l_ld="0x7ffff7fa0000" lmid="0x0"/></library-list-svr4>',
    );
  });

  it('is empty before the dynamic linker has filled in DT_DEBUG, and for a static program', async () => {
    const regions = pieWithLinkMap();
    regions[1][1].writeBigUInt64LE(0n, 24);
    expect(await readLinkMap(memory(regions), snap)).toEqual([]);
    expect(librariesSvr4Xml([])).toBe('<library-list-svr4 version="1.0"/>');
    const noDynamic = pieWithLinkMap();
    noDynamic[0][1].writeUInt32LE(6, 64 + 56); // PT_PHDR instead of PT_DYNAMIC
    expect(await readLinkMap(memory(noDynamic), snap)).toEqual([]);
  });
});
