// The planners of reverse-continue, as pure functions of measured distances
// (docs/timeline.md, "reverse-continue"): how narrowing runs place their copies,
// and which windows are searched in which order. No process is touched here.

/** the finest distance a window is narrowed to before it is searched (timer precision), ns */
export const FINE_NS = 5e3;

/** count run times, `every` ns apart */
export function periodic(every: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (i + 1) * every);
}

/** The first narrowing level leaves copies at 1, 2, 4, ... ms: it measures the distance to the end. */
export function firstNarrowingSchedule(): number[] {
  return Array.from({ length: 17 }, (_, k) => 2 ** k * 1e6);
}

export interface NarrowingState {
  /** run time each copy costs that is not progress (the stop, the fork, copy-on-write faults), ns */
  cost: number;
  /** the run time the last level was expected to take to the end, ns (0: not known) */
  expected: number;
  /** the distance from the closest copy to the end, ns */
  left: number;
}

export const INITIAL_NARROWING: NarrowingState = { cost: 30e3, expected: 0, left: Infinity };

export interface NarrowingStep {
  state: NarrowingState;
  /** the next level starts from the closest copy this level made */
  fromClosest: boolean;
  /** the run times of the next level's copies; undefined: narrowing is done */
  schedule: number[] | undefined;
}

/**
 * After a narrowing level that ran `total` ns to the end and left copies `dists`
 * ns before it (in run order): the next level. Run times vary by some percent from
 * run to run, so each level gets about that much closer, and the levels stop when
 * one does not; the cost of each copy is measured from one level to the next and
 * added to the offsets of the copies that follow it.
 */
export function nextNarrowing(s: NarrowingState, total: number, dists: number[]): NarrowingStep {
  let { cost, left } = s;
  if (dists.length && s.expected) cost = Math.max(0, Math.min(500e3, (total - s.expected) / dists.length));
  const closest = dists.length ? dists[dists.length - 1] : undefined;
  let fromClosest = false;
  if (closest !== undefined && closest < left) {
    left = closest;
    fromClosest = true;
  } else if (Number.isFinite(left)) {
    left = Math.min(left, total) / 2; // no closer (the end came sooner than planned): aim closer from the same copy
  } else {
    return { state: { cost, expected: s.expected, left }, fromClosest, schedule: undefined };
  }
  if (left < 2 * FINE_NS) return { state: { cost, expected: s.expected, left }, fromClosest, schedule: undefined };
  const schedule: number[] = [];
  for (let k = 1; k <= 12 && left / 2 ** k >= FINE_NS / 2; k++) schedule.push(left - left / 2 ** k + (k - 1) * cost);
  return { state: { cost, expected: left, left }, fromClosest, schedule };
}

export interface Candidate<T> {
  start: T;
  /** estimated run time from the start to the end of the window, ns (Infinity: unknown) */
  dist: number;
}

/**
 * The windows to search, closest first: the narrowing copies (given in run order,
 * farthest first) from the closest on, each about 1.7 times as far as the last;
 * then the known starts (latest first), the first and last always, the others
 * when about twice as far as the farthest window so far.
 */
export function planWindows<T>(anchors: Candidate<T>[], starts: Candidate<T>[]): T[] {
  const windows: T[] = [];
  let last = 0;
  for (let i = anchors.length - 1; i >= 0; i--) {
    const a = anchors[i];
    if (a.dist > 0 && (!windows.length || a.dist >= 1.7 * last)) {
      windows.push(a.start);
      last = a.dist;
    }
  }
  for (let i = 0; i < starts.length; i++) {
    const x = starts[i];
    if (i === 0 || i === starts.length - 1 || x.dist >= 1.8 * last) {
      windows.push(x.start);
      last = Math.max(last, x.dist);
    }
  }
  return windows;
}

/** A window search leaves a copy every 10 ms, or 16 over a long known window. */
export function windowSliceTimes(dist: number): number[] {
  return periodic(Number.isFinite(dist) && dist > 160e6 ? dist / 16 : 10e6, 1000);
}
