// The dynamic linker's list of loaded objects (struct r_debug / struct link_map),
// read from the replayed process's memory: what gdb's qXfer:libraries-svr4 wants.
import type { ExecSnapshot } from '../history/events.js';

export interface LinkMapEntry {
  /** address of the struct link_map */
  lm: bigint;
  name: string;
  /** load bias (l_addr) */
  addr: bigint;
  /** address of the object's dynamic section (l_ld) */
  ld: bigint;
}

type ReadMemory = (addr: bigint, length: number) => Promise<Buffer>;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_DEBUG = 21n;
const ET_DYN = 3;

async function u64(read: ReadMemory, addr: bigint): Promise<bigint | undefined> {
  const b = await read(addr, 8);
  return b.length === 8 ? b.readBigUInt64LE(0) : undefined;
}

async function cString(read: ReadMemory, addr: bigint): Promise<string> {
  if (addr === 0n) return '';
  const b = await read(addr, 4096);
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
}

/** Where the executable's dynamic section is, from its ELF headers in memory. */
async function dynamicSection(read: ReadMemory, base: bigint): Promise<bigint | undefined> {
  const ehdr = await read(base, 64);
  if (ehdr.length < 64 || ehdr.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const type = ehdr.readUInt16LE(16);
  const phoff = ehdr.readBigUInt64LE(32);
  const phnum = ehdr.readUInt16LE(56);
  const phdrs = await read(base + phoff, phnum * 56);
  let firstLoad: bigint | undefined;
  let dynamic: bigint | undefined;
  for (let i = 0; i * 56 + 56 <= phdrs.length; i++) {
    const p = i * 56;
    const kind = phdrs.readUInt32LE(p);
    const vaddr = phdrs.readBigUInt64LE(p + 16);
    if (kind === PT_LOAD && firstLoad === undefined) firstLoad = vaddr & ~0xfffn;
    if (kind === PT_DYNAMIC) dynamic = vaddr;
  }
  if (dynamic === undefined) return undefined;
  const bias = type === ET_DYN ? base - (firstLoad ?? 0n) : 0n;
  return dynamic + bias;
}

/**
 * Where the executable's DT_DEBUG entry keeps its value: the word the dynamic
 * linker sets to the address of its struct r_debug. LLDB's qShlibInfoAddr answer.
 * Undefined for a program without a dynamic section (static) or without DT_DEBUG.
 */
export async function debugSlotAddress(read: ReadMemory, snap: ExecSnapshot): Promise<bigint | undefined> {
  const exeMaps = snap.mappings.filter((m) => m.name === snap.exe);
  if (!exeMaps.length) return undefined;
  const base = exeMaps.map((m) => BigInt(m.start)).reduce((a, b) => (a < b ? a : b));
  const dyn = await dynamicSection(read, base);
  if (dyn === undefined) return undefined;
  for (let at = dyn; ; at += 16n) {
    const tag = await u64(read, at);
    if (tag === undefined || tag === DT_NULL) return undefined;
    if (tag === DT_DEBUG) return at + 8n;
  }
}

/**
 * The loaded objects in link-map order, the main program first; empty before
 * the dynamic linker has set up r_debug, and for static programs.
 */
export async function readLinkMap(read: ReadMemory, snap: ExecSnapshot): Promise<LinkMapEntry[]> {
  const slot = await debugSlotAddress(read, snap);
  const rDebug = slot === undefined ? 0n : (await u64(read, slot)) ?? 0n;
  if (rDebug === 0n) return [];
  const out: LinkMapEntry[] = [];
  let lm = (await u64(read, rDebug + 8n)) ?? 0n;
  while (lm !== 0n && out.length < 4096) {
    const fields = await read(lm, 40);
    if (fields.length < 40) break;
    out.push({
      lm,
      addr: fields.readBigUInt64LE(0),
      name: await cString(read, fields.readBigUInt64LE(8)),
      ld: fields.readBigUInt64LE(16),
    });
    lm = fields.readBigUInt64LE(24);
  }
  return out;
}

function attr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** gdb's library-list-svr4 document: the main program as main-lm, then the libraries. */
export function librariesSvr4Xml(entries: LinkMapEntry[]): string {
  const hex = (v: bigint) => '0x' + v.toString(16);
  if (!entries.length) return '<library-list-svr4 version="1.0"/>';
  const [main, ...libs] = entries;
  const body = libs.map((l) => `<library name="${attr(l.name)}" lm="${hex(l.lm)}" l_addr="${hex(l.addr)}" l_ld="${hex(l.ld)}" lmid="0x0"/>`).join('');
  return `<library-list-svr4 version="1.0" main-lm="${hex(main.lm)}">${body}</library-list-svr4>`;
}
