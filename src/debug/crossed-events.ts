// What the recorded events a reverse search would run across say about it
// (docs/timeline.md, "reverse-continue"): where the last asynchronous signal's point
// lies (a window never runs across one: the stretch before it is searched on its
// own), whether only signal handlers ran since it (no narrowing is worth a run
// there), and whether counters may stay in the process across the events (none of
// them can change the address space the counters' pages live in). Scans of the
// trace's event records; no process is touched here.
import { decodeEvent, EventKind } from '../history/events.js';
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

/** Events from..to-1 can be crossed by a run with counters in: syscalls that map nothing, signals, rdtsc, cpuid. */
export function spanIsCountable(trace: TraceReader, from: number, to: number): boolean {
  for (let e = from; e < to; e++) {
    const ev = decodeEvent(trace.record(e));
    if (ev.kind === 'syscall' ? MAPPING_CALLS.has(ev.nr) : !['signal', 'rdtsc', 'cpuid'].includes(ev.kind)) return false;
  }
  return true;
}
