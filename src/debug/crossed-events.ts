// What the recorded events a reverse search would run across say about it
// (docs/timeline.md, "reverse-continue"): where the last asynchronous signal's point
// lies (a window never runs across one: the stretch before it is searched on its
// own), whether only signal handlers ran since it (no narrowing is worth a run
// there), and whether counters may stay in the process across the events (none of
// them can change the address space the counters' pages live in). Scans of the
// trace's event records; no process is touched here.
import { CLONE_THREAD, decodeEvent, EventKind } from '../history/events.js';
import type { TraceReader } from '../history/index.js';

const NR_RT_SIGRETURN = 15;

/** syscalls whose replay changes the address space: the counters' pages could meet them */
const MAPPING_CALLS = new Set([
  9 /* mmap */, 10 /* mprotect */, 11 /* munmap */, 12 /* brk */, 25 /* mremap */, 28 /* madvise */,
  30 /* shmat */, 67 /* shmdt */, 56 /* clone */, 57 /* fork */, 58 /* vfork */, 59 /* execve */,
  60 /* exit */, 231 /* exit_group */, 322 /* execveat */, 435 /* clone3 */, 329 /* pkey_mprotect */, 216 /* remap_file_pages */,
]);

/** async-point event indices of each trace, in order (found once: a scan of the kinds) */
const pointsOf = new WeakMap<TraceReader, number[]>();

/** The latest asynchronous signal's point event p with from <= p < to (undefined: none). */
export function latestPoint(trace: TraceReader, from: number, to: number): number | undefined {
  let points = pointsOf.get(trace);
  if (!points) {
    points = [];
    for (let i = 0; i < trace.eventCount; i++) if (trace.record(i)[4] === EventKind.AsyncPoint) points.push(i);
    pointsOf.set(trace, points);
  }
  for (let k = points.length - 1; k >= 0; k--) if (points[k] < to && points[k] >= from) return points[k];
  return undefined;
}

/**
 * Between the last asynchronous signal's point in [from, to) and interval `to`, only
 * signal handlers ran (deliveries and their rt_sigreturn): a narrowing run would
 * leave no copy there worth a window (none inside the stretch before the point),
 * and the search after the point is one short window anyway. Walking back over a
 * periodic timer's points, narrowing cost a run per point for nothing.
 */
export function onlyHandlersSincePoint(trace: TraceReader, from: number, to: number): boolean {
  const p = latestPoint(trace, from, to);
  if (p === undefined) return false;
  for (let e = p + 1; e < to; e++) {
    const ev = decodeEvent(trace.record(e));
    if (!(ev.kind === 'signal' || (ev.kind === 'syscall' && ev.nr === NR_RT_SIGRETURN))) return false;
  }
  return true;
}

/** calls that change the address space only inside ranges that were all mapped when they succeeded */
const INSIDE_MAPPINGS = new Set([10 /* mprotect */, 28 /* madvise */, 329 /* pkey_mprotect */]);
const NR_EXIT = 60;
const NR_CLONE = 56;
const NR_CLONE3 = 435;
const NR_MMAP = 9;
const PROT_EXEC = 4n;
const MAP_ANONYMOUS = 0x20n;

/** A range a recorded mmap mapped, from event `e` on. */
export interface LaterMapping {
  e: number;
  start: bigint;
  end: bigint;
}

/** each trace's successful anonymous mappings without PROT_EXEC, in event order (found once) */
const dataMappingsOf = new WeakMap<TraceReader, LaterMapping[]>();

/**
 * A successful mmap of anonymous memory that cannot hold code (a thread's stack, the
 * syscall buffer a new thread maps, a malloc arena): no breakpoint can lie in it,
 * and counter pages are kept out of its range (dataMappingsAfter), so a counted run
 * may cross it.
 */
function isDataMapping(ev: ReturnType<typeof decodeEvent>): boolean {
  return ev.kind === 'syscall' && ev.nr === NR_MMAP && ev.result > 0n && ev.result < 1n << 47n
    && (ev.args[2] & PROT_EXEC) === 0n && (ev.args[3] & MAP_ANONYMOUS) !== 0n;
}

/**
 * The ranges anonymous data mappings recorded at event `from` or later will take:
 * counter pages placed now must avoid them, or the replayed mmap (at its recorded
 * address) would map over a counter's page.
 */
export function dataMappingsAfter(trace: TraceReader, from: number): LaterMapping[] {
  let all = dataMappingsOf.get(trace);
  if (!all) {
    all = [];
    for (let i = 0; i < trace.eventCount; i++) {
      const ev = decodeEvent(trace.record(i));
      if (ev.kind === 'syscall' && isDataMapping(ev)) all.push({ e: i, start: ev.result, end: ev.result + ((ev.args[1] + 0xfffn) & ~0xfffn) });
    }
    dataMappingsOf.set(trace, all);
  }
  return all.filter((m) => m.e >= from);
}

/**
 * Events from..to-1 can be crossed by a run with counters in: syscalls that map
 * nothing or only anonymous data (isDataMapping), signals, rdtsc, cpuid. In a process of several threads (`firstTid`: its
 * first thread's recorded tid) also what its threads do around their calls: the
 * enter events (the call's effect comes with its own event), the return of a clone
 * that made a thread (the thread was made at the clone's own event, before it, which
 * a span still does not cross) or of one that failed, the death of a thread
 * other than the first (its stack stays mapped; the first thread's memory view is
 * what the counters are read through), and an mprotect or madvise that succeeded:
 * its range was all mapped then, and the counters' pages lie in a gap of the same
 * address space (glibc's threads madvise their stacks away as they exit).
 */
export function spanIsCountable(trace: TraceReader, from: number, to: number, firstTid?: number): boolean {
  for (let e = from; e < to; e++) {
    const ev = decodeEvent(trace.record(e));
    const threadEvent = firstTid !== undefined && (ev.kind === 'enter'
      || (ev.kind === 'syscall' && ((ev.nr === NR_EXIT && ev.tid !== firstTid) || (INSIDE_MAPPINGS.has(ev.nr) && ev.result === 0n)
        || ((ev.nr === NR_CLONE || ev.nr === NR_CLONE3) && ev.result < 0n) || (ev.nr === NR_CLONE && (ev.args[0] & CLONE_THREAD) !== 0n)))
      || (ev.kind === 'exit' && !ev.killed && ev.tid !== firstTid));
    if (threadEvent || isDataMapping(ev)) continue;
    if (ev.kind === 'syscall' ? MAPPING_CALLS.has(ev.nr) : !['signal', 'rdtsc', 'cpuid'].includes(ev.kind)) return false;
  }
  return true;
}

/** how far back the previous record of a thread is looked for */
const PARKED_SCAN = 4096;

/**
 * What interval e is to a counted span (counted-spans.ts). 'start': the thread of
 * record e runs user code in it, and a run stops at its first state, so a span may
 * end there. 'empty': that thread stands in the kernel all along (record e is the
 * return of a call whose enter event was the thread's last record, or a thread's
 * death), so the interval holds no user code and its "first state" is a thread
 * parked at an entry. 'opaque': right after a thread's death (the run goes on in
 * whichever thread is left, and the switch to the interval's thread is not seen as
 * one: a run does not stop at its first state). Intervals of a process of one thread
 * are all starts but the one after its exit.
 */
export function intervalKind(trace: TraceReader, e: number): 'start' | 'empty' | 'opaque' {
  if (e <= 0 || e >= trace.eventCount) return 'opaque';
  const ev = decodeEvent(trace.record(e));
  if (ev.kind === 'exit') return 'empty';
  if (decodeEvent(trace.record(e - 1)).kind === 'exit') return 'opaque';
  if (ev.kind !== 'syscall') return 'start';
  for (let k = e - 1; k >= 0 && k >= e - PARKED_SCAN; k--) {
    const prev = decodeEvent(trace.record(k));
    if (prev.tid === ev.tid) return prev.kind === 'enter' && prev.nr === ev.nr ? 'empty' : 'start';
  }
  return 'start';
}

/**
 * How a counted run over a span ends at the start of interval e: stopped at its
 * first state ('state': a 'start' interval), or once event e - 1 is replayed
 * ('event': right after a thread's death, whose first state no run stops at; the
 * same stretch of user code ends there). Undefined for an interval that holds no
 * user code (its thread stands in the kernel): a span does not end there.
 */
export function spanEnd(trace: TraceReader, e: number): { at: 'state' } | { at: 'event'; event: number } | undefined {
  const kind = intervalKind(trace, e);
  if (kind === 'start') return { at: 'state' };
  if (kind === 'opaque' && e > 0 && e < trace.eventCount) return { at: 'event', event: e - 1 };
  return undefined;
}
