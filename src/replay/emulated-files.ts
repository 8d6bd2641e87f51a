// Emulated files in a replayed process (addon/replay_files.h has the model): each
// data file the recorded program mapped, and each piece of shared memory, becomes a
// memfd named "rewind:<identity>" in the replayed process, filled with the recorded
// bytes and mapped as the program mapped it. Stateless: the memfds are found again
// in the process itself, so a forked copy (a checkpoint) needs nothing from here.
import * as fs from 'node:fs';
import type { TraceReader } from '../history/index.js';
import type { FileDataInfo, MapFileInfo, Pieces } from '../history/events.js';
import { native } from '../native/addon.js';
import { STUB_SCRATCH, STUB_SYSCALL } from './stub.js';
import { mapStoredFile } from './stored-mappings.js';
import { cpuidImageSites } from '../cpuid/replaying.js';

const NR_CLOSE = 3;
const NR_MMAP = 9;
const NR_OPENAT = 257;
const NR_MEMFD_CREATE = 319;
const MAP_SHARED = 1n;
const MAP_PRIVATE = 2n;
const MAP_FIXED = 0x10n;
const MFD_CLOEXEC = 1n;
const O_CLOEXEC = 0o2000000n;
const AT_FDCWD = BigInt.asUintN(64, -100n);
const ZEROS = Buffer.alloc(1 << 20);

async function inject(pid: number, nr: number, ...args: bigint[]): Promise<bigint> {
  while (args.length < 6) args.push(0n);
  const r = BigInt.asIntN(64, await native().injectSyscall(pid, STUB_SYSCALL, nr, args));
  if (r < 0n && r > -4096n) throw new Error(`emulated file: injected syscall ${nr} failed with errno ${-r}`);
  return r;
}

/** The process's fd of the emulated file with this identity, if it has one. */
function findEmulated(pid: number, identity: string): number | undefined {
  const want = `/memfd:rewind:${identity}`;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target === want || target === `${want} (deleted)`) return Number(fd);
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

async function createEmulated(pid: number, identity: string): Promise<number> {
  // sent together, in this order (one wake of the tracer thread instead of two)
  const [, fd] = await Promise.all([
    native().writeMemory(pid, STUB_SCRATCH, Buffer.from(`rewind:${identity}\0`)),
    inject(pid, NR_MEMFD_CREATE, STUB_SCRATCH, MFD_CLOEXEC),
  ]);
  return Number(fd);
}

/**
 * Writes the recorded bytes of [offset, offset + length) into the emulated file:
 * the pieces, and zeros where it holds other data (a fresh file has none).
 */
function writeRange(trace: TraceReader, pid: number, fd: number, offset: number, length: number, pieces: Pieces): void {
  const path = `/proc/${pid}/fd/${fd}`;
  const host = fs.openSync(path, 'r+');
  try {
    const covered = new Set<number>();
    for (const [at, sha] of pieces) {
      const data = trace.file(sha);
      fs.writeSync(host, data, 0, Math.min(data.length, length - at), offset + at);
      covered.add(at);
    }
    const extents = native().fileDataExtents(path, offset, offset + length);
    for (let i = 0; i < extents.length; i += 2) {
      for (let p = extents[i]; p < extents[i + 1]; ) {
        const piece = Math.floor((p - offset) / ZEROS.length) * ZEROS.length;
        const end = Math.min(extents[i + 1], offset + piece + ZEROS.length);
        if (!covered.has(piece)) fs.writeSync(host, ZEROS, 0, end - p, p);
        p = end;
      }
    }
  } finally {
    fs.closeSync(host);
  }
}

function setSize(pid: number, fd: number, size: number): void {
  const host = fs.openSync(`/proc/${pid}/fd/${fd}`, 'r+');
  try {
    fs.ftruncateSync(host, size);
  } finally {
    fs.closeSync(host);
  }
}

/**
 * A map-file event: the placeholder the native loop mapped at the recorded address
 * gets the recorded contents (ELF images: copied into it), or is replaced by a
 * mapping of the emulated file.
 */
export async function applyMapFile(pid: number, trace: TraceReader, map: MapFileInfo): Promise<void> {
  const offset = Number(BigInt(map.offset));
  if (!map.file) {
    if (!map.sha) return;  // /dev/zero, mapped privately: zero memory
    // an ELF image: mapped from the trace's file over the placeholder, else copied
    if (await mapStoredFile(pid, trace, map.sha, BigInt(map.addr), map.size, offset, BigInt(map.prot))) {
      // the native loop maps the next ones itself (and patches their CPUID sites if need be)
      const path = trace.unpackedFilePath(map.sha);
      if (path) void native().replayKnowImage(map.sha, path, await cpuidImageSites(trace, map.sha));
      return;
    }
    const data = trace.file(map.sha).subarray(offset, offset + map.size);
    if (data.length) await native().writeMemory(pid, BigInt(map.addr), data);
    return;
  }
  const anon = map.file.startsWith('anon:');
  const fd = findEmulated(pid, map.file) ?? (await createEmulated(pid, map.file));
  if (anon) setSize(pid, fd, map.fileSize ?? 0);
  else {
    setSize(pid, fd, map.fileSize ?? 0);
    writeRange(trace, pid, fd, offset, map.size, map.pieces ?? []);
  }
  const shared = (BigInt(map.flags) & 3n) !== MAP_PRIVATE;
  let mapFd = BigInt(fd);
  if (shared && map.readOnly) {
    // As recorded: a shared mapping of a read-only fd can never be made writable.
    await native().writeMemory(pid, STUB_SCRATCH, Buffer.from(`/proc/self/fd/${fd}\0`));
    mapFd = await inject(pid, NR_OPENAT, AT_FDCWD, STUB_SCRATCH, O_CLOEXEC);
  }
  try {
    const addr = BigInt(map.addr);
    const got = await inject(pid, NR_MMAP, addr, BigInt(map.length), BigInt(map.prot),
      (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, mapFd, anon ? 0n : BigInt(offset));
    if (got !== addr) throw new Error(`emulated file ${map.file}: mapped at 0x${got.toString(16)}, not ${map.addr}`);
  } finally {
    if (mapFd !== BigInt(fd)) await inject(pid, NR_CLOSE, mapFd);
  }
}

/** A file-data event: new bytes (and size) of an emulated file the process has. */
export async function applyFileData(pid: number, trace: TraceReader, data: FileDataInfo): Promise<void> {
  const fd = findEmulated(pid, data.file);
  if (fd === undefined) return;  // not mapped in this process: nothing shows it
  // A change must not reach the copies (checkpoints) that share the file.
  if (data.changed) await native().emuUnshare(pid, fd);
  setSize(pid, fd, data.fileSize);
  writeRange(trace, pid, fd, Number(BigInt(data.offset)), data.length, data.pieces);
}
