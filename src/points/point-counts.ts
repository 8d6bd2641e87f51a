// How a replay reached its points, counted for REWIND_TRACE_RUNS (`rewind replay
// --check` prints them): by the filter, how many of those ran the loop as laps
// (loop-laps.ts), and by an int3 at pc where no filter fits. A module of its own, as
// point-not-found.ts: the points' code is a bundle loaded only when a trace has
// points (scripts/bundle.mjs), and the command that prints must see the same counts.

export interface PointCounts {
  /** points reached with the filter */
  filter: number;
  /** of them, with the loop run as laps between checks */
  laps: number;
  /** points reached with an int3 at pc (no filter fits) */
  trapped: number;
}

const counts: PointCounts = { filter: 0, laps: 0, trapped: 0 };

/** The counts so far (a copy). */
export function pointCounts(): PointCounts {
  return { ...counts };
}

/** One more point reached, and how. */
export function countPoint(how: 'filter' | 'laps' | 'trapped'): void {
  if (how === 'laps') counts.laps++;
  counts[how === 'laps' ? 'filter' : how]++;
}
