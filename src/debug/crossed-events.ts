// What the recorded events a reverse search would run across say about it
// (docs/timeline.md, "reverse-continue"): where the last asynchronous signal's point
// lies (a window never runs across one: the stretch before it is searched on its
// own), whether only signal handlers ran since it (no narrowing is worth a run
// there), and whether counters may stay in the process across the events (none of
// them may meet the counters' pages or a patched site: mapping-events.ts says which
// mapping events cannot). Scans of the trace's event records; no process is touched here.
import { CLONE_THREAD, decodeEvent, EventKind } from '../history/events.js';
import type { TraceReader } from '../history/index.js';
import { isAddressSpaceEvent, isProcessClone, mappingRefusal, processTids } from './mapping-events.js';

const NR_RT_SIGRETURN = 15;

/**
 * syscalls a counted run never crosses: they replace the address space (exec), end
 * the process or its first thread, make a thread (the clone's own event), or map
 * memory the trace's ranges do not describe (System V shared memory, remapped file pages)
 */
const ENDS_SPAN = new Set([
  30 /* shmat */, 67 /* shmdt */, 56 /* clone */, 59 /* execve */, 60 /* exit */, 231 /* exit_group */,
  322 /* execveat */, 435 /* clone3 */, 216 /* remap_file_pages */,
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

const NR_EXIT = 60;
const NR_CLONE = 56;
const NR_CLONE3 = 435;

/**
 * Why a run with counters in cannot cross events from..to-1, and the latest event
 * that refuses it; undefined: it can
 * (docs/timeline.md, "Counting across events" and "Counting across mapping
 * events"). Crossed: syscalls that map nothing; signals, rdtsc, cpuid; events that
 * map, unmap, move, protect or advise memory, and map-file events, when none of
 * their ranges holds one of `sites` (the run's patched pcs: counter pages avoid
 * every range a later event names, mapping-events.ts); a fork, vfork or clone of a
 * process (no child is replayed under a debugger); other processes' events (`firstTid`
 * given: the debugged process's first thread; the replay skips the others). In a
 * process of several threads also what its threads do around their calls: the
 * enter events (the call's effect comes with its own event), the return of a clone
 * that made a thread (the thread was made at the clone's own event, before it, which
 * a span still does not cross) or of one that failed, and the death of a thread
 * other than the first (its stack stays mapped; the first thread's memory view is
 * what the counters are read through). Without `firstTid` every event is taken
 * for the process's own and the thread rules are off.
 */
export function spanRefusal(trace: TraceReader, from: number, to: number, firstTid?: number, sites: bigint[] = []): { why: string; event: number } | undefined {
  const own = firstTid === undefined ? undefined : processTids(trace, firstTid);
  // latest first: a search may count the part after the event that refuses (reverse-continue.ts)
  for (let e = to - 1; e >= from; e--) {
    const ev = decodeEvent(trace.record(e));
    if (own && !own.has(ev.tid)) continue;
    const threadEvent = firstTid !== undefined && (ev.kind === 'enter'
      || (ev.kind === 'syscall' && ((ev.nr === NR_EXIT && ev.tid !== firstTid)
        || ((ev.nr === NR_CLONE || ev.nr === NR_CLONE3) && ev.result < 0n) || (ev.nr === NR_CLONE && (ev.args[0] & CLONE_THREAD) !== 0n)))
      || (ev.kind === 'exit' && !ev.killed && ev.tid !== firstTid));
    if (threadEvent || isProcessClone(ev) || ['signal', 'rdtsc', 'cpuid'].includes(ev.kind)) continue;
    if (isAddressSpaceEvent(ev)) {
      const why = mappingRefusal(trace, e, sites);
      if (why) return { why, event: e };
      continue;
    }
    if (ev.kind !== 'syscall') return { why: `the ${ev.kind} event at ${e}`, event: e };
    if (ENDS_SPAN.has(ev.nr)) return { why: `syscall ${ev.nr} at event ${e}`, event: e };
  }
  return undefined;
}

/** Events from..to-1 can be crossed by a run with counters in (spanRefusal). */
export function spanIsCountable(trace: TraceReader, from: number, to: number, firstTid?: number, sites: bigint[] = []): boolean {
  return spanRefusal(trace, from, to, firstTid, sites) === undefined;
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
