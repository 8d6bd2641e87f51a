// The addon's surface, typed in one place. Native calls run on the addon's tracer
// thread (the only thread allowed to ptrace), so every one returns a Promise.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The stop report as the addon sends it; decoded once, by stop-report.ts. */
export interface NativeStopInfo {
  reason: string;
  [field: string]: string | number | bigint;
}

export interface NativeLoopResult {
  /** encoded event records (recording) */
  events: Buffer;
  /** records produced (recording) or consumed (replay) */
  count: number;
  /** replay: bytes of the input buffer consumed */
  consumed: number;
  /** replay: of `count`, the buffered calls the program took from the syscall buffer's feed, without a stop */
  served: number;
  /** replay: what the replayed process wrote to fd 1 and 2, in order */
  echo: { fd: number; data: Buffer }[];
  stop: NativeStopInfo;
  /** ProcessDebugger.run with `slices`: the copies left on the way */
  slices: NativeSlice[];
  /** replay, stop 'clone': the child made again (its Tracee; the stop's `child` is its pid) */
  child?: NativeTracee;
}

/**
 * A copy of the process left by a debug run at a slice time: its interval, pc,
 * the exact arrival counts there (flattened [pc, n, pc, n, ...], arrivals before
 * this state), data-watch triggers and search hits (seq) so far, run time so far.
 */
export interface NativeSlice {
  pid: number;
  /** the copy itself: JS owns it from now on (close it, or keep it as a checkpoint) */
  tracee: NativeTracee;
  /** a copy of a process that made threads: its other threads' copies (keep them with it: see forkReplayed) */
  threads?: ReplayedThread[];
  event: number;
  pc: bigint;
  counts: bigint[];
  watchHits: number;
  seq: number;
  ranNs: number;
}

export interface NativeWaitResult {
  kind: 'syscall' | 'signal' | 'event' | 'exited' | 'killed';
  signal: number;
  event: number;
  code: number;
}

export interface SpawnOptions {
  path: string;
  argv: string[];
  envp: string[];
  cwd?: string;
  trapTsc?: boolean;
  traceForks?: boolean;
  stdio?: [number, number, number];
  /** O_NONBLOCK for the program's fds 0, 1, 2 (undefined: left as it is) */
  nonBlocking?: [boolean | undefined, boolean | undefined, boolean | undefined];
  /**
   * A process group of its own (kill(0) by the program reaches nothing else); it
   * gets the terminal if the caller has it (restoreTerminal() takes it back).
   */
  newProcessGroup?: boolean;
}

/**
 * Options of ProcessDebugger.run. Every stop reports { event, at, n, exact, steps, watchHits }:
 * the interval, the pc, the arrivals at it in the interval, whether that count is
 * exact, single-steps done, data-watch triggers in the interval; a search also
 * reports the last trap it passed (lastEvent, lastReason, lastPc, lastN, lastExact,
 * lastWatch, lastSlot). See docs/timeline.md.
 */
/** The run modes: run freely, single-step, or step while start <= pc < end. */
export const RunMode = { continue: 0, step: 1, range: 2 } as const;
export type RunMode = (typeof RunMode)[keyof typeof RunMode];

/** What a run's target stops at (see DebugRunOptions.target). */
export const TargetKind = { arrival: 0, watchTrigger: 1, fingerprint: 2 } as const;

export type RunTarget = (
  | { kind: typeof TargetKind.arrival; event: number; pc: bigint; n: number }
  | { kind: typeof TargetKind.watchTrigger; event: number; n: number }
  | { kind: typeof TargetKind.fingerprint; event: number; pc: bigint; fp: Buffer }
) & {
  /** the recorded tid of record `event`, whose thread runs the interval (a process of threads: the target is that thread's) */
  thread?: number;
};

export interface DebugRunOptions {
  mode: RunMode;
  start?: bigint;
  end?: bigint;
  fresh: boolean;
  /** the index of the next event (the interval the counts belong to) */
  event: number;
  /** mode 1: single-steps to do (default 1) */
  steps?: number;
  /** step modes: the recorded tid of the thread that steps; the others run as in a continue (default: whichever runs) */
  thread?: number;
  /** breakpoints that only count arrivals, for this run */
  silent?: bigint[];
  /** record breakpoint and watchpoint hits instead of stopping */
  search?: boolean;
  /** bit n set: stop before delivering a recorded signal n */
  stopSignals?: bigint;
  /** the start state is a boundary whose breakpoint counts as a hit */
  startCandidate?: boolean;
  /** every buffered call stops, as before the debugger used the feed (docs/syscallbuf.md) */
  noFeed?: boolean;
  /**
   * stop (reason 'target') at arrival n at pc, data trigger n, or the first arrival
   * at pc whose fingerprint is fp, in interval `event`
   */
  target?: RunTarget;
  /** continue mode: leave a copy (forked at forkAt) at these run times, ns since the run began */
  slices?: number[];
  /**
   * `slices` is a periodic schedule that may be spaced out where copies cost much
   * (a big process, rewriting its memory: addon/debugger_slice_budget.cc); else the
   * times are kept (a narrowing run's)
   */
  spreadSlices?: boolean;
  forkAt?: bigint;
  /**
   * continue mode: [int3 address, counted pc] pairs of in-process counting stubs
   * (src/debug/hit-counters.ts); the target's stub traps when its count reaches the target
   */
  counterTraps?: bigint[];
  /** the counters' shared hit sequence (a u64 in the process): a search's trap takes a number of it too */
  counterSeq?: bigint;
  /** the next event is this asynchronous signal's point: the run finds it (stop reason 'point') */
  point?: NativeRunPoint;
}

/** A point a debug run finds itself (addon/debugger_point.cc): the search without a budget, with the filter's jump. */
export type NativeRunPoint = Omit<NativePointSearch, 'budgetTicks'> & {
  /** the jump to the filter, written over pc while a continue run is in the stretch */
  patch: Buffer;
  /** the filter's count of arrivals at pc (a u64 in its data page) */
  arrivals: bigint;
};

/**
 * One recording (addon/record_processes.h, addon/recording_exports.cc): every process
 * of it and the record loop's state between runs. JS owns it: make one per spawned
 * root, close() it when the recording ends or is given up. After close() run() rejects.
 */
export interface NativeRecording {
  readonly root: number;
  /** CPUID of a recorded process (the root, or one a stop reported): the answers it gets (null: this CPU's). */
  cpuidSetAnswers(pid: number, rows: number[][] | null): Promise<void>;
  cpuidEnableFaulting(pid: number): Promise<boolean>;
  /** From now on the loop does both of the above at every exec stop (reported as the stop's cpuidFaulting: 1 on, 0 refused). */
  cpuidAtExec(rows: number[][] | null): Promise<void>;
  cpuidPatch(pid: number, start: bigint, end: bigint, sites: bigint[]): Promise<number>;
  /**
   * Runs the program until maxBytes of events are encoded or something needs the
   * recorder; a stop JS handles carries `pid`. Rejects once the recording has ended.
   */
  run(table: Int32Array, maxBytes: number): Promise<NativeLoopResult>;
  /**
   * Synchronous (JS thread): the running (or next) run keeps what the syscall buffer
   * holds at the program's next stop, kills every recorded process and resolves with
   * reason 'stopped'.
   */
  requestStop(): void;
  /**
   * An ELF image JS stored at a mapping (addon/record_images.h): its file's key,
   * content hash and, when CPUID sites are patched, their file offsets (else null).
   * Later private mappings of the same file get their map-file event (and patches)
   * from the loop itself, without an 'mmap-file' stop. Applies before the next run
   * (no need to await it).
   */
  knowImage(dev: bigint, ino: bigint, size: bigint, mtimeNs: bigint, ctimeNs: bigint, sha: string, sites: number[] | null): Promise<void>;
  /** Every process still recorded dies (SIGKILL, reaped); the state goes. Safe to call again. */
  close(): Promise<void>;
  /**
   * After an 'async-signal' stop (addon/record_preempt.h): runs the process, its
   * signal not delivered, to the next arrival at addr (with that rsp unless 0n; one
   * instruction on when addr is 0n) and
   * resolves to its registers there; after budgetTicks of its CPU time it is stopped
   * where it is instead (arrived false). `events`: the syscall buffer's records of
   * calls made on the way, which go into the trace before the point. null when
   * another stop came first (left for the loop; the signal is then held back to the
   * next syscall).
   */
  pointRunTo(pid: number, addr: bigint, wantRsp: bigint, budgetTicks: number): Promise<{ regs: Buffer; arrived: boolean; events: Buffer } | null>;
  /** The signal is delivered where the process stands (by the next run). */
  pointDeliver(pid: number): Promise<void>;
  /** The point is given up: the signal waits for the next syscall, as before points. */
  pointHoldBack(pid: number): Promise<void>;
  /** After a 'preempt' stop (addon/record_slices.h): `switched` (its point is in the trace) puts the runner behind the ready threads; else it runs on. */
  preemptSwitch(pid: number, switched: boolean): Promise<void>;
  /** Before the first run: the threads' time slice, and chaos (random slices and choices, from `seed`). */
  setSlices(sliceMs: number, chaos: boolean, seed: bigint): Promise<void>;
}

/** A search for a point named by its state (addon/replay_points.h). */
export interface NativePointSearch {
  pc: bigint;
  /** the recorded user_regs_struct */
  regs: Buffer;
  /** xxh3-128 of the exact state (addon/state_hash.h) */
  hash: Buffer;
  /** start, end pairs left out of the hash */
  excluded: bigint[];
  /** rip after the filter's int3 */
  trapAfter: bigint;
  /** where a rejected candidate goes on */
  miss: bigint;
  /** the program's bytes under the patch at pc (written back when the search ends) */
  original: Buffer;
  /** the filter compared its key with the arithmetic flags, dead at pc: a candidate gets the recorded ones */
  flagsDead?: boolean;
  /** user CPU time the search may use, in clock ticks */
  budgetTicks: number;
}

/**
 * One replayed process (addon/tracee.h, addon/tracee_exports.cc): what the replay
 * loop keeps of it, its CPUID emulation and its /proc/pid/mem. JS owns it: make one
 * (`new native.Tracee(pid)`) for a process it spawned; the addon hands back one for
 * each process it makes (forkCopy, a debug run's slice copies, a clone stop's
 * child). close() kills the process; after it every call rejects with EDISPOSED.
 * One garbage collected without close() has its process killed on the tracer thread.
 */
export interface NativeTracee extends CpuidTarget {
  readonly pid: number;
  /** close() was called */
  readonly closed: boolean;
  /** Replays events from `offset` until the buffer ends, maxEvents are done, or an event needs JS. */
  run(table: Int32Array, events: Buffer, offset: number, maxEvents: number): Promise<NativeLoopResult>;
  setBrk(brk: bigint): Promise<void>;
  /**
   * Which recorded process this one replays (other processes' records are skipped;
   * 0: all), and whether its clone events create the children (stop 'clone' with
   * child, recordedChild, flags; the result's `child`) or are skipped. echoMarked:
   * only writes the trace marks as reaching the recording's stdout/stderr are echoed
   * (format 4), else every write to fd 1 or 2.
   */
  setProcess(recordedPid: number, followChildren: boolean, echoMarked: boolean): Promise<void>;
  /** As much as is readable from addr (possibly short); patched CPUID sites read as the original bytes. */
  readMemory(addr: bigint, length: number): Promise<Buffer>;
  /** Through /proc/pid/mem: works on read-only mappings. */
  writeMemory(addr: bigint, data: Buffer): Promise<void>;
  /** A stopped copy of this process, which must hold no breakpoints (a checkpoint; clone injected at insnAddr). */
  forkCopy(insnAddr: bigint): Promise<NativeTracee>;
  /** Kills the process (SIGKILL, reaped) and closes its memory file. */
  close(): Promise<void>;
}

/** A process whose CPUID the tracer answers (addon/cpuid_emulation.h): a Tracee, or a recorded process (cpuid/recording.ts). */
export interface CpuidTarget {
  readonly pid: number;
  /** ARCH_SET_CPUID(0) in the stopped tracee: its CPUID instructions fault from now on. */
  cpuidEnableFaulting(): Promise<boolean>;
  /** Forgets the sites in [start, end), then turns the CPUID instructions at `sites` into ud2; resolves to how many. */
  cpuidPatch(start: bigint, end: bigint, sites: bigint[]): Promise<number>;
}

/**
 * The native debugger of one traced process (addon/debugger.h): the breakpoints it
 * inserted, its debug-register slots and arrival counters, and runs of the replay
 * loop with the program's code under its control. JS owns it: it lives until
 * dispose() (call it when the process is killed or has exited) or until it is
 * garbage collected. After dispose() every call but interrupt() rejects. It holds
 * its Tracee: the process lives while the debugger does, even if JS lets the Tracee go.
 */
export interface ProcessDebugger {
  readonly pid: number;
  /**
   * replayRun with the program's own code run under debugger control: stops at
   * breakpoints, watchpoints, after a step (mode 1) or a range step (mode 2: step
   * while start <= pc < end), on interrupt(), and before a fatal signal is delivered.
   * Stop reasons beyond replayRun's: swbreak, hwbreak, watch {slot}, step,
   * interrupted, signal {signal}. The event in progress at such a stop is not consumed.
   */
  run(table: Int32Array, events: Buffer, offset: number, maxEvents: number, opts: DebugRunOptions): Promise<NativeLoopResult>;
  /**
   * Tells the position counters where a (restored) process stands; `thread`: the
   * recorded tid of the thread that runs now, in a process of several (its state is
   * the boundary; default: the thread the debugger last ran, the first at the start).
   */
  setPosition(event: number, boundary: boolean, pc: bigint, n: number, thread?: number): Promise<void>;
  /** Writes int3 at addr; resolves to the byte it replaced. */
  insertBreakpoint(addr: bigint): Promise<number>;
  removeBreakpoint(addr: bigint): Promise<void>;
  /** DR0-3 and DR7; type 0 execute, 1 write, 3 read/write. */
  setDebugRegs(slots: ({ addr: bigint; type: 0 | 1 | 3; len: 1 | 2 | 4 | 8 } | null)[]): Promise<void>;
  /**
   * The slots into thread `pid` of this process, which JS is about to resume itself
   * (gdb's code in a diversion: runs of the debugger write them lazily); ESRCH for a
   * pid that is not a thread of the process.
   */
  armThread(pid: number): Promise<void>;
  /** The slots (a mask of bits 0-3) that thread `pid`'s last trap stop hit; its DR6 is cleared. */
  takeHitSlots(pid: number): Promise<number>;
  /** Forks the stopped process without its breakpoints (clone injected at insnAddr); resolves to the stopped copy. */
  forkCopy(insnAddr: bigint): Promise<NativeTracee>;
  /** Native.forkReplayed of the debugged process, without its breakpoints (the copy holds none; debug registers are not copied). */
  forkReplayed(insnAddr: bigint): Promise<ReplayedThread[]>;
  /** Synchronous (JS thread): stops a running run, which reports 'interrupted'. */
  interrupt(): boolean;
  /** Lets the native state go (after the jobs already submitted). */
  dispose(): Promise<void>;
}

/** A map-file event of an emulated file (src/replay/emulated-files.ts, addon/replay_emu_map.h). */
export interface EmuMapSpec {
  /** the memfd is "rewind:<identity>" */
  identity: string;
  fileSize: bigint;
  /** [offset, offset + length) of the file gets the pieces' bytes and zeros elsewhere (false: an anonymous shared piece of memory, sized only) */
  fill: boolean;
  offset: bigint;
  length: bigint;
  /** (offset in the range, bytes) */
  pieces: [bigint, Buffer][];
  addr: bigint;
  mapLength: bigint;
  prot: number;
  mapOffset: bigint;
  shared: boolean;
  /** a shared mapping of a read-only fd: mapped through a read-only fd, as recorded */
  readOnly: boolean;
}

export interface Native {
  configure(opts: { cpu: number }): void;
  /** Starts a traced program, stopped at the return of its execve. */
  spawn(opts: SpawnOptions): Promise<number>;
  /** struct user_regs_struct, 27 little-endian u64 */
  getRegs(pid: number): Promise<Buffer>;
  /** xxh3-128 of the stopped process's vector registers and writable memory, the ranges (start, end pairs) left out */
  stateHash(pid: number, excluded: bigint[]): Promise<Buffer>;
  /** Runs a replayed process with the filter in place to the point (addon/replay_points.h). */
  reachPoint(tracee: NativeTracee, search: NativePointSearch): Promise<{ found: boolean; why: string; candidates: number }>;
  /** The replay loop's next resume delivers this signal, with this siginfo (128 bytes). */
  replayDeliverAtPoint(tracee: NativeTracee, signal: number, siginfo: Buffer): Promise<void>;
  setRegs(pid: number, regs: Buffer): Promise<void>;
  /**
   * Raw memory of a stopped tracee by pid (a recorded process): as much as is
   * readable from addr. A replayed process's memory: its Tracee's readMemory, which
   * shows patched CPUID sites with their original bytes.
   */
  readMemory(pid: number, addr: bigint, length: number): Promise<Buffer>;
  /** Raw: through process_vm_writev, then /proc/pid/mem for read-only mappings. */
  writeMemory(pid: number, addr: bigint, data: Buffer): Promise<void>;
  injectSyscall(pid: number, insnAddr: bigint, nr: number, args: bigint[]): Promise<bigint>;
  /**
   * injectSyscall into one thread of a process of several threads, from any stop the
   * replay leaves it in: a syscall's entry is left and gone back to (addon/thread_inject.h).
   * Rejects with EBUSY (nothing changed) at a seccomp or ptrace event stop.
   */
  injectSyscallInThread(tid: number, insnAddr: bigint, nr: number, args: bigint[]): Promise<bigint>;
  resumeAndWait(pid: number, mode: 'cont' | 'syscall' | 'step', signal: number): Promise<NativeWaitResult>;
  /** The recording of a spawned root; its children are recorded too unless recordChildren is false. */
  Recording: new (root: number, recordChildren: boolean) => NativeRecording;
  /** A replayed process JS spawned (see NativeTracee). */
  Tracee: new (pid: number) => NativeTracee;
  /**
   * SIGKILL and reap a process this one traces or started (the recording's root
   * before its Recording exists). Any other pid is left alone: resolves to false.
   */
  kill(pid: number): Promise<boolean>;
  /** Synchronous: the [start, end) ranges of data (not holes) in path between from and to, flattened. */
  fileDataExtents(path: string, from: number, to: number): number[];
  /** Synchronous: gives the terminal back to this process's group after spawn({ newProcessGroup }). */
  restoreTerminal(): void;
  /** Gives the stopped replayed process its own copy of the emulated file at fd (addon/replay_files.h). */
  emuUnshare(pid: number, fd: number): Promise<void>;
  /** A map-file event of an emulated file in one tracer job (addon/replay_emu_map.h); resolves to its fd in the process. */
  emuMapFile(pid: number, spec: EmuMapSpec): Promise<number>;
  /** Replay: the trace's checked file of piece sha; the loop applies later map-file events of emulated files whose pieces it knows (addon/replay_emu_map.h). */
  replayKnowPiece(sha: string, path: string): Promise<void>;
  /** Replay: the checked trace file of ELF image sha and its CPUID sites if they are patched (else null); the loop maps its later map-file events itself (addon/replay_images.h). */
  replayKnowImage(sha: string, path: string, sites: number[] | null): Promise<void>;
  /** Maps `path` privately at addr in the stopped process (openat, mmap, close injected at insnAddr; the path goes to scratch): mmap's result, or openat's -errno. */
  mapFileInto(pid: number, insnAddr: bigint, scratch: bigint, path: string, addr: bigint, length: bigint, prot: number, offset: bigint): Promise<bigint>;
  /** [leaf, subleaf, eax, ebx, ecx, edx] rows run on the tracer's CPU (APIC id masked out) */
  cpuidLeaves(): Promise<number[][]>;
  /**
   * Syscall entries every replay of this process answered at one stop
   * (PTRACE_SYSEMU), entered again for real, and left through their exit stop
   * (addon/replay_sysemu.h), and rt_sigaction calls answered without running them
   * (addon/replay_sigaction.h): diagnostics, synchronous.
   */
  sysemuCounts(): { skipped: number; reentered: number; left: number; sigactions: number };

  // CPUID from the trace (addon/cpuid_emulation.cc, docs/portability.md).
  /** Every leaf and subleaf this CPU answers, and XCR0, read on the tracer's CPU. */
  cpuidDump(): Promise<{ leaves: number[][]; xcr0: bigint }>;

  // Debugging a replay (addon/debugger.h, addon/debug_exports.cc).
  /** The debugger of one replayed process: create one per process that stands for the replay. */
  Debugger: new (tracee: NativeTracee) => ProcessDebugger;
  /** The registers (orig_rax, RF and TF left out) and the 64 bytes at rsp: names a state. */
  fingerprint(pid: number): Promise<Buffer>;
  /** XSAVE area (PTRACE_GETREGSET NT_X86_XSTATE), or the 512-byte FXSAVE area. */
  getXState(pid: number): Promise<Buffer>;
  setXState(pid: number, data: Buffer): Promise<void>;

  // Threads (addon/thread_copy.h, addon/thread_exports.cc, docs/timeline.md).
  /**
   * A stopped copy of every thread of the stopped process of `tracee`: a fork
   * injected at insnAddr in its thread `caller` (tracee.pid, or another of its
   * threads), the other threads cloned in the copy with their registers, XSAVE
   * area, signal mask, sigaltstack, robust list, clear-tid address, name and queued
   * signals. The copy's Tracee (its pid: the copy of `caller`), and one pair per
   * thread, the caller's first. Every thread must be in a ptrace stop (a syscall's
   * entry stop is kept), none at a seccomp stop. Closing the copy's Tracee ends all
   * its threads. The copy has no replay sessions but the caller's: forkReplayed.
   */
  forkThreads(tracee: NativeTracee, caller: number, insnAddr: bigint): Promise<{ tracee: NativeTracee; threads: ThreadCopy[] }>;
  /**
   * A copy of a replayed process that replays on (docs/timeline.md, "Checkpoints of
   * threads"): every thread copied as forkThreads does, the fork injected in
   * `tracee`'s thread (any thread's Tracee, stopped between two runs), each copy with
   * its original's replay. One entry per thread, `tracee`'s copy first. Keep them all:
   * closing (or collecting) any one kills the whole copy; the others' close() then
   * only lets them go.
   */
  forkReplayed(tracee: NativeTracee, insnAddr: bigint): Promise<ReplayedThread[]>;
  /** Sets one stopped thread going, without waiting (waitStop waits). */
  resume(tid: number, mode: 'cont' | 'syscall' | 'step', signal: number): Promise<void>;
  /** The next stop (or the end) of one tracee. */
  waitStop(tid: number): Promise<NativeWaitResult>;
  /** `thread`, at an execve's entry set for the replay's exec, execs; the process goes on as `leader` (addon/replay_thread_exec.h). */
  execFromThread(leader: NativeTracee, thread: NativeTracee): Promise<void>;
}

/** A thread of a replayed process's copy (forkReplayed): the recorded thread it replays, and its Tracee. */
export interface ReplayedThread { recordedTid: number; tracee: NativeTracee }

/** A thread of a copied process and the thread that stands for it in the copy. */
export interface ThreadCopy {
  original: number;
  copy: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

let loaded: Native | undefined;

export function native(): Native {
  if (!loaded) {
    const file = path.join(here, '..', '..', 'build', 'Release', 'rewind_native.node');
    try {
      loaded = require(file) as Native;
    } catch (e) {
      throw new Error(`cannot load the native addon ${file} (run \`npm install\` to build it): ${(e as Error).message}`);
    }
  }
  return loaded;
}

/** The syscall buffer's preload library (addon/preload/rwpreload.c), built beside the addon. */
export function preloadLibraryPath(): string {
  return path.join(here, '..', '..', 'build', 'Release', 'librwpreload.so');
}
