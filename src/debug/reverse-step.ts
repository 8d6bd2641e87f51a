// reverse-stepi (`bs`, docs/timeline.md): the state one instruction before a mark.
// The predecessor of (base, pc, n, s>0) is (base, pc, n, s-1); that of an arrival
// is found by single-stepping natively from a close earlier start: the previous
// arrival, the last call whose return address is on the stack, or the base.
import { decodeEvent } from '../history/events.js';
import { getReg } from '../arch/registers.js';
import { native } from '../native/addon.js';
import type { ReplayedProcess } from './forward.js';
import { describeMark, type Mark } from './marks.js';
import { NotRetraced, targetOf, type Seeker, type Start } from './seek.js';
import { traceRuns, type Timeline } from './timeline.js';
import { NO_SLOTS, type Traps } from './traps.js';

/** single-steps between checkpoints while searching for a predecessor */
const STEP_CHUNK = 256;
/** steps tried from the previous arrival before a search for a closer start */
const STEP_BUDGET = 4096;
/** a search for a close start leaves copies at these fractions of its run, when longer than CLOSE_COPIES_FROM ns */
const CLOSE_COPIES = [0.5, 0.8, 0.95, 0.99];
const CLOSE_COPIES_FROM = 2e6;

/** The call instruction that ends just before return address `ret`, from the 7 bytes before it. */
export function callSiteBefore(ret: bigint, code: Buffer): bigint | undefined {
  if (code.length < 7) return undefined;
  const b = (back: number) => code[7 - back];
  if (b(5) === 0xe8) return ret - 5n; // call rel32
  if (b(2) === 0xff && (b(1) & 0xf8) === 0xd0) return ret - 2n; // call *%reg
  if (b(6) === 0xff && (b(5) === 0x15 || (b(5) & 0xf8) === 0x90)) return ret - 6n; // call *disp32(...)
  if (b(3) === 0xff && (b(2) & 0xf8) === 0x50) return ret - 3n; // call *disp8(%reg)
  return undefined;
}

export class ReverseStepper {
  constructor(
    private readonly proc: ReplayedProcess,
    private readonly timeline: Timeline,
    private readonly seeker: Seeker,
    private readonly traps: Traps,
  ) {}

  /** The state one instruction before m, or 'begin' at the start of the history. */
  async predecessor(m: Mark): Promise<Mark | 'begin'> {
    traceRuns(() => `predecessor of ${describeMark(m)}`);
    if (m.steps > 0) return { ...m, steps: m.steps - 1 };
    if (await this.seeker.isBaseState(m)) {
      if (m.base) return this.predecessor(this.timeline.store.get(m.base)!.mark);
      const last = await this.lastOfInterval(m.e - 1, m.pc);
      // a signal's delivery state is the same machine state as the start of the next interval
      // (as is an asynchronous signal's point the same state as the first of the interval after it)
      const kind = m.e >= 2 ? decodeEvent(this.proc.trace.record(m.e - 1)).kind : undefined;
      if (last !== 'begin' && (kind === 'signal' || kind === 'async-point')) return this.predecessor(last);
      return last;
    }
    // Q: the previous arrival at the same pc (if a few thousand steps reach m from
    // there), else the latest of that arrival and the last call from a call site on
    // m's stack (one search run from m's base), else m's base
    if (m.n >= 2) {
      const found = await this.stepFrom({ e: m.e, base: m.base, pc: m.pc, n: m.n - 1, steps: 0 }, m, STEP_BUDGET);
      if (found) return found;
    }
    const q = (await this.closeStart(m)) ?? { e: m.e, base: m.base, pc: await this.seeker.basePc(m), n: 1, steps: 0 };
    const found = await this.stepFrom(q, m, Infinity);
    if (!found) throw new NotRetraced(`lost the way back from 0x${m.pc.toString(16)}`);
    return found;
  }

  /**
   * Single-steps from q until m (at most `budget` steps): the state before m. q is
   * named from m's base or from a copy after it (closeStart) that counted m's pc.
   */
  private async stepFrom(q: Mark, m: Mark, budget: number): Promise<Mark | undefined> {
    const tl = this.timeline;
    // m's pc is counted from q's base (a copy close before it, see closeStart) so that the target is exact
    await this.seeker.reachMark(q, m.n && q.pc !== m.pc ? [m.pc] : []);
    // reaching q may have restored a checkpoint at (or before) it: the native counts
    // then start there, and m must be named from there
    let target = tl.nameFromHere(m);
    if (!target) {
      await this.seeker.reachMark(q, [m.pc]);
      target = m;
    }
    this.seeker.checkInterrupt();
    await tl.checkpointHere();
    let steps = 0;
    while (steps < budget) {
      const run = await tl.run({ action: 'step' }, m.e + 1, { steps: STEP_CHUNK, target: targetOf(target) });
      this.seeker.checkInterrupt();
      const stop = run.stop;
      if (stop.kind !== 'stopped') throw new NotRetraced(`lost the way back from 0x${m.pc.toString(16)} (${stop.kind})`);
      steps += run.steps;
      if (stop.reason === 'target') {
        tl.here = { kind: 'mark', mark: m }; // standing at m now
        if (steps < 1) throw new Error('no instruction before a point');
        return { ...q, steps: steps - 1 };
      }
      if (stop.reason !== 'step') throw new NotRetraced(`lost the way back from 0x${m.pc.toString(16)} (${stop.reason})`);
      tl.here = { kind: 'mark', mark: { ...q, steps } };
      await tl.checkpointHere();
    }
    return undefined;
  }

  /**
   * The last execution, before m, of a call instruction whose return address is on
   * m's stack ([rsp], or [rbp+8] after a frame setup), or of m's own pc: a close
   * start for stepping. One search run from m's base.
   */
  private async closeStart(m: Mark): Promise<Mark | undefined> {
    await this.seeker.reachMark(m);
    const atM = this.proc.curT;
    const n = native();
    const pid = this.proc.runningPid;
    const regs = await n.getRegs(pid);
    const sites = new Set<bigint>();
    for (const at of [getReg(regs, 'rsp'), getReg(regs, 'rbp') + 8n]) {
      const word = await this.proc.tracee.readMemory(at, 8);
      if (word.length < 8) continue;
      const ret = word.readBigUInt64LE(0);
      const site = callSiteBefore(ret, await this.proc.tracee.readMemory(ret - 7n, 7));
      if (site !== undefined) sites.add(site);
    }
    if (!sites.size && m.n < 2) return undefined;
    sites.add(m.pc); // its previous arrival, if later than the calls
    await this.seeker.reachBase(m.e, m.base);
    await this.traps.install(sites, NO_SLOTS);
    // The base may be far back (a counted window's start: tens of ms, seconds under
    // load): copies just before m, so that the start found is named from one of them
    // and stepFrom reaches it from there, not in a second run from the base
    // (bench/reverse.js's first reverse-stepi at a hit: 0.137 s for the two runs).
    const dist = atM - this.proc.curT;
    const slices = dist > CLOSE_COPIES_FROM ? { slices: CLOSE_COPIES.map((f) => f * dist) } : {};
    const run = await this.timeline.run({ action: 'continue' }, m.e + 1, { search: true, startCandidate: true, target: targetOf(m), ...slices });
    this.seeker.checkInterrupt();
    const hit = run.lastHit;
    const named = hit && run.stop.kind === 'stopped' && run.stop.reason === 'target' && hit.event === m.e
      ? this.timeline.afterSlices({ kind: 'mark', mark: { e: m.e, base: m.base, pc: hit.pc, n: hit.n, steps: 0 } }, run.slices, hit.seq)
      : undefined;
    const q = named?.kind === 'mark' ? named.mark : undefined;
    for (const c of run.slices) if (c.id !== q?.base) this.timeline.store.release(c);
    if (!q) return undefined;
    this.timeline.here = { kind: 'mark', mark: m };
    return q;
  }

  /**
   * The last state of interval e, whose event is an asynchronous signal's point: the
   * point itself, named by the arrival count the run that finds it reports.
   */
  async pointOfInterval(e: number): Promise<Mark> {
    // from the interval's start: a count from there renames to any checkpoint with counts
    await this.seeker.reachStart({ cp: undefined, e });
    await this.traps.install([], NO_SLOTS);
    const run = await this.timeline.run({ action: 'continue' }, e + 1, { search: true });
    this.seeker.checkInterrupt();
    const p = run.point;
    if (!p || p.e !== e || !p.exact || p.n < 1) throw new NotRetraced(`no exact name for the asynchronous signal's point of event ${e}`);
    return { e, base: p.base, pc: p.pc, n: p.n, steps: 0 };
  }

  /** The last state of interval e, whose next event starts interval e+1 at pc bpc. */
  private async lastOfInterval(e: number, bpc: bigint): Promise<Mark | 'begin'> {
    if (e < 1) return 'begin';
    const ev = decodeEvent(this.proc.trace.record(e));
    // The instruction that ends interval e is its thread's (the thread of record e):
    // in a process of threads, interval e+1 may start in another, so its pc is read
    // from that thread where interval e+1 starts (threads.ts)
    if (this.proc.threads.made && e + 1 < this.proc.trace.eventCount && decodeEvent(this.proc.trace.record(e + 1)).tid !== ev.tid
      && ev.kind !== 'signal' && ev.kind !== 'async-point' && ev.kind !== 'map-file') {
      await this.seeker.reachStart({ cp: undefined, e: e + 1 });
      const thread = this.proc.threads.tracee(ev.tid, this.proc.tracee);
      if (!thread) return 'begin'; // a thread that is gone: nothing of it to stand at
      bpc = getReg(await native().getRegs(thread.pid), 'rip');
    }
    let pc: bigint;
    // a syscall's event, or its entry's (an enter event: its thread stops at the entry, the call to come)
    if (ev.kind === 'syscall' || ev.kind === 'enter') pc = bpc - 2n;
    else if (ev.kind === 'rdtsc') pc = bpc - BigInt(ev.insnLen);
    else if (ev.kind === 'cpuid') pc = bpc - 2n; // a CPUID (or its ud2 patch) is 2 bytes
    else if (ev.kind === 'signal') pc = bpc;
    else if (ev.kind === 'map-file') return this.lastOfInterval(e - 1, bpc);
    else if (ev.kind === 'async-point') return this.pointOfInterval(e);
    else return 'begin';
    // any state of interval e comes before its last one
    const inside = this.timeline.store.find((c) => c.mark.e === e && !c.boundary);
    const start: Start = inside ? { cp: inside, e } : { cp: undefined, e };
    await this.seeker.reachStart(start);
    await this.traps.install([pc], NO_SLOTS);
    const run = await this.timeline.run({ action: 'continue' }, e + 1, { search: true, startCandidate: true });
    this.seeker.checkInterrupt();
    const hit = run.lastHit;
    const base = start.cp ? start.cp.id : 0;
    if (!hit || hit.event !== e) return { e, base, pc: start.cp ? start.cp.mark.pc : await this.seeker.boundaryPc(e), n: 1, steps: 0 };
    return { e, base, pc, n: hit.n, steps: 0 };
  }
}
