// What the recorder stores when the program maps a file or shared memory, and when a
// syscall changes a file it has mapped (docs/trace-format.md: map-file and file-data
// events). Replay rebuilds each data file and each piece of shared memory as an
// emulated file from these (src/replay/emulated-files.ts).
//
// Only the mapped range of a file is stored, read from the file in 1 MiB pieces with
// its holes skipped (SEEK_DATA), so a file of any size costs what is mapped of its
// data, and a sparse file nothing for its holes. Character devices are never read:
// /dev/zero mapped privately is zero memory, mapped shared it is shared memory;
// other devices, sockets and kernel objects (perf rings, ...) are written by the
// kernel outside syscalls, so their mappings are refused with a message.
import * as fs from 'node:fs';
import type { TraceWriter } from '../history/index.js';
import type { FileDataInfo, MapFileInfo, Pieces } from '../history/events.js';
import { native } from '../native/addon.js';
import { fileIdentity, hex, readMaps, type ProcMapping } from '../replay/proc-maps.js';

const PIECE = 1 << 20;
const MAP_SHARED = 0x01;
const MAP_SHARED_VALIDATE = 0x03;
const MAP_ANONYMOUS = 0x20;

/** A mapping the recorder cannot record faithfully: the recording stops with this. */
export class MappingRefused extends Error {}

export { fileIdentity };

const ZEROS = Buffer.alloc(PIECE);

function isZero(buf: Buffer): boolean {
  return buf.equals(ZEROS.subarray(0, buf.length));
}

/** The non-zero 1 MiB pieces of [from, from + length) of a file, stored; holes are not read. */
function storeRange(writer: TraceWriter, file: string, from: number, length: number): Pieces {
  const pieces: Pieces = [];
  if (length <= 0) return pieces;
  const extents = native().fileDataExtents(file, from, from + length);
  const fd = fs.openSync(file, 'r');
  try {
    // no larger than the range: most mapped data files are a few KiB (ld.so.cache,
    // locale and gconv files), mapped by every process of a build
    const buf = Buffer.allocUnsafe(Math.min(PIECE, length));
    const done = new Set<number>();
    for (let i = 0; i < extents.length; i += 2) {
      for (let at = Math.floor((extents[i] - from) / PIECE) * PIECE; from + at < extents[i + 1]; at += PIECE) {
        if (done.has(at)) continue;
        done.add(at);
        const want = Math.min(PIECE, length - at);
        let got = 0;
        while (got < want) {
          const n = fs.readSync(fd, buf, got, want - got, from + at + got);
          if (n <= 0) break;
          got += n;
        }
        buf.fill(0, got, want);
        const piece = buf.subarray(0, want);
        // storeBuffer hashes and writes it before returning: the buffer is reused
        if (!isZero(piece)) pieces.push([at, writer.storeBuffer(piece)]);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return pieces;
}

// ld.so maps each library several times (the whole file, then each segment): an
// ELF image is stored once per identity, size and change time, through the machine's
// file store, which knows it from earlier recordings by the same key and links it
// into the trace without reading it (src/history/file-store.ts). (Not for data files:
// a store through a shared mapping to an already dirty page changes a file without
// changing its times; such files are stored as pieces, read at each mapping.)
const images = new WeakMap<TraceWriter, Map<string, string>>();
function storeImage(writer: TraceWriter, file: string, st: fs.BigIntStats): string {
  let known = images.get(writer);
  if (!known) images.set(writer, (known = new Map()));
  const key = `${fileIdentity(st)}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  let sha = known.get(key);
  if (!sha) known.set(key, (sha = writer.storeImage(file, st)));
  return sha;
}

function startsWithElf(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    return fs.readSync(fd, head, 0, 4, 0) === 4 && head.readUInt32BE(0) === 0x7f454c46;
  } finally {
    fs.closeSync(fd);
  }
}

function describeObject(link: string, st: fs.BigIntStats): string {
  let target = '?';
  try {
    target = fs.readlinkSync(link);
  } catch {
    // gone
  }
  const kind = st.isCharacterDevice() ? 'character device' : st.isBlockDevice() ? 'block device' : st.isSocket() ? 'socket'
    : st.isFIFO() ? 'pipe' : 'kernel object';
  return `${kind} ${target}`;
}

/**
 * The 'mmap-file' stop: a successful mmap of a file, or of shared memory, at event
 * `index`. `onImage` hears of each ELF image stored (the record loop writes the
 * events of its later mappings itself: addon/record_images.h).
 */
export function recordMapping(pid: number, stop: Record<string, unknown>, writer: TraceWriter, index: number,
  onImage?: (st: fs.BigIntStats, sha: string) => void): MapFileInfo {
  const flags = Number(stop.flags);
  const length = Number(stop.length as bigint);
  const offset = Number(stop.offset as bigint);
  const shared = (flags & MAP_SHARED_VALIDATE) === MAP_SHARED || (flags & MAP_SHARED_VALIDATE) === MAP_SHARED_VALIDATE;
  const base = { addr: hex(stop.addr as bigint), length: hex(stop.length as bigint), offset: hex(offset), prot: Number(stop.prot), flags };
  if (flags & MAP_ANONYMOUS) return { ...base, path: '', size: 0, file: `anon:${index}`, fileSize: length, pieces: [] };
  const link = `/proc/${pid}/fd/${stop.fd}`;
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(link, { bigint: true });
  } catch (e) {
    throw new MappingRefused(`cannot find the file behind fd ${stop.fd} mapped by the program: ${(e as Error).message}`);
  }
  if (st.isCharacterDevice() && st.rdev === 0x105n /* 1:5, /dev/zero */) {
    // Private: zero-filled memory. Shared: a piece of shared memory of its own.
    return shared ? { ...base, path: '/dev/zero', size: 0, file: `anon:${index}`, fileSize: length, pieces: [] }
      : { ...base, path: '/dev/zero', size: 0 };
  }
  if (!st.isFile())
    throw new MappingRefused(`mmap of a ${describeObject(link, st)} (fd ${stop.fd}): the kernel writes its contents outside syscalls, which rewind cannot record`);
  const path = fs.readlinkSync(link);
  const size = Math.max(0, Math.min(length, Number(st.size) - offset));
  if (startsWithElf(link)) {
    const sha = storeImage(writer, link, st);
    onImage?.(st, sha);
    return { ...base, sha, path, size };
  }
  let readOnly = false;
  try {
    readOnly = (Number(/flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${stop.fd}`, 'utf8'))?.[1] ?? '2') & 3) === 0;
  } catch {
    // fdinfo unreadable: assume writable
  }
  return { ...base, path, size, file: fileIdentity(st), fileSize: Number(st.size), pieces: storeRange(writer, link, offset, size), ...(readOnly ? { readOnly } : {}) };
}

/**
 * A path that opens the file a mapping shows: /proc/PID/map_files (needs
 * CAP_SYS_ADMIN), else one of the program's fds with the same file.
 */
function openablePath(pid: number, m: ProcMapping): string | undefined {
  const candidates = [`/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`];
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) candidates.push(`/proc/${pid}/fd/${fd}`);
  } catch {
    // no fds to look at
  }
  for (const c of candidates) {
    try {
      const st = fs.statSync(c, { bigint: true });
      if (st.ino === BigInt(m.inode) && st.isFile()) {
        fs.closeSync(fs.openSync(c, 'r'));
        return c;
      }
    } catch {
      // not this one
    }
  }
  return undefined;
}

/**
 * The 'mremap-grow' stop: a mapping grew. When it shows a data file, the grown part
 * shows more of it: its bytes, for the emulated file.
 */
export function recordGrowth(pid: number, stop: Record<string, unknown>, writer: TraceWriter): FileDataInfo | undefined {
  const addr = stop.addr as bigint;
  const oldLength = stop.oldLength as bigint;
  const length = stop.length as bigint;
  const grown = addr + oldLength;
  const m = readMaps(pid).find((x) => grown >= x.start && grown < x.end && x.inode !== 0);
  if (!m) return undefined;
  const file = openablePath(pid, m);
  if (!file) throw new MappingRefused(`mremap grew a mapping of ${m.name}, which rewind cannot open to record the grown part`);
  const st = fs.statSync(file, { bigint: true });
  if (startsWithElf(file)) return undefined;
  const from = Number(m.offset + (grown - m.start));
  const size = Math.max(0, Math.min(Number(length - oldLength), Number(st.size) - from));
  return { file: fileIdentity(st), fileSize: Number(st.size), offset: hex(from), length: size, pieces: storeRange(writer, file, from, size), changed: false };
}

/** The 'file-changed' stop: a syscall wrote to a data file the program has mapped. */
export function recordFileChange(pid: number, stop: Record<string, unknown>, writer: TraceWriter): FileDataInfo {
  const st = fs.statSync(String(stop.path), { bigint: true });
  const size = Number(st.size);
  // Only what is mapped matters; the bytes past the end of the file are gone (SIGBUS).
  // (On overlayfs the maps name the lower file: then the whole range is kept.)
  const mapped = readMaps(pid).filter((m) => `${m.major}:${m.minor}:${m.inode}` === fileIdentity(st));
  let from = Math.max(0, Number(stop.from as bigint));
  let to = Math.min(size, Number(stop.to as bigint));
  if (mapped.length) {
    from = Math.max(from, Math.min(...mapped.map((m) => Number(m.offset))));
    to = Math.min(to, Math.max(...mapped.map((m) => Number(m.offset + m.end - m.start))));
  }
  const length = Math.max(0, to - from);
  return { file: fileIdentity(st), fileSize: size, offset: hex(from), length, pieces: storeRange(writer, String(stop.path), from, length), changed: true };
}
