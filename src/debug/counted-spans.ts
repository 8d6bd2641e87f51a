// Reverse-continue windows over several intervals, counted in the process
// (docs/timeline.md, "Counting across events"): a window that crosses events
// trapped every breakpoint hit on the way, so a search back over a loop of buffered
// reads with a hot function between them stopped tens of thousands of times (10 s
// for 37 reads and 2000 calls each). When the events it crosses cannot meet the
// counters' pages or the run's end (mapping events only where no counted site is:
// mapping-events.ts; breakpoints in memory they map are trapped; no asynchronous
// signal's point, no exec), the window is one counted run instead, the buffered calls served from
// the feed on the way (the run has no counting target until its end, so the feed
// stays on: addon/debugger_feed.cc). The counters say whether, and at which
// breakpoint, the last hit came, but not in which interval: chunks of the span
// are then counted from its end, each twice as long as the last, and the chunk
// that holds the hit in halves, down to one interval, whose count names the hit.
// One more run when the last interval holds it (a hot function), about
// 2·log2(intervals) at most, and only for the window that holds the answer.
import { inPreloadLibrary } from '../points/record-point.js';
import { countToEvent, countWindow } from './counted-runs.js';
import { intervalKind, spanEnd, spanRefusal } from './crossed-events.js';
import { processTids, sitesMappedBy } from './mapping-events.js';
import type { ReplayedProcess } from './forward.js';
import type { Mark } from './marks.js';
import type { Seeker, Start } from './seek.js';
import { traceRuns, type Timeline } from './timeline.js';
import { NO_SLOTS, type Traps } from './traps.js';

/** The last hit found in a span: named, or nothing; or the span could not be counted. */
export type SpanResult = { hit: Mark } | { none: true } | { refused: string };

export class SpanSearch {
  constructor(
    private readonly proc: ReplayedProcess,
    private readonly timeline: Timeline,
    private readonly seeker: Seeker,
    private readonly traps: Traps,
    /** breakpoints trapped, not counted: in memory an event of the span maps (mapping-events.ts) */
    private readonly trapOnly: bigint[] = [],
  ) {}

  /**
   * The last arrival at one of the breakpoints `sw` in [s, start of interval `to`),
   * s in an earlier interval, counted in the process. Refused (nothing decided) when
   * a breakpoint is at the first instruction of an interval in the span (its stub
   * would take the run's end for one of its arrivals), or in the syscall buffer's
   * library (the feed runs other code there than a replay that stops at each call).
   */
  async search(s: Start, to: number, sw: bigint[]): Promise<SpanResult> {
    // the library runs other code when it serves a call from the feed: counts in it would differ
    if (sw.some((pc) => inPreloadLibrary(this.proc.runningPid, pc))) return { refused: 'a breakpoint in the syscall buffer\'s library' };
    const first = await this.count(s, to, sw);
    if ('refused' in first || 'none' in first || 'hit' in first) return first;
    return this.latestIn(s, to, sw);
  }

  /**
   * One counted run over [s, start of `to`): nothing, a hit already named (one
   * interval, or a trapped breakpoint the tracer named), or `some` (counted
   * somewhere in the span, interval unknown).
   */
  private async count(s: Start, to: number, sw: bigint[]): Promise<SpanResult | { some: true }> {
    // A run stops at the first state of a 'start' interval; right after a thread's
    // death it does not (the switch to the interval's thread is not seen as one):
    // the span then runs until that death's event is replayed (crossed-events.ts).
    const how = spanEnd(this.proc.trace, to);
    if (!how) return { refused: `interval ${to} holds no user code for a span to end at` };
    const end: Mark | undefined = how.at === 'state' ? { e: to, base: 0, pc: await this.seeker.boundaryPc(to), n: 1, steps: 0 } : undefined;
    if (end && sw.includes(end.pc)) return { refused: 'a breakpoint at the first instruction of the span\'s end' };
    await this.seeker.reachStart(s);
    await this.traps.install([], NO_SLOTS);
    const arm = (pcs: bigint[]) => this.traps.install(pcs, NO_SLOTS);
    const counted = end ? await countWindow(this.proc, this.timeline, end, sw, arm, this.trapOnly) : await countToEvent(this.proc, this.timeline, to - 1, sw, arm, this.trapOnly);
    this.seeker.checkInterrupt();
    traceRuns(() => `counted span from ${s.cp ? `#${s.cp.id}` : `interval ${s.e}`} to interval ${to}: ${'refused' in counted ? counted.refused : counted.hit ? `last at 0x${counted.hit.pc.toString(16)}` : 'no hit'}`);
    if ('refused' in counted) return { refused: counted.refused };
    const hit = counted.hit;
    if (!hit) return { none: true };
    const base = s.cp && !s.cp.boundary ? s.cp.id : 0;
    if (hit.event !== undefined) return { hit: { e: hit.event, base: hit.event === s.e ? base : 0, pc: hit.pc, n: hit.n, steps: 0 } };
    // one interval, or one and then only intervals of threads parked in the kernel: the hit is in the first
    if (to === s.e + 1 || this.allEmpty(s.e + 1, to)) return { hit: { e: s.e, base, pc: hit.pc, n: hit.n, steps: 0 } };
    return { some: true };
  }

  /**
   * The latest hit in a span known to hold one. Chunks from the end, each twice as
   * long as the last (a hot function is usually hit in the last interval already),
   * then the chunk that holds it in halves, the later first, down to one interval.
   */
  private async latestIn(s: Start, to: number, sw: bigint[]): Promise<SpanResult> {
    let size = 1;
    while (to > s.e) {
      const lo = this.boundaryAtOrBefore(Math.max(s.e, to - size), s.e);
      const start: Start = lo === s.e ? s : { cp: undefined, e: lo };
      const chunk = await this.count(start, to, sw);
      if ('refused' in chunk || 'hit' in chunk) return chunk;
      if ('some' in chunk) return this.halves(start, to, sw);
      to = lo;
      size *= 2;
    }
    throw new Error(`a counted span lost its hit before interval ${to}`);
  }

  /** The latest interval start at or before e that a span may end at (crossed-events.ts), else `floor` (the span's own start). */
  private boundaryAtOrBefore(e: number, floor: number): number {
    while (e > floor && intervalKind(this.proc.trace, e) !== 'start') e--;
    return e;
  }

  /** An interval start strictly between lo and hi that a span may end at, the nearest to e; undefined: none. */
  private boundaryNear(e: number, lo: number, hi: number): number | undefined {
    for (let d = 0; e - d > lo || e + d < hi; d++) {
      if (e + d < hi && e + d > lo && intervalKind(this.proc.trace, e + d) === 'start') return e + d;
      if (e - d > lo && e - d < hi && intervalKind(this.proc.trace, e - d) === 'start') return e - d;
    }
    return undefined;
  }

  /**
   * The latest hit in [s, to) when no interval start between can end a run (each is
   * a thread's turn after a death, or holds no user code): each interval that may
   * hold user code, latest first, counted from its start to its own event.
   */
  private async eachToItsEvent(s: Start, to: number, sw: bigint[]): Promise<SpanResult> {
    for (let e = to - 1; e >= s.e; e--) {
      if (e > s.e && intervalKind(this.proc.trace, e) === 'empty') continue;
      const start: Start = e === s.e ? s : { cp: undefined, e };
      await this.seeker.reachStart(start);
      await this.traps.install([], NO_SLOTS);
      const counted = await countToEvent(this.proc, this.timeline, e, sw, (pcs) => this.traps.install(pcs, NO_SLOTS), this.trapOnly);
      this.seeker.checkInterrupt();
      if ('refused' in counted) return { refused: counted.refused };
      const hit = counted.hit;
      if (!hit) continue;
      const base = e === s.e && s.cp && !s.cp.boundary ? s.cp.id : 0;
      return { hit: { e: hit.event ?? e, base: (hit.event ?? e) === e ? base : 0, pc: hit.pc, n: hit.n, steps: 0 } };
    }
    return { refused: `no interval between ${s.e} and ${to} held the hit the span counted` };
  }

  /** Intervals from..to-1 hold no user code (crossed-events.ts). */
  private allEmpty(from: number, to: number): boolean {
    for (let e = from; e < to; e++) if (intervalKind(this.proc.trace, e) !== 'empty') return false;
    return true;
  }

  private async halves(s: Start, to: number, sw: bigint[]): Promise<SpanResult> {
    for (let guard = 0; guard < 64; guard++) {
      if (to === s.e + 1 || this.allEmpty(s.e + 1, to)) {
        const one = await this.count(s, to, sw);
        if ('refused' in one || 'hit' in one) return one;
        throw new Error(`a counted span lost its hit in interval ${s.e}`);
      }
      const mid = this.boundaryNear(s.e + Math.ceil((to - s.e) / 2), s.e, to);
      if (mid === undefined) return this.eachToItsEvent(s, to, sw);
      const later = await this.count({ cp: undefined, e: mid }, to, sw);
      if ('refused' in later || 'hit' in later) return later;
      if ('some' in later) s = { cp: undefined, e: mid };
      else to = mid; // none in the later half: it is in [s, mid)
    }
    return { refused: 'the span did not narrow to one interval' };
  }
}

/**
 * How the span [from, start of interval `to`) over breakpoints `sw` may be counted
 * (crossed-events.ts, mapping-events.ts): the breakpoints in memory its events map
 * are trapped (`trapOnly`), the others counted; refused (with the latest event that
 * refuses it) when an event cannot be crossed, or maps memory the run's end is in.
 */
export async function spanPlan(proc: ReplayedProcess, seeker: Seeker, from: number, to: number, sw: bigint[]): Promise<{ refusal?: { why: string; event: number }; trapOnly: bigint[] }> {
  const trace = proc.trace;
  const firstTid = proc.threads.firstTid;
  const trapOnly = sitesMappedBy(trace, from, to, processTids(trace, firstTid), sw);
  const refusal = spanRefusal(trace, from, to, firstTid, sw.filter((pc) => !trapOnly.includes(pc)));
  if (refusal || spanEnd(trace, to)?.at !== 'state') return { refusal, trapOnly };
  // the run's end is a target the run must arrive at: not in memory a crossed event maps
  return { refusal: spanRefusal(trace, from, to, firstTid, [await seeker.boundaryPc(to)]), trapOnly };
}

/**
 * The latest hit in [s, start of interval `to`) over breakpoints `sw`, counted
 * across the events between (spanPlan). When one event refuses the span (ld.so
 * mapping libc over its end, at the process's start), the part after it is counted
 * on its own: a hit there is the answer, and `noneFrom` says that [s, start of
 * interval noneFrom) is what is left, for a trapped window.
 */
export async function searchSpan(proc: ReplayedProcess, timeline: Timeline, seeker: Seeker, traps: Traps, s: Start, to: number, sw: bigint[]): Promise<SpanResult | { noneFrom: number }> {
  const { refusal, trapOnly } = await spanPlan(proc, seeker, s.e, to, sw);
  const hex = (pcs: bigint[]) => pcs.map((pc) => `0x${pc.toString(16)}`).join(', ');
  traceRuns(() => `span from interval ${s.e} to ${to}: ${refusal?.why ?? 'countable'}${trapOnly.length ? `, trapping ${hex(trapOnly)}` : ''}`);
  if (!refusal) return new SpanSearch(proc, timeline, seeker, traps, trapOnly).search(s, to, sw);
  // The part after the refusing event starts at the first interval a run stops at
  // the start of: right after a thread's clone event comes the parent's return from
  // its call, where it stood in the kernel (an 'empty' interval). The intervals
  // between go with the trapped part, which ends at that start.
  let after = refusal.event + 1;
  for (;;) {
    while (after < to && spanEnd(proc.trace, after)?.at !== 'state') after++;
    if (after <= s.e || after >= to) return { refused: refusal.why };
    const later = await spanPlan(proc, seeker, after, to, sw);
    if (!later.refusal) {
      const found = await new SpanSearch(proc, timeline, seeker, traps, later.trapOnly).search({ cp: undefined, e: after }, to, sw);
      return 'none' in found ? { noneFrom: after } : found;
    }
    after = later.refusal.event + 1;
  }
}
