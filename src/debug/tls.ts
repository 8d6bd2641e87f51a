// Where a thread's thread-local variable is, for gdb's qGetTLSAddr (gdbserver asks
// libthread_db; gdb 13 has no way of its own over a remote target). x86-64 TLS
// (variant II): the thread pointer is fs base; the thread's dynamic thread vector
// (DTV) is the second word of its TCB, and entry m (16 bytes each: the block's
// address, then what to free) holds module m's TLS block. Module ids are given by
// the dynamic linker in load order to the objects that have a PT_TLS segment: the
// program first, then its libraries, which the link map lists in that order.
import { getReg } from '../arch/registers.js';
import type { ExecSnapshot } from '../history/events.js';
import { native } from '../native/addon.js';
import { readLinkMap } from '../replay/link-map.js';
import { EngineError } from './target.js';

type ReadMemory = (addr: bigint, length: number) => Promise<Buffer>;

const PT_TLS = 7;
/** a DTV entry not allocated yet (glibc's TLS_DTV_UNALLOCATED): the thread has not touched a dlopen'd module's TLS */
const UNALLOCATED = 2n ** 64n - 1n;

async function u64(read: ReadMemory, addr: bigint): Promise<bigint | undefined> {
  const b = await read(addr, 8);
  return b.length === 8 ? b.readBigUInt64LE(0) : undefined;
}

/** The ELF object whose headers are mapped at `base` has thread-local storage. */
async function hasTls(read: ReadMemory, base: bigint): Promise<boolean> {
  const ehdr = await read(base, 64);
  if (ehdr.length < 64 || ehdr.readUInt32BE(0) !== 0x7f454c46) return false;
  const phoff = ehdr.readBigUInt64LE(32);
  const phnum = ehdr.readUInt16LE(56);
  const phdrs = await read(base + phoff, phnum * 56);
  for (let p = 0; p + 56 <= phdrs.length; p += 56) if (phdrs.readUInt32LE(p) === PT_TLS && phdrs.readBigUInt64LE(p + 40) > 0n) return true;
  return false;
}

/** The TLS module id of the object whose struct link_map is at `lm`. */
async function moduleId(read: ReadMemory, snap: ExecSnapshot, lm: bigint): Promise<number> {
  const entries = await readLinkMap(read, snap);
  const exeStarts = snap.mappings.filter((m) => m.name === snap.exe).map((m) => BigInt(m.start));
  let id = 0;
  for (const [i, e] of entries.entries()) {
    // the program's headers are at its lowest mapping (l_addr is 0 for one not position-independent)
    const base = i === 0 && exeStarts.length ? exeStarts.reduce((a, b) => (a < b ? a : b)) : e.addr;
    const tls = await hasTls(read, base);
    if (tls) id++;
    if (e.lm !== lm) continue;
    if (!tls) throw new EngineError('bad-address', `${e.name || 'the program'} has no thread-local storage`);
    return id;
  }
  throw new EngineError('bad-address', `no loaded object has its link map at 0x${lm.toString(16)}`);
}

/** The address of `offset` in the TLS block of module `lm` of thread `pid` (a stopped tracee). */
export async function tlsAddress(read: ReadMemory, snap: ExecSnapshot, pid: number, offset: bigint, lm: bigint): Promise<bigint> {
  const fsBase = getReg(await native().getRegs(pid), 'fs_base');
  const id = await moduleId(read, snap, lm);
  const dtv = await u64(read, fsBase + 8n);
  if (dtv === undefined || dtv === 0n) throw new EngineError('bad-address', 'the thread has no thread-local storage set up yet');
  const block = await u64(read, dtv + 16n * BigInt(id));
  if (block === undefined) throw new EngineError('bad-address', `cannot read the thread's TLS vector at 0x${dtv.toString(16)}`);
  if (block === UNALLOCATED) throw new EngineError('bad-address', 'the thread has not used that module\'s thread-local storage yet');
  return block + offset;
}
