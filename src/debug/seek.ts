// Reaching a point of the timeline again (docs/timeline.md, "Reaching a mark"):
// fork the checkpoint that stands there or the nearest one before it with the same
// base and pc, else go to the base and run with a native target to the arrival,
// then single-step the remaining steps natively.
import { getReg } from '../arch/registers.js';
import { native, TargetKind, type RunTarget } from '../native/addon.js';
import type { RunPosition } from '../native/stop-report.js';
import { COUNT_IN_PROCESS_FROM, reachWatchCounted, runToArrivalCounted } from './counted-runs.js';
import type { ReplayedProcess } from './forward.js';
import { lower, sameMark, type Checkpoint, type Mark } from './marks.js';
import { copyDebugged } from './process-copy.js';
import type { Pos, Timeline } from './timeline.js';
import { NO_SLOTS, type Traps } from './traps.js';

/** Where a window of a reverse search starts: a checkpoint, or the start of interval e. */
export type Start = { cp: Checkpoint; e: number } | { cp: undefined; e: number };

/** Thrown when the user interrupts a command (^C); the command goes back to where it started. */
export class Interrupted extends Error {}

/**
 * Thrown when a run from an earlier state does not come back to a point the replay
 * passed: the replay did not retrace its steps. Replays retrace them unless gdb's
 * breakpoints change what the program does (an int3 inside an instruction or in
 * data it reads); a reverse command then goes back to where it started and says so.
 * `forGdb`: what gdb is told, when the cause is known (else the common one).
 */
export class NotRetraced extends Error {
  constructor(message: string, readonly forGdb?: string) {
    super(message);
  }
}

/** The native target that stops at m's arrival, m named relative to the run's base. */
export function targetOf(m: Mark): RunTarget {
  return m.n ? { kind: TargetKind.arrival, event: m.e, pc: m.pc, n: m.n } : { kind: TargetKind.fingerprint, event: m.e, pc: m.pc, fp: m.fp! };
}

export class Seeker {
  constructor(private readonly proc: ReplayedProcess, private readonly timeline: Timeline, private readonly traps: Traps) {}

  /** Throws Interrupted when the user asked the command to stop. */
  checkInterrupt(): void {
    if (this.proc.interruptRequested) {
      this.proc.interruptRequested = false;
      throw new Interrupted();
    }
  }

  /** The start of interval e: its pc (replaying there once if needed). */
  async boundaryPc(e: number): Promise<bigint> {
    const known = this.timeline.boundaryPcs.get(e);
    if (known !== undefined) return known;
    await this.reachBoundary(e);
    return this.timeline.boundaryPcs.get(e)!;
  }

  private async reachBoundary(e: number): Promise<void> {
    const tl = this.timeline;
    await tl.switchTo(tl.latestBefore(e));
    if (this.proc.next < e) {
      await this.traps.install([], NO_SLOTS);
      const run = await tl.run({ action: 'continue' }, e);
      this.checkInterrupt();
      if (run.stop.kind !== 'stopped' || this.proc.next !== e) throw new NotRetraced(`cannot replay to event ${e}`);
      const pc = getReg(await native().getRegs(this.proc.runningPid), 'rip');
      tl.boundaryPcs.set(e, pc);
      tl.here = { kind: 'mark', mark: { e, base: 0, pc, n: 1, steps: 0 } };
      await tl.checkpointHere();
    }
  }

  /** Brings the process to the start of a window; counting starts there. */
  async reachStart(s: Start): Promise<void> {
    if (!s.cp) return this.reachBoundary(s.e);
    if (s.cp.pid) return this.timeline.switchTo(s.cp);
    // a dropped copy: reach its state by its name, count from there, keep a copy again
    const cp = s.cp;
    await this.reachMark(cp.mark);
    await this.proc.debugger.setPosition(cp.mark.e, true, cp.mark.pc, 1);
    this.proc.countBase = { e: cp.mark.e, base: cp.boundary ? 0 : cp.id };
    const copy = await copyDebugged(this.proc.debugger, this.proc.threads.made);
    if (copy) this.timeline.store.revive(cp, copy);
  }

  reachBase(e: number, base: number): Promise<void> {
    return this.reachStart(base ? { cp: this.timeline.store.get(base)!, e } : { cp: undefined, e });
  }

  /** m renamed, through its bases, relative to one whose copy still exists (when counts allow). */
  private liveName(m: Mark): Mark {
    for (;;) {
      const c = m.base ? this.timeline.store.get(m.base) : undefined;
      if (!c || c.pid) return m;
      const l = lower(m, c);
      if (!l || l.fp) return m; // a fingerprint is cheaper to look for from the closer base
      m = l;
    }
  }

  /** The pc of m's base state. */
  async basePc(m: Mark): Promise<bigint> {
    return m.base ? this.timeline.store.get(m.base)!.mark.pc : this.boundaryPc(m.e);
  }

  /** m is the state its base stands at. */
  async isBaseState(m: Mark): Promise<boolean> {
    return m.steps === 0 && m.n === 1 && m.pc === (await this.basePc(m));
  }

  /** Runs from the current state (m's base, or later) to m's arrival. */
  private async runToArrival(m: Mark, counters: bigint[]): Promise<void> {
    if (m.n === 0 && getReg(await native().getRegs(this.proc.runningPid), 'rip') === m.pc && (await native().fingerprint(this.proc.runningPid)).equals(m.fp!)) return;
    // a hot pc: counted in the process, not trapped n times (from the base, in its interval)
    if (!counters.length && m.n >= COUNT_IN_PROCESS_FROM && this.proc.next === m.e && (await runToArrivalCounted(this.proc, this.timeline, m))) {
      this.checkInterrupt();
      return;
    }
    const run = await this.timeline.run({ action: 'continue' }, m.e + 1, { silent: [m.pc, ...counters], target: targetOf(m) });
    this.checkInterrupt();
    if (run.stop.kind !== 'stopped' || run.stop.reason !== 'target') throw new NotRetraced(`cannot reach ${m.n ? `arrival ${m.n}` : 'the fingerprinted state'} at 0x${m.pc.toString(16)} in interval ${m.e}`);
  }

  private async stepN(steps: number, counters: bigint[], e: number): Promise<void> {
    if (steps <= 0) return;
    const run = await this.timeline.run({ action: 'step' }, e + 1, { steps, silent: counters });
    this.checkInterrupt();
    if (run.stop.kind !== 'stopped' || run.stop.reason !== 'step') throw new NotRetraced('cannot replay the steps of a position');
  }

  /**
   * Brings the process to mark m. `counters`: breakpoints that count arrivals from
   * m's base on, so that their counts are exact at m (then the run starts at the base).
   */
  async reachMark(m: Mark, counters: bigint[] = []): Promise<void> {
    const tl = this.timeline;
    m = this.liveName(m);
    if (!counters.length) {
      const here = tl.here;
      if (here?.kind === 'mark' && sameMark(here.mark, m) && this.proc.state === 'stopped' && this.proc.pid) return;
      const exact = tl.store.find((c) => sameMark(c.mark, m));
      if (exact) return tl.switchTo(exact);
      const near = this.nearestBefore(m);
      if (near) {
        await tl.switchTo(near);
        if (near.mark.n !== m.n) await this.runToArrival({ ...m, base: near.id, n: m.n - near.mark.n + 1, steps: 0 }, []);
        await this.stepN(m.steps - (near.mark.n === m.n ? near.mark.steps : 0), [], m.e);
        tl.here = { kind: 'mark', mark: m };
        return;
      }
    }
    await this.reachBase(m.e, m.base);
    if (!(await this.isBaseState({ ...m, steps: 0 }))) await this.runToArrival(m, counters);
    await this.stepN(m.steps, counters, m.e);
    tl.here = { kind: 'mark', mark: m };
  }

  /** The live checkpoint at the same pc with fewer arrivals since the same base (or the same arrival, fewer steps). */
  private nearestBefore(m: Mark): Checkpoint | undefined {
    if (!m.n) return undefined;
    let near: Checkpoint | undefined;
    for (const c of this.timeline.store.alive()) {
      const k = c.mark;
      if (k.e !== m.e || k.base !== m.base || k.pc !== m.pc || !k.n || k.n > m.n || (k.n === m.n ? k.steps > m.steps : k.steps !== 0)) continue;
      if (!near || k.n > near.mark.n || (k.n === near.mark.n && k.steps > near.mark.steps)) near = c;
    }
    return near;
  }

  /** Brings the process to position p (see reachMark for counters); a watch trigger returns the run's position. */
  async reach(p: Pos, counters: bigint[] = []): Promise<RunPosition | undefined> {
    if (p.kind === 'mark') {
      await this.reachMark(p.mark, counters);
      return undefined;
    }
    await this.reachBase(p.e, p.base);
    // only data watchpoints count triggers; a hardware breakpoint among the slots would stop the run on the way
    const dataOnly = p.slots.map((x) => (x?.type === 0 ? null : x));
    if (counters.length === 1 && counters[0] === p.pc && this.proc.next === p.e) {
      // named by its count at the pc after the write: counted in the process, not trapped at every arrival
      const counted = await reachWatchCounted(this.proc, this.timeline, this.traps, p.e, p.k, dataOnly, p.pc);
      this.checkInterrupt();
      if (counted.pos) {
        this.timeline.here = p;
        return counted.pos;
      }
      if (counted.ran) await this.reachBase(p.e, p.base);
    }
    await this.traps.install([], dataOnly);
    const run = await this.timeline.run({ action: 'continue' }, p.e + 1, { silent: counters, target: { kind: TargetKind.watchTrigger, event: p.e, n: p.k } });
    this.checkInterrupt();
    if (run.stop.kind !== 'stopped' || run.stop.reason !== 'target') throw new NotRetraced(`cannot reach watchpoint trigger ${p.k} of interval ${p.e} again`);
    this.timeline.here = p;
    return run.position;
  }

  /** The mark of the current position (a watch trigger is counted from its base once). */
  async canon(): Promise<Mark | undefined> {
    const p = this.timeline.here;
    if (!p) return undefined;
    if (p.kind === 'mark') return p.mark;
    const at = await this.reach(p, [p.pc]);
    if (!at || !at.exact || !at.n) return undefined;
    const mark: Mark = { e: this.proc.next, base: p.base, pc: p.pc, n: at.n, steps: 0 };
    this.timeline.here = { kind: 'mark', mark };
    return mark;
  }
}
