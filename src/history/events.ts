// Event records: the meaning of the opaque records the container stores. The
// binary layouts are shared with addon/event_format.h (the native loops write and
// read syscall, signal, rdtsc and exit records); exec, map-file and stop records
// carry JSON written here. Documented in docs/trace-format.md.

export const EventKind = {
  Syscall: 1,
  Signal: 2,
  Rdtsc: 3,
  Cpuid: 4,
  Exec: 5,
  MapFile: 6,
  Exit: 7,
  Stop: 8,
  FileData: 9,
  Clone: 10,
  /** (format 5) a thread of a process with several stopped at a syscall entry */
  Enter: 11,
  /** 12: an asynchronous signal's point, named by its state */
  AsyncPoint: 12,
} as const;

/** clone flags: the clone made a thread of the parent's process (format 5) */
export const CLONE_THREAD = 0x10000n;

export const HEADER_SIZE = 12;
export const SYSCALL_FIXED_SIZE = 84;
export const SIGINFO_SIZE = 128;

export const SignalHow = { Sync: 0, AtSyscallExit: 1 } as const;

export interface MappingSnapshot {
  start: string; // hex
  end: string; // hex
  perms: string; // e.g. "r-xp"
  name: string; // path, [stack], [heap] or ''
  source: { file: string; offset: number } | { blob: string } | { zero: true };
}

export interface ExecSnapshot {
  /** struct user_regs_struct, hex */
  regs: string;
  mappings: MappingSnapshot[];
  /** the auxiliary vector as the program sees it (AT_SYSINFO_EHDR hidden), hex */
  auxv: string;
  /** the executable's path as the program named it */
  exe: string;
  /** its command line, as /proc/PID/cmdline showed it after the exec (format 4) */
  argv?: string[];
}

/** [position relative to the range's start, sha of a stored piece]: the non-zero 1 MiB pieces of a range */
export type Pieces = [number, string][];

export interface MapFileInfo {
  addr: string; // hex
  length: string; // hex
  offset: string; // hex
  prot: number;
  flags: number;
  /** the whole file, stored (ELF images, which gdb may ask for); its bytes from offset are the contents */
  sha?: string;
  path: string;
  /** bytes of the file from offset (may be less than length) */
  size: number;
  /**
   * The emulated file this mapping shows in replay (a data file, a memfd or shared
   * memory), named by the recorded file's identity ("major:minor:inode", or
   * "anon:EVENT" for shared memory); absent for an ELF image (its contents are
   * copied into private memory).
   */
  file?: string;
  /** the emulated file's size when it was mapped */
  fileSize?: number;
  /** the contents of the mapped range (from offset, `size` bytes), when sha is absent */
  pieces?: Pieces;
  /** the fd was opened read-only: a shared mapping cannot become writable */
  readOnly?: boolean;
}

/** New bytes of an emulated file (written by a syscall, or mapped by a grown mapping). */
export interface FileDataInfo {
  file: string;
  /** its size afterwards */
  fileSize: number;
  /** where the bytes start in the file */
  offset: string; // hex
  /** how many bytes from offset the pieces cover (the rest of them is zero) */
  length: number;
  pieces: Pieces;
  /** the file changed (replay first gives the process its own copy): not just more of it mapped */
  changed: boolean;
}

/**
 * A point in time no event marks, named by its exact state (docs/preemption.md,
 * src/points/): where an asynchronous signal was delivered while the thread computed
 * (later also where the threads work preempts a thread). Replay reaches it after
 * the thread's previous event with the in-process filter and the state hash.
 */
export interface AsyncPointInfo {
  /** events of this thread (same tid) before the point */
  threadEvent: number;
  pc: string; // hex
  /** struct user_regs_struct at the point, hex */
  regs: string;
  /** the values of the loop's memory operands at the point (src/points/loop-operands.ts) */
  loopValues: { addr: string; size: number; value: string }[];
  /** xxh3-128 of the vector registers and writable memory (addon/state_hash.cc), hex */
  hash: string;
  /** [start, end) ranges (hex) left out of the hash: the syscall buffer, the replay's own pages */
  excluded: [string, string][];
  /** the process's user CPU time at the point (clock ticks): bounds the replay's search */
  userTicks: number;
  /** how the recorder moved the point before naming it: 'none', 'rep' (to the end of a rep-string instruction), 'next' (one arrival on), 'caller' (out of a leaf function), 'stepped' (on to code the replay's filter fits) */
  steered: string;
  /** what happens there: a signal is delivered (with the siginfo it arrived with, hex) */
  what: { signal: number; siginfo: string };
}

export type TraceEvent =
  | { kind: 'syscall'; tid: number; flags: number; nr: number; args: bigint[]; result: bigint; checkLen: number; checkCrc: number; writes: { addr: bigint; data: Buffer }[] }
  | { kind: 'signal'; tid: number; signo: number; how: number; siginfo: Buffer }
  | { kind: 'rdtsc'; tid: number; tsc: bigint; aux: number; insnLen: number }
  /** how: 0 a patched CPUID site trapped, 1 a CPUID faulted (ARCH_SET_CPUID) */
  | { kind: 'cpuid'; tid: number; leaf: number; subleaf: number; eax: number; ebx: number; ecx: number; edx: number; how: number }
  | { kind: 'exec'; tid: number; snapshot: ExecSnapshot }
  | { kind: 'map-file'; tid: number; map: MapFileInfo }
  | { kind: 'file-data'; tid: number; data: FileDataInfo }
  | { kind: 'exit'; tid: number; killed: boolean; code: number }
  /** in the parent's stream: it created process `child` (ptrace event 1 fork, 2 vfork, 3 clone); childWrites: the child's memory that differs from the parent's */
  | { kind: 'clone'; tid: number; child: number; ptraceEvent: number; flags: bigint; childWrites: { addr: bigint; data: Buffer }[] }
  | { kind: 'stop'; tid: number; reason: string }
  /** (format 5) thread `tid` of a process with several threads stopped at the entry of syscall `nr`: its run of user code ended here */
  | { kind: 'enter'; tid: number; nr: number }
  | { kind: 'async-point'; tid: number; point: AsyncPointInfo };

export class EventFormatError extends Error {}

function need(rec: Buffer, size: number, what: string): void {
  if (rec.length < size) throw new EventFormatError(`${what} record is ${rec.length} bytes, shorter than ${size}`);
}

function json<T>(rec: Buffer): T {
  try {
    return JSON.parse(rec.subarray(HEADER_SIZE).toString('utf8')) as T;
  } catch (e) {
    throw new EventFormatError(`event record holds malformed JSON: ${(e as Error).message}`);
  }
}

export function eventKindOf(rec: Buffer): number {
  return rec[4];
}

export function decodeEvent(rec: Buffer): TraceEvent {
  need(rec, HEADER_SIZE, 'event');
  if (rec.readUInt32LE(0) !== rec.length) throw new EventFormatError(`event record size field ${rec.readUInt32LE(0)} differs from its length ${rec.length}`);
  const kind = rec[4];
  const flags = rec[5];
  const tid = rec.readUInt32LE(8);
  switch (kind) {
    case EventKind.Syscall: {
      need(rec, SYSCALL_FIXED_SIZE, 'syscall');
      const nwrites = rec.readUInt32LE(16);
      const args = [0, 1, 2, 3, 4, 5].map((i) => rec.readBigUInt64LE(20 + 8 * i));
      const writes: { addr: bigint; data: Buffer }[] = [];
      let at = SYSCALL_FIXED_SIZE;
      for (let i = 0; i < nwrites; i++) {
        need(rec, at + 12, 'syscall');
        const addr = rec.readBigUInt64LE(at);
        const len = rec.readUInt32LE(at + 8);
        need(rec, at + 12 + len, 'syscall');
        writes.push({ addr, data: rec.subarray(at + 12, at + 12 + len) });
        at += 12 + len;
      }
      return {
        kind: 'syscall', tid, flags, nr: rec.readUInt32LE(12), args, result: rec.readBigInt64LE(68),
        checkLen: rec.readUInt32LE(76), checkCrc: rec.readUInt32LE(80), writes,
      };
    }
    case EventKind.Signal:
      need(rec, HEADER_SIZE + 8 + SIGINFO_SIZE, 'signal');
      return { kind: 'signal', tid, signo: rec.readUInt32LE(12), how: rec.readUInt32LE(16), siginfo: rec.subarray(20, 20 + SIGINFO_SIZE) };
    case EventKind.Rdtsc:
      need(rec, HEADER_SIZE + 16, 'rdtsc');
      return { kind: 'rdtsc', tid, tsc: rec.readBigUInt64LE(12), aux: rec.readUInt32LE(20), insnLen: rec.readUInt32LE(24) };
    case EventKind.Cpuid: {
      need(rec, HEADER_SIZE + 28, 'cpuid');
      const u = (i: number) => rec.readUInt32LE(HEADER_SIZE + 4 * i);
      return { kind: 'cpuid', tid, leaf: u(0), subleaf: u(1), eax: u(2), ebx: u(3), ecx: u(4), edx: u(5), how: u(6) };
    }
    case EventKind.Exit:
      need(rec, HEADER_SIZE + 8, 'exit');
      return { kind: 'exit', tid, killed: rec.readUInt32LE(12) === 1, code: rec.readInt32LE(16) };
    case EventKind.Clone: {
      need(rec, HEADER_SIZE + 20, 'clone');
      const childWrites: { addr: bigint; data: Buffer }[] = [];
      let at = HEADER_SIZE + 20;
      for (let i = 0, n = rec.readUInt32LE(HEADER_SIZE + 16); i < n; i++) {
        need(rec, at + 12, 'clone');
        const len = rec.readUInt32LE(at + 8);
        need(rec, at + 12 + len, 'clone');
        childWrites.push({ addr: rec.readBigUInt64LE(at), data: rec.subarray(at + 12, at + 12 + len) });
        at += 12 + len;
      }
      return {
        kind: 'clone', tid, child: rec.readUInt32LE(HEADER_SIZE), ptraceEvent: rec.readUInt32LE(HEADER_SIZE + 4),
        flags: rec.readBigUInt64LE(HEADER_SIZE + 8), childWrites,
      };
    }
    case EventKind.Enter:
      need(rec, HEADER_SIZE + 4, 'enter');
      return { kind: 'enter', tid, nr: rec.readUInt32LE(HEADER_SIZE) };
    case EventKind.Exec:
      return { kind: 'exec', tid, snapshot: json<ExecSnapshot>(rec) };
    case EventKind.MapFile:
      return { kind: 'map-file', tid, map: json<MapFileInfo>(rec) };
    case EventKind.FileData:
      return { kind: 'file-data', tid, data: json<FileDataInfo>(rec) };
    case EventKind.Stop:
      return { kind: 'stop', tid, reason: json<{ reason: string }>(rec).reason };
    case EventKind.AsyncPoint:
      return { kind: 'async-point', tid, point: json<AsyncPointInfo>(rec) };
    default:
      throw new EventFormatError(`unknown event kind ${kind}`);
  }
}

export function encodeJsonEvent(kind: number, tid: number, value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  const rec = Buffer.alloc(HEADER_SIZE + body.length);
  rec.writeUInt32LE(rec.length, 0);
  rec[4] = kind;
  rec.writeUInt32LE(tid, 8);
  body.copy(rec, HEADER_SIZE);
  return rec;
}
