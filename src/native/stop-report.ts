// The stop report of a native run, decoded once into a discriminated union. The
// addon sends a flat bag of named numbers (addon/debugger_positions.cc `describe`);
// every consumer reads this typed form instead of picking fields out of the bag.
import type { NativeStopInfo } from './addon.js';

/** Where the process stands after a debug run (docs/timeline.md, "Names"). */
export interface RunPosition {
  /** the interval: the index of the next event */
  event: number;
  /** the pc, when the process is still there to read */
  at?: bigint;
  /** arrivals at `at` counted in this interval since the counting base (0: none counted) */
  n: number;
  /** every arrival at `at` since the base was seen, so n names the state */
  exact: boolean;
  /** single-steps done by this run */
  steps: number;
  /** data-watch triggers in the interval since the base */
  watchHits: number;
  /** run time of the run so far, in ns: the process's CPU time while the run resumed it (addon/run_clock.h), not the wall clock */
  ranNs: number;
  /** the recorded tid of the thread the run stopped in (its process's pid if it has one thread) */
  thread: number;
}

/** The last trap a search run passed without stopping (search mode). */
export interface SearchHit {
  event: number;
  reason: 'swbreak' | 'hwbreak' | 'watch';
  pc: bigint;
  /** arrivals at pc since the base at the hit */
  n: number;
  exact: boolean;
  /** data-watch triggers since the base at the hit */
  watch: number;
  /** the debug-register slot of a watch hit */
  slot: number;
  /** hits recorded before this one by the run (orders hits and slices) */
  seq: number;
  /** single-steps done before the hit (step mode) */
  steps: number;
  /** its number in the in-process counters' hit sequence (0: the run had none) */
  order: number;
}

export type StopCause =
  | { reason: 'end-of-buffer' | 'batch' | 'exec' | 'need-js' | 'interrupted' | 'swbreak' | 'hwbreak' | 'step' | 'target' }
  /** tid: whose death (a thread's, when threadsLeft > 0: its process lives on) */
  | { reason: 'exited'; code: number; tid: number; threadsLeft: number }
  | { reason: 'killed'; signal: number; tid: number; threadsLeft: number }
  | { reason: 'signal'; signal: number }
  | { reason: 'watch'; slot: number }
  /** a thread made again (its Tracee is the run's `child`) */
  | { reason: 'clone'; recordedChild: number }
  /** the run found an asynchronous signal's point; `then`: the stop gdb sees there too ('' none) */
  | { reason: 'point'; then: '' | 'swbreak' | 'step' | 'interrupted'; pc: bigint }
  | { reason: 'divergence'; expected: unknown; actual: unknown }
  | { reason: 'unknown'; name: string };

export type StopReport = StopCause & { position: RunPosition; lastHit?: SearchHit };

const num = (v: unknown): number => Number(v ?? 0);
const big = (v: unknown): bigint | undefined => (v === undefined ? undefined : BigInt(v as bigint | number));

function causeOf(bag: NativeStopInfo): StopCause {
  switch (bag.reason) {
    case 'end-of-buffer':
    case 'batch':
    case 'exec':
    case 'need-js':
    case 'interrupted':
    case 'swbreak':
    case 'hwbreak':
    case 'step':
    case 'target':
      return { reason: bag.reason };
    case 'exited':
      return { reason: 'exited', code: num(bag.code), tid: num(bag.tid), threadsLeft: num(bag.threadsLeft) };
    case 'killed':
      return { reason: 'killed', signal: num(bag.signal), tid: num(bag.tid), threadsLeft: num(bag.threadsLeft) };
    case 'signal':
      return { reason: bag.reason, signal: num(bag.signal) };
    case 'watch':
      return { reason: 'watch', slot: num(bag.slot) };
    case 'clone':
      return { reason: 'clone', recordedChild: num(bag.recordedChild) };
    case 'point':
      return { reason: 'point', then: String(bag.then ?? '') as '' | 'swbreak' | 'step' | 'interrupted', pc: big(bag.pc) ?? 0n };
    case 'divergence':
      return { reason: 'divergence', expected: bag.expected, actual: bag.actual };
    default:
      return { reason: 'unknown', name: String(bag.reason) };
  }
}

/** Decodes the addon's stop bag. */
export function decodeStopReport(bag: NativeStopInfo): StopReport {
  const position: RunPosition = {
    event: num(bag.event),
    at: big(bag.at),
    n: num(bag.n),
    exact: num(bag.exact) !== 0,
    steps: num(bag.steps),
    watchHits: num(bag.watchHits),
    ranNs: num(bag.ranNs),
    thread: num(bag.thread),
  };
  const lastHit: SearchHit | undefined = bag.lastReason === undefined ? undefined : {
    event: num(bag.lastEvent),
    reason: bag.lastReason as SearchHit['reason'],
    pc: big(bag.lastPc) ?? 0n,
    n: num(bag.lastN),
    exact: num(bag.lastExact) !== 0,
    watch: num(bag.lastWatch),
    slot: num(bag.lastSlot),
    seq: num(bag.lastSeq),
    steps: num(bag.lastSteps),
    order: num(bag.lastOrder),
  };
  return { ...causeOf(bag), position, lastHit };
}
