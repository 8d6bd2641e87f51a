import type { MemoryRegion } from '../replay/memory-regions.js';
import type { ProcessIds } from '../replay/process-ids.js';

export type { MemoryRegion } from '../replay/memory-regions.js';
export type { ProcessIds } from '../replay/process-ids.js';

// What the protocol layer sees of the engine: stop events, resume requests, the
// engine's one error class, and the DebugTarget interface that src/rsp drives.
// src/rsp imports these types and nothing else of the engine; the CLI (the
// composition root) builds a DebugSession and hands it over as a DebugTarget.

export type WatchKind = 'watch' | 'rwatch' | 'awatch';

export type StopEvent = (
  | {
      kind: 'stopped';
      /** signal to report (5 = SIGTRAP for breakpoints and steps) */
      signal: number;
      /**
       * 'begin' and 'end': the start and the end of the recorded history (gdb: "No more
       * reverse-execution history"); 'thread-created': a continue asked for thread events
       * stopped where `thread` was made (gdb numbers it, then continues)
       */
      reason?: 'swbreak' | 'hwbreak' | 'step' | 'interrupted' | 'start' | 'signal' | 'target' | 'begin' | 'end' | 'thread-created';
      watch?: { kind: WatchKind; addr: bigint };
      /** a line for the user, shown on gdb's console with the stop */
      message?: string;
      /** the recorded tid of the thread that stopped (undefined: the process's first) */
      thread?: number;
    }
  | { kind: 'exited'; code: number }
  | { kind: 'killed'; signal: number }
  /** the history ends here: the trace stops early, or the replay diverged */
  | { kind: 'end'; message: string }
) & {
  /** threads of the process that ended during the run before the process itself (recorded tids, in order) */
  threadsExited?: number[];
};

/** thread: the recorded tid of the thread that steps (all-stop: the others run as the recording did) */
export type ResumeRequest =
  /** threadEvents: stop where the run makes a thread (reason 'thread-created'), as gdb's thread events ask */
  | { action: 'continue'; threadEvents?: boolean }
  | { action: 'step'; thread?: number }
  | { action: 'range'; start: bigint; end: bigint; thread?: number };

/** gdb's Z1-Z4 kinds: hardware breakpoint, write, read, access watchpoint */
export type HwKind = 1 | 2 | 3 | 4;

/**
 * The one error class of the engine. Expected errors (the request cannot be served:
 * a bad address, a register value the kernel refuses, too many watchpoints, no
 * process) change nothing and become an error reply; 'internal' is a bug, logged
 * with its stack, after which the session is still usable.
 */
export type EngineErrorCode = 'no-process' | 'no-thread' | 'bad-address' | 'too-many' | 'refused' | 'bad-register' | 'internal';

export class EngineError extends Error {
  constructor(readonly code: EngineErrorCode, message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

/** A replay under a debugger's control, as the protocol layer drives it. */
export interface DebugTarget {
  /** the recorded process id (also its thread id: single-threaded recordings) */
  readonly tid: number;
  /** the registers include AVX's upper halves */
  readonly avx: boolean;
  /** the process can be inspected */
  readonly alive: boolean;
  /** the last stop, for `?` */
  readonly stopEvent: StopEvent;
  /** the recorded tids of the process's live threads, its first thread first (all-stop: all stand still) */
  threads(): number[];
  /** thread `tid` is one the replay makes later than where it stands (gdb heard of it further on, then went back) */
  madeLater(tid: number): boolean;
  /** the thread whose registers readRegisters and friends serve (gdb's Hg); an unknown tid is an EngineError */
  selectThread(tid: number): void;
  /** the thread selected now */
  readonly selectedThread: number;
  /** gdb's qGetTLSAddr: the address of `offset` in thread `tid`'s TLS block of the object whose link map is at `lm` */
  tlsAddress(tid: number, offset: bigint, lm: bigint): Promise<bigint>;
  /** the recorded auxiliary vector */
  auxv(): Buffer;
  /** the recorded siginfo when stopped by a signal */
  siginfo(): Buffer | undefined;
  /** gdb's QPassSignals: these are delivered without stopping */
  setPassSignals(signals: number[]): void;
  /** asks a running resume or reverse command to stop (synchronous) */
  interrupt(): void;

  resume(req: ResumeRequest): Promise<StopEvent>;
  /** gdb's `bs` and `bc` */
  reverse(kind: 'step' | 'continue'): Promise<StopEvent>;
  /** the replay from its beginning, breakpoints and watchpoints kept */
  restart(): Promise<StopEvent>;

  readRegisters(): Promise<Buffer>;
  readRegister(regno: number): Promise<Buffer>;
  writeRegister(regno: number, value: Buffer): Promise<void>;
  writeRegisters(data: Buffer): Promise<void>;
  /** rbp, rsp and rip for stop replies */
  expedite(): Promise<{ regno: number; bytes: Buffer }[]>;
  readMemory(addr: bigint, length: number): Promise<Buffer>;
  writeMemory(addr: bigint, data: Buffer): Promise<void>;
  /** kind 0: software breakpoint; 1-4: gdb's Z1-Z4 */
  insertBreakpoint(kind: 0 | HwKind, addr: bigint, length: number): Promise<void>;
  removeBreakpoint(kind: 0 | HwKind, addr: bigint, length: number): Promise<void>;

  /** gdb's libraries-svr4 document */
  librariesSvr4(): Promise<string>;
  /** a `monitor` command: the lines to show; a long one shows progress lines while it runs */
  monitor(command: string, progress?: (line: string) => void): Promise<string[]>;
  // LLDB's queries (src/rsp/lldb-queries.ts)
  /** the memory region holding addr now, named as the recording named it */
  memoryRegion(addr: bigint): MemoryRegion;
  /** where the executable keeps the address of r_debug (its DT_DEBUG value), if it has one */
  shlibInfoAddress(): Promise<bigint | undefined>;
  /** the replayed process's parent and user/group ids */
  processIds(): ProcessIds;
  /** a file of the recording (the executable, libraries) for vFile, or undefined */
  openFile(path: string): Buffer | undefined;
  /** ends the replay: the replayed process and every checkpoint */
  close(): Promise<void>;
}
