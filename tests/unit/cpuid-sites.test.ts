// The CPUID sites rewind patches (src/cpuid/code-sites.ts) are exactly the CPUID
// instructions objdump finds in the code, and never 0F A2 bytes inside another
// instruction or in data.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuidSitesInFile } from '../../src/cpuid/code-sites.js';
import { portableAnswers, type CpuidRow } from '../../src/cpuid/leaves.js';
import { parseCpuidDump } from '../../src/cpuid/recording.js';
import { ROOT, programPath, tempDir } from '../helpers.js';

/** File offsets of the cpuid instructions objdump disassembles (virtual addresses mapped through the sections). */
function objdumpSites(file: string): number[] {
  const sections = execFileSync('objdump', ['-h', '-w', file], { encoding: 'utf8' });
  const map: { vma: number; off: number; size: number }[] = [];
  for (const m of sections.matchAll(/^\s*\d+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/gm)) {
    map.push({ size: parseInt(m[1], 16), vma: parseInt(m[2], 16), off: parseInt(m[3], 16) });
  }
  const dis = execFileSync('objdump', ['-d', '-w', '--no-show-raw-insn', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return [...dis.matchAll(/^\s*([0-9a-f]+):\s+cpuid\s*$/gm)].map((m) => {
    const vma = parseInt(m[1], 16);
    const s = map.find((x) => vma >= x.vma && vma < x.vma + x.size)!;
    return vma - s.vma + s.off;
  }).sort((a, b) => a - b);
}

describe('CPUID sites', () => {
  for (const file of ['/lib64/ld-linux-x86-64.so.2', programPath('cpuinfo', { static: true }), programPath('cpuinfo')]) {
    it(`agree with objdump in ${path.basename(file)}`, () => {
      const want = objdumpSites(file);
      expect(want.length).toBeGreaterThan(0);
      expect(cpuidSitesInFile(fs.readFileSync(file))).toEqual(want);
    });
  }

  it('leave 0F A2 inside other instructions and in data alone', () => {
    const dir = tempDir('rewind-sites-');
    const src = path.join(dir, 'lookalike.c');
    fs.writeFileSync(src, [
      'const unsigned char table[] = { 0x0f, 0xa2, 0x0f, 0xa2 };',
      'unsigned f(void) { unsigned a; __asm__ volatile("mov $0x11a20f00, %0" : "=r"(a)); return a; }',
      'unsigned g(void) { unsigned a = 0, b, c = 0, d; __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d)); return b; }',
      'int main(void) { return (int)(f() + g() + table[1]); }',
    ].join('\n'));
    const exe = path.join(dir, 'lookalike');
    execFileSync('cc', ['-O1', '-o', exe, src]);
    const bytes = fs.readFileSync(exe);
    let candidates = 0;
    for (let i = bytes.indexOf(0x0f); i >= 0; i = bytes.indexOf(0x0f, i + 1)) if (bytes[i + 1] === 0xa2) candidates++;
    expect(candidates).toBeGreaterThanOrEqual(4); // the table's two, the immediate's, the instruction
    const sites = cpuidSitesInFile(bytes);
    expect(sites).toEqual(objdumpSites(exe));
    expect(sites.length).toBe(2); // g, and its copy inlined into main
  });
});

describe('the portable baseline', () => {
  it('hides AVX-512 and TSX of a real Xeon dump and keeps x86-64-v3', () => {
    // a Sapphire Rapids-like answer set: the Haswell fixture with AVX-512F/BW and RTM set
    const dump = parseCpuidDump(fs.readFileSync(path.join(ROOT, 'tests/fixtures/cpuid/intel-xeon-haswell.txt'), 'utf8'), 'fixture');
    const leaf7 = dump.find((r) => r[0] === 7)!;
    leaf7[3] = (leaf7[3] | (1 << 16) | (1 << 30) | (1 << 11)) >>> 0;
    const { answers, hidden } = portableAnswers(dump as CpuidRow[]);
    expect(hidden).toEqual(['rdrand', 'rtm', 'avx512f', 'avx512bw']);
    const ebx7 = answers.find((r) => r[0] === 7 && r[1] === 0)![3];
    expect(ebx7 & (1 << 5)).toBeTruthy(); // avx2 stays
    expect(ebx7 & ((1 << 16) | (1 << 30) | (1 << 11))).toBe(0);
    // the XSAVE area glibc reserves covers AVX-512 state on any CPU whose XCR0 enables it
    expect(answers.find((r) => r[0] === 0xd && r[1] === 0)![3]).toBe(0xa88);
  });
});
