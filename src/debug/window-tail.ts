// The tail of a reverse-continue window that crosses events (docs/timeline.md,
// "reverse-continue"): a window [s, to) whose start s lies in an earlier interval
// than `to` used to run in one piece with gdb's breakpoints trapped, so every hit in
// to's interval before `to` was a stop; when that interval is a hot loop (the
// stretch before an asynchronous signal's point, say, with a breakpoint in the
// function the loop calls) that was hundreds of thousands of traps, seconds to
// minutes. The window is searched in two parts instead, latest first: its tail,
// from the start of to's interval to `to`, counted in the process (counted-runs.ts:
// one run at native speed, however often the breakpoints are hit), then the rest,
// from s to the start of to's interval, with the traps as before (its end, the first
// state of an interval, costs no trap per arrival).
import { countWindow } from './counted-runs.js';
import type { ReplayedProcess } from './forward.js';
import { rename, type Mark } from './marks.js';
import type { Seeker } from './seek.js';
import type { Timeline } from './timeline.js';
import { NO_SLOTS, type Traps } from './traps.js';

/** What the tail's search found: a hit, nothing (the rest of the window is searched up to `rest`), or it could not be counted. */
export type TailResult = { hit: Mark } | { rest: Mark } | { refused: string };

/**
 * Searches [start of to.e, to) for the last arrival at one of the breakpoints `sw`,
 * counted in the process. `to` must be in a later interval than the window's start
 * and not the first state of its interval (the tail is then empty: nothing to do).
 * The process is left anywhere; the caller brings it to the window's start.
 */
export async function searchCountedTail(proc: ReplayedProcess, timeline: Timeline, seeker: Seeker, traps: Traps, to: Mark, sw: bigint[]): Promise<TailResult> {
  const boundary: Mark = { e: to.e, base: 0, pc: await seeker.boundaryPc(to.e), n: 1, steps: 0 };
  // `to` named from its interval's start (a name relative to a copy is renamed by
  // the copy's counts; a fingerprint names it from any earlier base)
  const target = rename(to, 0, (id) => timeline.store.get(id));
  if (!target) return { refused: 'the end cannot be named from its interval\'s start' };
  await seeker.reachStart({ cp: undefined, e: to.e });
  await traps.install([], NO_SLOTS);
  const counted = await countWindow(proc, timeline, target, sw, (pcs) => traps.install(pcs, NO_SLOTS));
  seeker.checkInterrupt();
  if ('refused' in counted) return counted;
  if (counted.hit) return { hit: { e: to.e, base: 0, pc: counted.hit.pc, n: counted.hit.n, steps: 0 } };
  return { rest: boundary };
}
