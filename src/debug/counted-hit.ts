// Going to a breakpoint hit that a counted window found (docs/timeline.md,
// "reverse-stepi"). A counted run leaves no copies (they would hold its stubs), so
// without more the first reverse-stepi at the hit would replay from the window's
// start, which may be far back: for a later arrival at the hit's pc, a checkpoint
// at the previous arrival, from which the hit is one arrival on; for the first
// arrival since the window's start, the run to the hit leaves copies on the way
// and the hit is named from the latest, so the reverse-stepi's search for a close
// start (reverse-step.ts) runs from there. bench/reverse.js's first reverse-stepi at
// a `mark` hit ran twice from the window's start: 0.137 s against a 0.1 s target.
import type { ReplayedProcess } from './forward.js';
import type { Mark } from './marks.js';
import { windowSliceTimes } from './search-plans.js';
import { NotRetraced, targetOf, type Seeker } from './seek.js';
import type { Timeline } from './timeline.js';
import { NO_SLOTS, type Traps } from './traps.js';

/** copies the run to a first arrival leaves at most (each is a fork) */
const COPIES_ON_THE_WAY = 16;
/** and keeps before the hit */
const KEEP_BEFORE_HIT = 4;

/**
 * Brings the process to `hit` (steps 0, named from the window's start) and says
 * where it stands: `hit`, or the same state named from a copy just before it.
 * `dist`: the window's length in run time (ns), when known, to space the copies.
 */
export async function reachCountedHit(proc: ReplayedProcess, timeline: Timeline, seeker: Seeker, traps: Traps, hit: Mark, dist: number): Promise<Mark> {
  if (hit.n >= 2) {
    await seeker.reachMark({ ...hit, n: hit.n - 1 });
    await timeline.checkpointHere();
    await seeker.reachMark(hit);
    return hit;
  }
  await seeker.reachBase(hit.e, hit.base);
  if (await seeker.isBaseState(hit)) return hit;
  await traps.install([], NO_SLOTS);
  const slices = windowSliceTimes(dist).slice(0, COPIES_ON_THE_WAY);
  const run = await timeline.run({ action: 'continue' }, hit.e + 1, { target: targetOf(hit), silent: [hit.pc], slices, spreadSlices: true });
  seeker.checkInterrupt();
  if (run.stop.kind !== 'stopped' || run.stop.reason !== 'target') throw new NotRetraced(`cannot reach ${hit.n ? `arrival ${hit.n}` : 'the hit'} at 0x${hit.pc.toString(16)} again`);
  const keep = run.slices.slice(-KEEP_BEFORE_HIT);
  for (const c of run.slices) if (!keep.includes(c)) timeline.store.release(c);
  const pos = timeline.afterSlices({ kind: 'mark', mark: hit }, keep, Infinity);
  timeline.here = pos;
  return pos.kind === 'mark' ? pos.mark : hit;
}
