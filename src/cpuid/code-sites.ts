// Finds the CPUID instructions in an ELF file's code, as offsets into the file, so
// that record and replay can turn each into a trap (docs/portability.md).
//
// A byte search for 0F A2 would also hit immediates, displacements and data, and
// patching one of those would change what the program computes. So each candidate
// is confirmed by decoding with iced-x86 (a maintained, complete x86-64 decoder)
// from a point known to start an instruction: the function symbol that contains
// it (.symtab, else .dynsym), or failing that the end of the last symbol before it
// or the start of its executable section (compilers pad between functions with
// instructions, so a sweep from there stays in step). Only executable sections
// are searched, so data sections are never touched. Results depend only on the
// file's bytes and are cached by content hash.
import { sha256Of } from '../native/codecs.js';
import { Code, Decoder, DecoderOptions, Instruction } from 'iced-x86';

interface Section { offset: number; size: number; addr: bigint }
interface Symbol { addr: bigint; size: bigint }

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHF_EXECINSTR = 4n;
const STT_FUNC = 2;
const PT_LOAD = 1;
const PF_X = 1;

const cache = new Map<string, number[]>();

/** File offsets of the CPUID instructions in an ELF's executable code (cached by content). */
export function cpuidSitesInFile(file: Buffer, sha?: string): number[] {
  const key = sha ?? sha256Of(file);
  let sites = cache.get(key);
  if (!sites) {
    sites = findSites(file);
    cache.set(key, sites);
  }
  return sites;
}

function isElf64(b: Buffer): boolean {
  return b.length >= 64 && b.readUInt32BE(0) === 0x7f454c46 && b[4] === 2 && b[5] === 1 && b.readUInt16LE(18) === 0x3e;
}

/** The executable sections, or the executable PT_LOAD segments of a file without section headers. */
function executableRanges(b: Buffer): Section[] {
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  const out: Section[] = [];
  if (shoff && shnum && shoff + shnum * shentsize <= b.length) {
    for (let i = 0; i < shnum; i++) {
      const h = shoff + i * shentsize;
      const type = b.readUInt32LE(h + 4);
      const flags = b.readBigUInt64LE(h + 8);
      if (type !== 1 /* PROGBITS */ || !(flags & SHF_EXECINSTR)) continue;
      const offset = Number(b.readBigUInt64LE(h + 24));
      const size = Number(b.readBigUInt64LE(h + 32));
      if (offset + size <= b.length) out.push({ offset, size, addr: b.readBigUInt64LE(h + 16) });
    }
    return out;
  }
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize;
    if (h + 56 > b.length || b.readUInt32LE(h) !== PT_LOAD || !(b.readUInt32LE(h + 4) & PF_X)) continue;
    const offset = Number(b.readBigUInt64LE(h + 8));
    const size = Math.min(Number(b.readBigUInt64LE(h + 32)), b.length - offset);
    out.push({ offset, size, addr: b.readBigUInt64LE(h + 16) });
  }
  return out;
}

/** Function symbols with a size, from .symtab and .dynsym, sorted by address. */
function functionSymbols(b: Buffer): Symbol[] {
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  const syms: Symbol[] = [];
  if (!shoff || shoff + shnum * shentsize > b.length) return syms;
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    const type = b.readUInt32LE(h + 4);
    if (type !== SHT_SYMTAB && type !== SHT_DYNSYM) continue;
    const offset = Number(b.readBigUInt64LE(h + 24));
    const size = Number(b.readBigUInt64LE(h + 32));
    const entsize = Number(b.readBigUInt64LE(h + 56)) || 24;
    for (let at = offset; at + 24 <= Math.min(offset + size, b.length); at += entsize) {
      const info = b[at + 4];
      const shndx = b.readUInt16LE(at + 6);
      const value = b.readBigUInt64LE(at + 8);
      const sz = b.readBigUInt64LE(at + 16);
      if ((info & 0xf) === STT_FUNC && shndx !== 0 && sz > 0n) syms.push({ addr: value, size: sz });
    }
  }
  return syms.sort((x, y) => (x.addr < y.addr ? -1 : x.addr > y.addr ? 1 : 0));
}

/** The latest known instruction start at or before `addr` in the section. */
function decodeStart(sec: Section, syms: Symbol[], addr: bigint): bigint {
  let start = sec.addr;
  for (const s of syms) {
    if (s.addr > addr) break;
    if (s.addr < sec.addr) continue;
    if (addr < s.addr + s.size) return s.addr; // inside this function
    if (s.addr + s.size > start) start = s.addr + s.size; // past its end
  }
  return start;
}

function findSites(b: Buffer): number[] {
  if (!isElf64(b)) return [];
  const sections = executableRanges(b);
  let syms: Symbol[] | undefined;
  const sites: number[] = [];
  const insn = new Instruction();
  try {
    for (const sec of sections) {
      const code = b.subarray(sec.offset, sec.offset + sec.size);
      let resumeAt = -1n; // decoding already reached here in this section: go on from there
      for (let i = code.indexOf(0x0f); i >= 0 && i + 1 < code.length; i = code.indexOf(0x0f, i + 1)) {
        if (code[i + 1] !== 0xa2) continue;
        const target = sec.addr + BigInt(i);
        syms ??= functionSymbols(b);
        let from = decodeStart(sec, syms, target);
        if (resumeAt > from && resumeAt <= target) from = resumeAt;
        const decoder = new Decoder(64, code.subarray(Number(from - sec.addr)), DecoderOptions.None);
        try {
          decoder.ip = from;
          let ip = from;
          while (ip < target && decoder.canDecode) {
            decoder.decodeOut(insn);
            ip = insn.ip + BigInt(insn.length);
          }
          resumeAt = ip;
          if (ip !== target || !decoder.canDecode) continue;
          decoder.decodeOut(insn);
          if (insn.code === Code.Cpuid) sites.push(sec.offset + i);
        } finally {
          decoder.free();
        }
      }
    }
  } finally {
    insn.free();
  }
  return sites;
}
