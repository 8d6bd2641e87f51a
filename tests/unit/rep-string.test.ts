// Which instructions a copy can stand in the middle of (src/arch/rep-string.ts): the
// bytes are glibc's and gcc's encodings, checked against objdump by hand.
import { describe, expect, it } from 'vitest';
import { isRepString, repStringLength } from '../../src/arch/rep-string.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

describe('rep-prefixed string instructions', () => {
  it('are found with their prefixes: rep stosb (glibc memset), rep movsq, repe cmpsb, with a segment or size prefix', () => {
    expect(isRepString(bytes(0xf3, 0xaa, 0x48, 0x89, 0xd0))).toBe(true);
    expect(isRepString(bytes(0xf3, 0x48, 0xa5))).toBe(true);
    expect(isRepString(bytes(0xf3, 0xa6))).toBe(true);
    expect(isRepString(bytes(0x64, 0xf3, 0xa4))).toBe(true);
    expect(isRepString(bytes(0x66, 0xf3, 0xab))).toBe(true);
  });

  it('are not: a string instruction without rep, rep ret, pause (f3 90), endbr64, a plain mov', () => {
    expect(isRepString(bytes(0xaa))).toBe(false);
    expect(isRepString(bytes(0xf3, 0xc3))).toBe(false);
    expect(isRepString(bytes(0xf3, 0x90))).toBe(false);
    expect(isRepString(bytes(0xf3, 0x0f, 0x1e, 0xfa))).toBe(false);
    expect(isRepString(bytes(0x48, 0x89, 0xd0))).toBe(false);
    expect(isRepString(bytes())).toBe(false);
  });

  it('have their whole length counted, prefixes included (the recorder steps past them)', () => {
    expect(repStringLength(bytes(0xf3, 0xaa, 0x48, 0x89, 0xd0), 0x401000n)).toBe(2);
    expect(repStringLength(bytes(0xf3, 0x48, 0xa5))).toBe(3);
    expect(repStringLength(bytes(0x64, 0x66, 0xf3, 0xab))).toBe(4);
    expect(repStringLength(bytes(0xf3, 0x90))).toBe(0);
    expect(repStringLength(bytes(0xf3))).toBe(0);
  });
});
