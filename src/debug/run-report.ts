// What one forward run of the replayed process is asked (RunExtra, RunHooks) and
// what it returns (RunReport, with the copies it left): the contract between
// forward.ts, which runs the native debug loop, and the timeline that names its
// stops and keeps its copies.
import type { DebugRunOptions, NativeSlice } from '../native/addon.js';
import type { RunPosition, SearchHit } from '../native/stop-report.js';
import type { StopEvent, WatchKind } from './target.js';

/** Options of a run beyond the resume request. */
export type RunExtra = Omit<DebugRunOptions, 'mode' | 'start' | 'end' | 'fresh' | 'event' | 'forkAt'>;

/** A copy a run left (a slice), with the counting base and run time it was taken at. */
export interface LeftCopy {
  slice: NativeSlice;
  /** the counting base of its interval when it was taken (0: the interval start) */
  base: number;
  /** estimated replay time from the start of the replay, ns */
  t: number;
}

/** What one run did. */
export interface RunReport {
  stop: StopEvent;
  /** where the native loop stopped (undefined when the run did not start) */
  position?: RunPosition;
  /** the latest trap a search run passed */
  lastHit?: SearchHit;
  /** copies left on the way, in order */
  copies: LeftCopy[];
  /** the user's interrupt ended the run */
  interrupted: boolean;
  /** single-steps done by the whole run */
  steps: number;
  /** the last asynchronous signal's point the run passed, named in its interval (e: the point's event) */
  point?: { e: number; base: number; pc: bigint; n: number; exact: boolean };
  /** events the program passed in-process, buffered calls served from the feed (docs/syscallbuf.md) */
  served: number;
  /** threads that ended in the run, their process living on (recorded tids, in order) */
  threadsExited: number[];
}

export interface RunHooks {
  /** the data watchpoint of a debug-register slot, for 'watch' stops */
  watchOf(slot: number): { kind: WatchKind; addr: bigint };
  /** called between two events of a run that is not a search (periodic checkpoints), with the run time (ns, the run clock) the run started at */
  atBoundary?(runStartT: number): Promise<void>;
  /** around an event that maps [start, end) over what was there (a file's image, written by JS) */
  beforeMapping?(start: bigint, end: bigint): Promise<void>;
  afterMapping?(start: bigint, end: bigint): Promise<void>;
  /** events were replayed: `next` is the index of the next one */
  replayed?(next: number): void;
}
