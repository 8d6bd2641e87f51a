// The timeline (rr's ReplayTimeline): where the replayed process stands, named so
// that it can be reached again (a Pos), the checkpoints kept along the way, and
// runs that turn the copies they leave into checkpoints (docs/timeline.md).
import { decodeEvent } from '../history/events.js';
import { getReg } from '../arch/registers.js';
import { native, type NativeSlice } from '../native/addon.js';
import { CheckpointStore } from './checkpoint-store.js';
import type { ReplayedProcess } from './forward.js';
import type { RunExtra, RunHooks, RunReport } from './run-report.js';
import { rename, sameMark, type Checkpoint, type Mark } from './marks.js';
import { closeCopy, copyAgain, copyDebugged, copyOfSlice } from './process-copy.js';
import type { ResumeRequest } from './target.js';
import type { SlotSet, Traps } from './traps.js';

/** How to reach a stop again. */
export type Pos =
  | { kind: 'mark'; mark: Mark }
  /** the k-th trigger of these data watchpoints since base (see Mark.base) in interval e */
  | { kind: 'watch'; e: number; base: number; k: number; slots: SlotSet; pc: bigint };

/** A run whose copies became checkpoints. */
export interface TimelineRun extends Omit<RunReport, 'copies'> {
  /** the copies the run left, as checkpoints, in order */
  slices: Checkpoint[];
}

/** a periodic checkpoint at the next event boundary after this much run time (the run clock: the process's CPU time) */
const CHECKPOINT_EVERY_NS = 100e6;
/** ... or after this many events */
const CHECKPOINT_EVERY_EVENTS = 200;

/** REWIND_TRACE_RUNS=1: every run of the engine is described on stderr (for studying searches) */
const TRACE_RUNS = !!process.env.REWIND_TRACE_RUNS;
/** REWIND_TRACE_RUNS=times: each line ends with the server's clock (ms), to see where a command's time went (docs/load.md) */
const TRACE_TIMES = process.env.REWIND_TRACE_RUNS === 'times';
export function traceRuns(text: () => string): void {
  if (TRACE_RUNS) process.stderr.write(`rewind: ${text()}${TRACE_TIMES ? ` @${performance.now().toFixed(1)}` : ''}\n`);
}

function countsOf(s: NativeSlice): Map<bigint, number> {
  const m = new Map<bigint, number>();
  for (let i = 0; i + 1 < s.counts.length; i += 2) m.set(s.counts[i], Number(s.counts[i + 1]));
  return m;
}

export class Timeline {
  readonly store = new CheckpointStore(closeCopy);
  /** where the process stands (how to come back here); undefined: not named */
  here: Pos | undefined;
  /** the pc at the start of each interval met so far */
  readonly boundaryPcs = new Map<number, bigint>();
  /** the run time (Pos t, the run clock) of the last checkpoint taken */
  private lastCheckpointT = 0;
  private lastCheckpointEvent = 0;
  /** numbers the runs that leave copies (a copy's slice.run) */
  private runIds = 0;

  constructor(
    private readonly proc: ReplayedProcess,
    private readonly traps: Traps,
    /** before every run: gdb's writes are undone */
    private readonly beforeRun: () => Promise<void>,
  ) {}

  /** The start of the replay: the root checkpoint, kept for the whole session. */
  async begin(pc: bigint, e = 1): Promise<void> {
    this.here = { kind: 'mark', mark: { e, base: 0, pc, n: 1, steps: 0 } };
    this.boundaryPcs.set(e, pc);
    await this.takeCheckpoint(true);
  }

  /** A run of the replayed process; the copies it leaves become checkpoints. */
  async run(req: ResumeRequest, untilEvent: number, extra: RunExtra = {}, throughExit = false, replayed?: (next: number) => void): Promise<TimelineRun> {
    await this.beforeRun();
    const t = Date.now();
    const hooks: RunHooks = {
      watchOf: (slot) => this.traps.watchOf(slot),
      atBoundary: extra.search ? undefined : (runStartT) => this.periodicCheckpoint(runStartT),
      beforeMapping: (start, end) => this.traps.beforeMapping(start, end),
      afterMapping: (start, end) => this.traps.afterMapping(start, end),
      replayed,
    };
    const runId = ++this.runIds;
    const report = await this.proc.run(req, untilEvent, extra, hooks, throughExit);
    // the last hit's number is how many the run trapped (it counts from the run's start)
    if (extra.search && report.lastHit) this.proc.stats.trappedHits += report.lastHit.seq;
    // the fingerprints of copies that no count names are asked together: one round
    // trip to the tracer, not one a copy (a forward continue leaves a hundred: docs/load.md)
    const fps = await Promise.all(report.copies.map((c) => (countsOf(c.slice).has(c.slice.pc) ? undefined : native().fingerprint(this.runningCopyPid(c.slice)))));
    const slices = report.copies.map((c, i) => this.keepCopy(c.slice, c.base, c.t, runId, fps[i]));
    traceRuns(() => {
      const show = (v: unknown) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : k === 'fp' ? 'fp' : k === 'slices' ? x.length : x));
      return `run ${req.action} ${show(extra)} -> ${show(report.stop)} in ${Date.now() - t} ms, ${slices.length} slices, ${report.served} served in-process, ${show(report.position)} last ${show(report.lastHit)}`;
    });
    const { copies: _, ...rest } = report;
    return { ...rest, slices };
  }

  /** A copy a run left: a checkpoint named relative to the run's counting base (by its fingerprint `fp` where no count names it). */
  private keepCopy(s: NativeSlice, base: number, t: number, run: number, fp: Buffer | undefined): Checkpoint {
    const counts = countsOf(s);
    const k = counts.get(s.pc);
    const mark: Mark = k !== undefined
      ? { e: s.event, base, pc: s.pc, n: k + 1, steps: 0 }
      : { e: s.event, base, pc: s.pc, n: 0, steps: 0, fp: fp! };
    this.proc.stats.checkpointsTaken++;
    return this.store.add(copyOfSlice(s), mark, false, t, counts, s.watchHits, { run, ran: s.ranNs, seq: s.seq });
  }

  /**
   * The pid of a slice's copy of the thread that ran where it was taken: the thread
   * of the interval's record (positions are that thread's: forward.ts, runningPid).
   * A copy of a threaded process leads with its first thread's copy (s.pid), whose
   * fingerprint named a worker's slice by main's registers: a window ending there ran
   * past it ("lost the way back").
   */
  private runningCopyPid(s: NativeSlice): number {
    if (!s.threads?.length || s.event >= this.proc.trace.eventCount) return s.pid;
    const tid = decodeEvent(this.proc.trace.record(s.event)).tid;
    return s.threads.find((t) => t.recordedTid === tid)?.tracee.pid ?? s.pid;
  }

  /** The name of the stop a forward run ended at (relative to the latest copy it left before it). */
  async positionAfter(run: TimelineRun, slots: SlotSet): Promise<Pos | undefined> {
    const at = run.position;
    if (run.stop.kind !== 'stopped' || !this.proc.pid || !at || at.at === undefined) return undefined;
    const pc = at.at;
    const e = this.proc.next;
    const base = this.proc.baseFor(e);
    const exact = at.exact && at.n > 0;
    let pos: Pos;
    if (run.stop.reason === 'thread-created') {
      // the run stopped just after the clone event, whose interval the native position
      // still names: the start of interval e, whose first state is the thread of its
      // record (runningPid), not the one that made the clone (clone-boundary.ts)
      pos = { kind: 'mark', mark: { e, base, pc: getReg(await native().getRegs(this.proc.runningPid), 'rip'), n: 1, steps: 0 } };
    } else if (run.stop.watch && !exact) pos = { kind: 'watch', e, base, k: at.watchHits, slots, pc };
    else if (exact) pos = { kind: 'mark', mark: { e, base, pc, n: at.n, steps: 0 } };
    else pos = { kind: 'mark', mark: { e, base, pc, n: 0, steps: 0, fp: await native().fingerprint(this.proc.runningPid) } };
    return this.afterSlices(pos, run.slices, Infinity);
  }

  /** pos renamed relative to the latest of a run's copies before it (before search hit `seq`). */
  afterSlices(pos: Pos, slices: Checkpoint[], seq: number): Pos {
    const e = pos.kind === 'mark' ? pos.mark.e : pos.e;
    for (let i = slices.length - 1; i >= 0; i--) {
      const s = slices[i];
      if (s.mark.e !== e || (s.slice?.seq ?? Infinity) >= seq) continue;
      if (pos.kind === 'mark') {
        const r = rename(pos.mark, s, (id) => this.store.get(id));
        if (r && !(r.n === 1 && r.pc === s.mark.pc)) return { kind: 'mark', mark: r };
      } else if (s.watchHits !== undefined && s.mark.base === pos.base && pos.k > s.watchHits) {
        return { ...pos, base: s.id, k: pos.k - s.watchHits };
      }
    }
    return pos;
  }

  /** The current process as a checkpoint at the current mark. */
  async takeCheckpoint(boundary: boolean): Promise<Checkpoint | undefined> {
    const p = this.proc;
    if (this.here?.kind !== 'mark' || p.state !== 'stopped' || !p.pid) return undefined;
    if (p.next < p.trace.eventCount && decodeEvent(p.trace.record(p.next)).kind === 'exit') return undefined;
    // the first thread ended (pthread_exit in main): the copy's fork would have no thread to go in
    if (p.threads.firstEnded) return undefined;
    // every thread, when the process has made some (process-copy.ts); none of a process that is ending
    const copy = await copyDebugged(p.debugger, p.threads.made);
    if (!copy) return undefined;
    // what its name says of the counts: arrival n at pc means n-1 arrivals there before it
    const m = this.here.mark;
    const counts = new Map<bigint, number>(m.n > 0 && m.steps === 0 ? [[m.pc, m.n - 1]] : []);
    const cp = this.store.add(copy, m, boundary, p.curT, counts);
    p.stats.checkpointsTaken++;
    this.lastCheckpointT = p.curT;
    if (boundary) this.lastCheckpointEvent = this.here.mark.e;
    return cp;
  }

  private isBoundaryMark(m: Mark): boolean {
    return m.base === 0 && m.n === 1 && m.steps === 0 && this.boundaryPcs.get(m.e) === m.pc;
  }

  /** A checkpoint at the current mark, unless one exists. */
  async checkpointHere(): Promise<void> {
    if (this.here?.kind !== 'mark') return;
    const m = this.here.mark;
    if (this.store.find((c) => sameMark(c.mark, m))) return;
    await this.takeCheckpoint(this.isBoundaryMark(m));
  }

  /**
   * During a forward run, between two events: a checkpoint every 100 ms of run time or
   * 200 events. Run time, not the wall clock: under other load the checkpoints stand
   * at the same events as on an idle machine (docs/load.md). A checkpoint later than
   * where the replay now stands (it went back since) does not count.
   */
  private async periodicCheckpoint(runStartT: number): Promise<void> {
    const p = this.proc;
    const since = Math.max(this.lastCheckpointT <= p.curT ? this.lastCheckpointT : 0, runStartT);
    if (p.curT - since <= CHECKPOINT_EVERY_NS && p.next - this.lastCheckpointEvent < CHECKPOINT_EVERY_EVENTS) return;
    // none before a death (takeCheckpoint takes none there either)
    if (p.next < p.trace.eventCount && decodeEvent(p.trace.record(p.next)).kind === 'exit') return;
    // the interval's first state is its thread's (forward.ts, runningPid); between the
    // deaths of an exit_group that thread may be exiting already (main inside the call,
    // its record next), and its registers cannot be read: no checkpoint of a process
    // that is ending (copyDebugged refuses one too). Reading them failed the resume
    // (gdb-threads' exit_group test, when a worker's record came after main entered
    // exit_group).
    let regs: Buffer;
    try {
      regs = await native().getRegs(p.runningPid);
    } catch (e) {
      if (/No such process/.test((e as Error).message)) return;
      throw e;
    }
    const pc = getReg(regs, 'rip');
    this.boundaryPcs.set(p.next, pc);
    const saved = this.here;
    this.here = { kind: 'mark', mark: { e: p.next, base: 0, pc, n: 1, steps: 0 } };
    try {
      if (!this.store.find((c) => c.boundary && c.mark.e === p.next)) await this.takeCheckpoint(true);
    } finally {
      this.here = saved;
    }
    this.lastCheckpointT = p.curT;
    this.lastCheckpointEvent = p.next;
  }

  /** The latest live checkpoint at or before the start of interval e (strictly before it: `strict`). */
  latestBefore(e: number, strict = false): Checkpoint {
    let best = this.store.root!;
    const key = (c: Checkpoint) => c.mark.e * 4 + (c.boundary ? 0 : 2);
    for (const c of this.store.alive()) {
      const ok = strict ? c.mark.e < e : c.mark.e < e || (c.boundary && c.mark.e === e);
      if (ok && (key(c) > key(best) || (key(c) === key(best) && c.id > best.id))) best = c;
    }
    return best;
  }

  /** Makes a fresh copy of checkpoint `cp` the replayed process; counting starts there. */
  async switchTo(cp: Checkpoint): Promise<void> {
    this.store.touch(cp);
    const child = await copyAgain(cp.copy!);
    traceRuns(() => `restore #${cp.id} (after event ${cp.mark.e - 1}): pid ${child.tracee.pid}${child.threads ? `, threads ${[...child.threads].map(([tid, t]) => `${tid}:${t.pid}`).join(' ')}` : ''}`);
    this.proc.stats.restores++;
    await this.proc.adopt(child, cp.mark.e, cp.boundary ? 0 : cp.id, cp.mark.pc, cp.t);
    this.here = { kind: 'mark', mark: cp.mark };
  }

  /** Copies left by the same run as c, before it, latest first. */
  earlierSiblings(c: Checkpoint): Checkpoint[] {
    const own = c.slice;
    if (!own) return [];
    return this.store.alive()
      .filter((x) => x !== c && x.slice?.run === own.run && x.slice.ran < own.ran)
      .sort((a, b) => b.slice!.ran - a.slice!.ran);
  }

  /** m named relative to the current process's counting base (undefined: its counts do not allow it). */
  nameFromHere(m: Mark): Mark | undefined {
    const { e, base } = this.proc.countBase;
    if (e !== m.e) return undefined;
    if (base === m.base) return m;
    return rename(m, base ? this.store.get(base)! : 0, (id) => this.store.get(id));
  }

  /** Checkpoint c stands at end's arrival. */
  isAt(c: Checkpoint, end: Mark): boolean {
    if (c.mark.e !== end.e || c.mark.pc !== end.pc) return false;
    if (!end.n) return !!(c.mark.fp && end.fp && c.mark.fp.equals(end.fp));
    const r = rename(end, c, (id) => this.store.get(id));
    return r !== undefined && r.n === 1;
  }

  /** Forgets every checkpoint and kills their processes. */
  async clear(): Promise<void> {
    await this.store.clear();
    this.boundaryPcs.clear();
    this.here = undefined;
  }
}
