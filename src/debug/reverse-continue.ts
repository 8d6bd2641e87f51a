// reverse-continue (`bc`, docs/timeline.md): the last trap (gdb's breakpoints and
// watchpoints) hit before now. Every search is a window that ends at now, run
// forward in search mode from a start before it; the last hit of the first window
// that has one wins; for breakpoints, a window ends where the last one started.
// Narrowing runs first leave copies ever closer to now, so that the first windows
// are short; a window over breakpoints alone is instead counted in the process
// (counted-runs.ts), at native speed however often they are hit, and one across
// events is counted in parts: its tail in the last interval (window-tail.ts), the
// rest across events that map nothing (counted-spans.ts, crossed-events.ts).
import { isRepString } from '../arch/rep-string.js';
import { native } from '../native/addon.js';
import { decodeEvent } from '../history/events.js';
import { COUNT_IN_PROCESS_FROM, countWindow, searchToCountedEnd } from './counted-runs.js';
import type { ReplayedProcess } from './forward.js';
import { describeMark, rename, type Mark } from './marks.js';
import type { ReverseStepper } from './reverse-step.js';
import { firstNarrowingSchedule, INITIAL_NARROWING, nextNarrowing, planWindows, windowSliceTimes, type Candidate } from './search-plans.js';
import { NotRetraced, targetOf, type Seeker, type Start } from './seek.js';
import type { StopEvent } from './target.js';
import { traceRuns, type Pos, type Timeline, type TimelineRun } from './timeline.js';
import { reachCountedHit } from './counted-hit.js';
import { searchCountedTail } from './window-tail.js';
import { searchSpan } from './counted-spans.js';
import { intervalKind, latestPoint, onlyHandlersSincePoint, spanEnd } from './crossed-events.js';
import { NO_SLOTS, type SlotSet, type Traps } from './traps.js';
import type { Checkpoint } from './marks.js';

/** what gdb is told when the watched memory was written part way through a rep-string instruction */
const REP_STRING_WRITE = 'cannot go back to this write: a rep-string instruction (rep stos or rep movs: a memset or memcpy of a block) '
  + 'wrote the watched memory part way through its iterations, and going back one iteration is not supported yet; '
  + 'a breakpoint before the call, then `continue` forwards with the watchpoint, stops right after the write';

/** A stop found by a reverse search. */
interface Found {
  pos: Pos;
  reason: 'swbreak' | 'hwbreak' | 'watch';
  slot: number;
  /** found by a counted window, which left no copies on the way */
  counted?: boolean;
  /** the counted window's length in run time (ns), when known */
  dist?: number;
}

/**
 * REWIND_WINDOWS=widest: after the first window, the next starts at the oldest start,
 * a plan that a loaded machine can make too (windows are chosen by the run time they
 * cover, which load stretches unevenly). The answer must not change; the tests use it
 * to search long windows, across threads' creations and deaths, without timing.
 */
const WIDEST_WINDOWS = process.env.REWIND_WINDOWS === 'widest';

/** narrowing stops at end by counting arrivals at its pc: not when that pc is this hot */
const HOT_ARRIVALS = 4096;
/** a window search keeps this many of the copies it left before the hit */
const KEEP_BEFORE_HIT = 8;

export class ReverseSearch {
  constructor(
    private readonly proc: ReplayedProcess,
    private readonly timeline: Timeline,
    private readonly seeker: Seeker,
    private readonly traps: Traps,
    private readonly stepper: ReverseStepper,
  ) {}

  /** The last stop of these traps before `now`, reached; or the start of the history. */
  async run(now: Mark, sw: bigint[], slots: SlotSet): Promise<StopEvent> {
    const endT = this.proc.curT;
    let end = now;
    if (end.steps > 0) {
      const found = await this.searchSteps(end, sw, slots);
      if (found) return this.stopAt(found);
      end = { ...end, steps: 0 };
    }
    // the process stands at end's arrival: its fingerprint names it from any earlier base
    if (!end.fp) end = { ...end, fp: await native().fingerprint(this.proc.runningPid) };
    const starts = await this.startsBefore(end);
    traceRuns(() => `reverse-continue to ${describeMark(end)}: ${starts.length} starts`);
    let windows: Start[] = [];
    if (starts.length) {
      // Narrowing makes the first windows short where each hit traps; a search
      // counted in the process (breakpoints only, in one interval) costs the
      // window's run time whatever the hits, so it starts from the closest start
      const counted = sw.length > 0 && slots.every((x) => !x) && starts[0].e === end.e;
      const anchors = end.n > HOT_ARRIVALS || counted || onlyHandlersSincePoint(this.proc.trace, starts[0].e, end.e) ? [] : await this.narrow(starts[0], end);
      const known: Candidate<Start>[] = starts.map((x) => ({ start: x, dist: x.cp ? endT - x.cp.t : this.distanceOfInterval(x.e, end.e, endT) }));
      windows = planWindows(anchors.map((a) => ({ start: { cp: a.cp, e: a.cp.mark.e } as Start, dist: a.dist })), known);
      if (WIDEST_WINDOWS && windows.length > 2) windows = [windows[0], windows[windows.length - 1]];
    }
    traceRuns(() => `windows from ${windows.map((w) => (w.cp ? `#${w.cp.id} (${((endT - w.cp.t) / 1e6).toFixed(3)} ms)` : `interval ${w.e}`)).join(', ')}`);
    const minE = Math.min(end.e, ...windows.map((w) => w.e));
    const crossed = latestPoint(this.proc.trace, minE, end.e);
    // Now in the stretch before an asynchronous signal's point: once the window from
    // the stretch's start has nothing, an earlier window ends at that start (its
    // arrivals at now's pc, maybe millions in a loop, are not counted one by one).
    const inStretch = end.e < this.proc.trace.eventCount && decodeEvent(this.proc.trace.record(end.e)).kind === 'async-point';
    let stretchStartSearched = false;
    const startsSearched = new Set<number>();
    // Once a window [s, to) had no hit, the next one need only run up to s: the
    // search then runs the distance back once, not the sum of ever longer windows
    // (each about twice the last). Only for traps hit on arrival (breakpoints): a
    // watchpoint triggers after its instruction, so a write just before s would
    // trap at s, which neither run would then report.
    const arrivalsOnly = slots.every((x) => !x || x.type === 0);
    let covered: Mark | undefined; // the start of the stretch searched, up to `end`
    for (const s of windows) {
      if (s.cp && !s.cp.pid) continue; // dropped meanwhile: a wider window covers it
      if (crossed !== undefined && s.e <= crossed) {
        // This window would cross an asynchronous signal's point: the search goes on
        // in three parts instead, latest first: from the interval after the point to
        // now, the stretch before the point (searchStretch), and before the stretch
        // (a search that ends at the stretch's first state). No window runs a stretch
        // with its hits trapped one by one, nor counts millions of arrivals at now's pc.
        if (!startsSearched.has(crossed + 1)) {
          const found = await this.searchWindow({ cp: undefined, e: crossed + 1 }, end, sw, slots, Infinity, undefined, startsSearched.has(end.e));
          if (found) return this.stopAt(found);
        }
        const found = await this.searchStretch(crossed, sw, slots);
        if (found) return this.stopAt(found);
        const before: Mark = { e: crossed, base: 0, pc: await this.seeker.boundaryPc(crossed), n: 1, steps: 0 };
        await this.seeker.reachMark(before);
        traceRuns(() => `reverse-continue: on before the stretch of event ${crossed}`);
        return this.run(before, sw, slots);
      }
      let to = inStretch && stretchStartSearched && s.e < end.e
        ? { e: end.e, base: 0, pc: await this.seeker.boundaryPc(end.e), n: 1, steps: 0 }
        : end;
      let wider: Mark | undefined;
      if (arrivalsOnly && covered && this.endFrom(covered, s)) [to, wider] = [covered, to];
      const found = await this.searchWindow(s, to, sw, slots, s.cp ? endT - s.cp.t : Infinity, wider, startsSearched.has(to.e));
      if (!s.cp || s.cp.boundary) startsSearched.add(s.e);
      if (s.e === end.e && (!s.cp || s.cp.boundary)) stretchStartSearched = true;
      if (found) return this.stopAt(found);
      covered = await this.coveredFrom(s, to);
    }
    await this.timeline.switchTo(this.timeline.store.root!);
    return { kind: 'stopped', signal: 5, reason: 'begin' };
  }

  /**
   * Where the next window may end once [s, to) had no hit: s itself. Not the first
   * state of an interval whose thread stands in the kernel all along (a thread's turn
   * at its call's return, crossed-events.ts): a run does not stop there; the first
   * interval start after it that a run stops at instead, which is also searched
   * (the intervals between hold no user code). Undefined: none.
   */
  private async coveredFrom(s: Start, to: Mark): Promise<Mark | undefined> {
    // a copy in the middle of a `rep stos` (a memset) is a state no run arrives at again
    if (s.cp && !s.cp.boundary) return s.cp.mark.steps === 0 && !(await this.atRepString(s.cp.mark.pc)) ? s.cp.mark : undefined;
    let e = s.e;
    while (e <= to.e && intervalKind(this.proc.trace, e) !== 'start') e++;
    if (e > to.e) return undefined;
    if (e === s.e && s.cp) return s.cp.mark;
    return { e, base: 0, pc: await this.seeker.boundaryPc(e), n: 1, steps: 0 };
  }

  /** The instruction at pc is a rep-prefixed string instruction (or its bytes cannot be read: no end is made of it either). */
  private async atRepString(pc: bigint): Promise<boolean> {
    const code = await this.proc.tracee.readMemory(pc, 15).catch(() => Buffer.alloc(0));
    return code.length === 0 || isRepString(code);
  }

  /**
   * Nothing since the asynchronous signal's point of event e (the first state of
   * now's interval, and the last of the stretch before it): the stretch is searched
   * on its own, in windows that end at the point, counted in the process when they
   * can be. A window that crosses the point then has no hit after it, and runs through
   * the stretch at native speed (the filter finds the point, addon/debugger_point.cc).
   */
  private async searchStretch(e: number, sw: bigint[], slots: SlotSet): Promise<Found | undefined> {
    let point = await this.stepper.pointOfInterval(e);
    traceRuns(() => `reverse-continue: the stretch before the point, ${describeMark(point)}`);
    // a breakpoint at the point's pc: the point itself is the latest hit, named by its
    // count in the stretch (a run resumed there judges it first: addon/debugger_point.cc)
    if (sw.includes(point.pc) || slots.some((x) => x?.type === 0 && x.addr === point.pc)) {
      return { pos: { kind: 'mark', mark: point }, reason: sw.includes(point.pc) ? 'swbreak' : 'hwbreak', slot: sw.includes(point.pc) ? -1 : this.traps.slotAt(point.pc) };
    }
    point = { ...point, fp: await native().fingerprint(this.proc.runningPid) };
    const endT = this.proc.curT;
    // only starts the point is counted from (a stop's checkpoint may only name it by
    // its fingerprint: a trap per arrival at a hot pc); the interval's start always is
    for (const s of (await this.startsBefore(point)).filter((x) => x.e === e && (this.endFrom(point, x)?.n ?? 0) > 0)) {
      const found = await this.searchWindow(s, point, sw, slots, s.cp ? endT - s.cp.t : Infinity);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * The steps after end's arrival: each landing on a trap is a stop, and a data
   * trigger makes the step before it one; the latest wins. One native run (search
   * mode) over all but the last step, then the last step (there only a data trigger
   * counts: landing on a breakpoint is end itself). The process is left at the arrival.
   */
  private async searchSteps(end: Mark, sw: bigint[], slots: SlotSet): Promise<Found | undefined> {
    const tl = this.timeline;
    const arrival = { ...end, steps: 0 };
    await this.seeker.reachMark(arrival);
    await this.traps.install(sw, slots);
    let found: Found | undefined;
    if (end.steps > 1) {
      const run = await tl.run({ action: 'step' }, end.e + 1, { steps: end.steps - 1, search: true });
      this.seeker.checkInterrupt();
      if (run.stop.kind !== 'stopped' || run.stop.reason !== 'step') throw new NotRetraced(`cannot replay the steps after ${describeMark(arrival)}`);
      tl.here = { kind: 'mark', mark: { ...end, steps: end.steps - 1 } };
      const hit = run.lastHit;
      if (hit) {
        found = hit.reason === 'watch'
          ? { pos: { kind: 'mark', mark: { ...end, steps: hit.steps - 1 } }, reason: 'watch', slot: hit.slot }
          : { pos: { kind: 'mark', mark: { ...end, steps: hit.steps } }, reason: sw.includes(hit.pc) ? 'swbreak' : hit.reason, slot: -1 };
      }
    }
    const last = await tl.run({ action: 'step' }, end.e + 1, { steps: 1 });
    tl.here = { kind: 'mark', mark: end };
    this.seeker.checkInterrupt();
    const stop = last.stop;
    if (stop.kind === 'stopped' && stop.watch) {
      found = { pos: { kind: 'mark', mark: { ...end, steps: end.steps - 1 } }, reason: 'watch', slot: this.traps.slotAt(stop.watch.addr) };
    }
    if (!found && (sw.includes(end.pc) || slots.some((x) => x?.type === 0 && x.addr === end.pc))) {
      // no trap after the arrival: the arrival itself, when it is at a breakpoint
      found = { pos: { kind: 'mark', mark: arrival }, reason: sw.includes(end.pc) ? 'swbreak' : 'hwbreak', slot: -1 };
    }
    await this.seeker.reachMark(arrival);
    return found;
  }

  /**
   * Where windows that end at `end` can start, latest first, down to the start of
   * the replay: end's base and the bases below it, the copies their runs left
   * before them, and the latest checkpoints before each interval start passed.
   */
  private async startsBefore(end: Mark): Promise<Start[]> {
    const tl = this.timeline;
    const out: Start[] = [];
    const seen = new Set<number>();
    const push = (x: Start) => {
      const key = x.cp ? x.cp.id : -x.e;
      if (seen.has(key)) return;
      seen.add(key);
      if (!x.cp || x.cp.pid) out.push(x);
    };
    let m = end;
    for (let guard = 0; guard < 100000; guard++) {
      const here = await this.seeker.isBaseState(m);
      if (m.base) {
        const c = tl.store.get(m.base)!;
        if (!here) push({ cp: c, e: m.e });
        for (const x of tl.earlierSiblings(c)) push({ cp: x, e: x.mark.e });
        m = c.mark;
        continue;
      }
      if (!here) push({ cp: undefined, e: m.e });
      if (m.e <= 1) break;
      const c = tl.latestBefore(m.e, true);
      push({ cp: c, e: c.mark.e });
      if (c === tl.store.root) break;
      for (const x of tl.earlierSiblings(c)) push({ cp: x, e: x.mark.e });
      m = c.mark;
    }
    return out;
  }

  /**
   * How far back the start of interval e is from the end (interval endE, run time
   * endT), estimated: no checkpoint there says. Its time is taken on the line from
   * the latest checkpoint before it to the end, by event count. Windows are chosen
   * by these distances (planWindows): with no estimate, every interval start back
   * to a checkpoint was a window of its own (a search back over 126 buffered calls
   * was 126 windows, each a seek from the checkpoint).
   */
  private distanceOfInterval(e: number, endE: number, endT: number): number {
    const c = this.timeline.latestBefore(e, true);
    const span = Math.max(1, endE - c.mark.e);
    const t = c.t + ((endT - c.t) * (e - c.mark.e)) / span;
    return Math.max(endE - e, endT - t); // at least a nanosecond per event back
  }

  /** m is the first state of its interval. */
  private async isIntervalStart(m: Mark): Promise<boolean> {
    const base = m.base ? this.timeline.store.get(m.base) : undefined;
    return m.steps === 0 && m.n === 1 && (!base || base.boundary) && m.pc === (await this.seeker.boundaryPc(m.e));
  }

  /** end named relative to the start of a window (undefined: it cannot be named from there). */
  private endFrom(end: Mark, s: Start): Mark | undefined {
    const get = (id: number) => this.timeline.store.get(id);
    if (s.e !== end.e) return rename(end, 0, get);
    return rename(end, s.cp && !s.cp.boundary ? s.cp : 0, get);
  }

  /**
   * The last trap hit in the window [s, end), or undefined. `wider`: an end after
   * `end` with no hit between them, which the window runs to instead when `end` could
   * only be found by a trap per arrival at its pc (a copy's state in a hot loop).
   * `tailSearched`: a window from the start of end's interval was searched already
   * (its tail needs no counted run of its own).
   */
  private async searchWindow(s: Start, end: Mark, sw: bigint[], slots: SlotSet, dist: number, wider?: Mark, tailSearched = false): Promise<Found | undefined> {
    const tl = this.timeline;
    if (s.cp && !s.cp.pid) return undefined; // dropped meanwhile: a wider window covers it
    // breakpoints only: counted in the process (the tail, the span), else a trap per hit
    const breakpointsOnly = sw.length > 0 && slots.every((x) => !x);
    const endAtStart = await this.isIntervalStart(end);
    // the interval whose start the rest of the window ends at, once its tail was searched
    let restTo: number | undefined;
    if (s.e < end.e && !tailSearched && breakpointsOnly && !endAtStart) {
      // across events: the tail in end's interval counted first (window-tail.ts), then the rest up to its start
      const tail = await searchCountedTail(this.proc, tl, this.seeker, this.traps, end, sw);
      traceRuns(() => `window tail in interval ${end.e}: ${'hit' in tail ? describeMark(tail.hit) : 'rest' in tail ? 'no hit' : tail.refused}`);
      if ('hit' in tail) return { pos: { kind: 'mark', mark: tail.hit }, reason: 'swbreak', slot: -1, counted: true };
      if ('rest' in tail) restTo = end.e;
    } else if (s.e < end.e && tailSearched && breakpointsOnly && spanEnd(this.proc.trace, end.e) && !endAtStart) {
      // the tail was searched by the window from its interval's start: the rest ends there (else: a trap per hit)
      restTo = end.e;
    }
    // A run stops at the first state of a 'start' interval, so the rest is a window
    // of its own, up to it. Right after a thread's death it does not: the span is then
    // counted up to that death's event (crossed-events.ts, spanEnd), and should it be
    // refused, the trapped run below still goes to `end`, a state runs do stop at.
    if (restTo !== undefined && spanEnd(this.proc.trace, restTo)?.at === 'state') {
      [end, wider] = [{ e: restTo, base: 0, pc: await this.seeker.boundaryPc(restTo), n: 1, steps: 0 }, undefined];
    }
    // (end is still the window's own end when restTo is undefined)
    const spanTo = restTo ?? (endAtStart ? end.e : undefined);
    if (spanTo !== undefined && s.e < spanTo && breakpointsOnly) {
      // up to an interval's start, across events that meet no patched site and not the run's end, counted too (counted-spans.ts)
      const span = await searchSpan(this.proc, tl, this.seeker, this.traps, s, spanTo, sw);
      if ('hit' in span) return { pos: { kind: 'mark', mark: span.hit }, reason: 'swbreak', slot: -1, counted: true };
      if ('none' in span) return undefined;
      // nothing after the event that refused the span: only the part up to it traps each hit
      if ('noneFrom' in span) return this.searchWindow(s, { e: span.noneFrom, base: 0, pc: await this.seeker.boundaryPc(span.noneFrom), n: 1, steps: 0 }, sw, slots, dist);
    }
    const target = this.endFrom(end, s);
    if (!target) throw new Error(`cannot name ${describeMark(end)} from an earlier checkpoint`);
    if (s.cp && tl.isAt(s.cp, end)) return undefined; // the copy stands at end
    await this.seeker.reachStart(s);
    if (s.e === end.e && breakpointsOnly) {
      // breakpoints only, within one interval: one run that counts their hits in the process
      await this.traps.install([], NO_SLOTS);
      const counted = await countWindow(this.proc, tl, target, sw, (pcs) => this.traps.install(pcs, NO_SLOTS));
      this.seeker.checkInterrupt();
      if (!('refused' in counted)) {
        if (!counted.hit) return undefined;
        const base = s.cp && !s.cp.boundary ? s.cp.id : 0;
        return { pos: { kind: 'mark', mark: { e: end.e, base, pc: counted.hit.pc, n: counted.hit.n, steps: 0 } }, reason: 'swbreak', slot: -1, counted: true, dist };
      }
      if (counted.moved) await this.seeker.reachStart(s); // stepped on the way: the trapped run starts where the window does
    }
    await this.traps.install(sw, slots);
    let run: TimelineRun | undefined;
    if (s.e === end.e && (target.n >= COUNT_IN_PROCESS_FROM || !target.n) && !sw.includes(target.pc)) {
      // the end's pc is hot (or, named by a fingerprint, may be: a trap per arrival
      // there cost minutes): its arrivals are counted in the process, gdb's traps trap
      const counted = await searchToCountedEnd(this.proc, tl, target, sw);
      this.seeker.checkInterrupt();
      run = counted.run;
      if (!run && counted.ran) {
        await this.seeker.reachStart(s);
        await this.traps.install(sw, slots);
      }
      if (!run && wider) return this.searchWindow(s, wider, sw, slots, dist);
    }
    run ??= await tl.run({ action: 'continue' }, end.e + 1, {
      // copies on the way, for what comes next (a reverse-stepi close to the hit)
      search: true, startCandidate: true, target: targetOf(target), silent: [target.pc], slices: windowSliceTimes(dist), spreadSlices: true,
    });
    this.seeker.checkInterrupt();
    if (run.stop.kind !== 'stopped' || run.stop.reason !== 'target') throw new NotRetraced(`lost the way back (${run.stop.kind === 'stopped' ? run.stop.reason : run.stop.kind})`);
    const hit = run.lastHit;
    // keep the copies just before the last hit (or the end), drop the rest
    const seqAt = hit ? hit.seq : Infinity;
    const before = run.slices.filter((c) => (c.slice?.seq ?? Infinity) < seqAt).slice(-KEEP_BEFORE_HIT);
    for (const c of run.slices) if (!before.includes(c)) tl.store.release(c);
    if (!hit) return undefined;
    const base = hit.event === s.e && s.cp && !s.cp.boundary ? s.cp.id : 0;
    const pos: Pos = hit.reason === 'watch'
      ? { kind: 'watch', e: hit.event, base, k: hit.watch, slots, pc: hit.pc }
      : { kind: 'mark', mark: { e: hit.event, base, pc: hit.pc, n: hit.n, steps: 0 } };
    return { pos: tl.afterSlices(pos, run.slices, hit.seq), reason: hit.reason, slot: hit.slot };
  }

  /**
   * Copies between start and end, ever closer to end (search-plans.ts): returns
   * them in order with their distance to end (ns).
   */
  private async narrow(start: Start, end: Mark): Promise<{ cp: Checkpoint; dist: number }[]> {
    const tl = this.timeline;
    const out: { cp: Checkpoint; dist: number }[] = [];
    let from = start;
    let schedule: number[] | undefined = firstNarrowingSchedule();
    let state = INITIAL_NARROWING;
    for (let level = 0; level < 12 && schedule; level++) {
      if (from.cp && !from.cp.pid) break;
      const target = this.endFrom(end, from);
      if (!target) break;
      await this.seeker.reachStart(from);
      await this.traps.install([], NO_SLOTS);
      const run = await tl.run({ action: 'continue' }, end.e + 1, { search: true, target: targetOf(target), silent: [target.pc], slices: schedule });
      this.seeker.checkInterrupt();
      if (run.stop.kind !== 'stopped' || run.stop.reason !== 'target') throw new NotRetraced(`lost the way back (${run.stop.kind === 'stopped' ? run.stop.reason : run.stop.kind})`);
      const total = run.position?.ranNs ?? 0;
      const made = run.slices.filter((c) => !tl.isAt(c, end)).map((c) => ({ cp: c, dist: Math.max(0, total - (c.slice?.ran ?? 0)) }));
      out.push(...made);
      traceRuns(() => `narrowing level ${level}: ${(total / 1e6).toFixed(3)} ms to the end, copies at ${made.map((c) => (c.dist / 1e6).toFixed(3)).join(', ')} ms before it`);
      const step = nextNarrowing(state, total, made.map((c) => c.dist));
      if (step.fromClosest) {
        const closest = made[made.length - 1].cp;
        from = { cp: closest, e: closest.mark.e };
      }
      state = step.state;
      schedule = step.schedule;
    }
    return out;
  }

  /** Goes to a stop found by a search and says why gdb stops there. */
  private async stopAt(found: Found): Promise<StopEvent> {
    const { pos: p, reason, slot } = found;
    if (reason !== 'watch') {
      if (found.counted && p.kind === 'mark') await reachCountedHit(this.proc, this.timeline, this.seeker, this.traps, p.mark, found.dist ?? Infinity);
      else await this.seeker.reach(p);
      return { kind: 'stopped', signal: 5, reason };
    }
    const watch = this.traps.watchOf(slot);
    let writer: Mark | 'begin';
    if (p.kind === 'mark') writer = p.mark; // found while stepping: already the writing instruction
    else {
      // the trap comes after the writing instruction: one instruction back
      const at = await this.seeker.reach(p, [p.pc]);
      const after: Mark = { e: this.proc.next, base: p.base, pc: at?.at ?? p.pc, n: at?.n ?? 0, steps: 0 };
      // The trigger came part way through a rep-string instruction (its pc is the
      // instruction's): one instruction back is one of its iterations, which single
      // steps from its start would reach only after as many steps as iterations (a
      // memset of 64 MiB: millions, hours), and arrivals at its pc do not name. Said,
      // not hung (docs/timeline.md, "Copies inside a rep-string instruction").
      if (await this.atRepString(after.pc)) {
        throw new NotRetraced(`watchpoint trigger inside the rep-string instruction at 0x${after.pc.toString(16)}`, REP_STRING_WRITE);
      }
      writer = await this.stepper.predecessor(after);
    }
    if (writer === 'begin') return { kind: 'stopped', signal: 5, reason: 'begin' };
    await this.seeker.reachMark(writer);
    return { kind: 'stopped', signal: 5, watch };
  }
}
