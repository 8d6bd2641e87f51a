// Maps a file the trace stores (an ELF image: the executable, ld.so, a library)
// into the replayed process, privately, where the recording had it mapped, instead
// of copying its bytes into anonymous memory. A copy reads the file and writes it
// through the tracer at every exec and every mmap of a library: a replay of `make`
// read cc1 (25 MB) at each of its execs, most of the replay's time. A private
// mapping of the checked file shows the same bytes, copies on write (gdb's
// breakpoints, relocations) and is shared by forked checkpoints as anonymous memory
// is.
//
// Only the part of the mapping the file covers is mapped from it (the rest stays as
// the caller made it); a mapping the kernel refuses (a store on a noexec mount and
// PROT_EXEC, a path too long for the stub's scratch bytes) returns false, and the
// caller copies as before.
import * as fs from 'node:fs';
import type { TraceReader } from '../history/index.js';
import { native } from '../native/addon.js';
import { STUB_BASE, STUB_SCRATCH, STUB_SIZE, STUB_SYSCALL } from './stub.js';

const PAGE = 4096;

/** Sizes of the stored files, by sha: one stat per file and replay. */
const sizes = new WeakMap<TraceReader, Map<string, number>>();

function storedSize(trace: TraceReader, sha: string, path: string): number {
  let known = sizes.get(trace);
  if (!known) sizes.set(trace, (known = new Map()));
  let size = known.get(sha);
  if (size === undefined) known.set(sha, (size = fs.statSync(path).size));
  return size;
}

/**
 * Maps [addr, addr + length) of process `pid` from the stored file `sha` at
 * `offset`, with `prot`, as far as the file reaches (whole pages). Returns the
 * bytes mapped from the file (a multiple of the page size, at most `length`
 * rounded up), or 0 when nothing was mapped and the caller must copy.
 */
export async function mapStoredFile(pid: number, trace: TraceReader, sha: string, addr: bigint, length: number, offset: number, prot: bigint): Promise<number> {
  if (offset % PAGE !== 0 || addr % BigInt(PAGE) !== 0n) return 0;
  const path = trace.unpackedFilePath(sha);
  if (!path) return 0;  // packed: copied from its decompressed bytes
  const name = Buffer.from(`${path}\0`);
  if (name.length > Number(STUB_BASE + STUB_SIZE - STUB_SCRATCH)) return 0;
  const size = storedSize(trace, sha, path);
  const covered = Math.min(Math.ceil(length / PAGE) * PAGE, Math.ceil(Math.max(0, size - offset) / PAGE) * PAGE);
  if (covered <= 0) return 0;
  const got = BigInt.asIntN(64, await native().mapFileInto(pid, STUB_SYSCALL, STUB_SCRATCH, path, addr, BigInt(covered), Number(prot), BigInt(offset)));
  return got === addr ? covered : 0;
}
