// gdb's own code (`print f(3)`, `call`, `jump`): it runs in a throwaway copy of the
// replayed process, with real syscalls and gdb's breakpoints, while the replayed
// process waits, parked at the recorded state (rr's DiversionSession). The replay
// resumes from the parked process as soon as gdb resumes at the recorded pc and stack.
//
// A process that has made threads is copied with all of them (diversion-copy.ts), and
// gdb's code runs in the thread gdb moved; the copy's other threads stay stopped where
// the recording has them, as gdb's `set scheduler-locking on` would keep them natively
// (natively, without it, a call lets every thread run meanwhile; in a replay the others
// have nothing to run but their recorded future, which a call must not consume). A call
// that waits for another thread (a lock it holds) waits until the user's ^C, which
// stops it with SIGINT as natively: gdb then says the program was signaled in a
// function called from GDB.
import { getReg, setReg } from '../arch/registers.js';
import { native, type NativeTracee } from '../native/addon.js';
import { divertedCopy } from './diversion-copy.js';
import { debuggerOf, killDebugged, type DebuggedProcess } from './debugged-process.js';
import type { ReplayedProcess } from './forward.js';
import type { Inspector } from './inspector.js';
import type { ResumeRequest, StopEvent, WatchKind } from './target.js';
import type { InstalledTraps, Traps } from './traps.js';

/** What gdb is told when a process cannot be copied for its code (it is ending: an exit_group or a fatal signal under way). */
export const NOT_COPYABLE = 'gdb\'s own code (call, jump, a changed pc or stack) cannot run here: the process is ending and cannot be copied; '
  + 'nothing was run, the registers are the recorded ones';

/** What gdb is told when its code ended the copy or the thread it ran in. */
export const CODE_ENDED = 'the code gdb ran ended its thread or its process (an exit, or a fatal signal) in the copy it ran in; '
  + 'the replay is back at the recorded state';

interface Parked {
  /** the replayed process, with its debugger (its breakpoints stay in it) */
  process: DebuggedProcess;
  /** its threads but the first (the copy's stand in for them meanwhile) */
  threads: Map<number, NativeTracee>;
  /** the thread gdb's code first ran in (recorded tid) */
  tid: number;
  /**
   * the threads gdb's code runs in (recorded tids, the latest last): those whose pc or
   * stack gdb's last write there left away from the recorded state. Others that gdb
   * steps in the copy (over a breakpoint, before it resumes a call) are not: the
   * replay goes on once none is left.
   */
  code: number[];
  /** every thread's recorded pc and stack, by recorded tid: gdb may call in one thread, then in another */
  recorded: Map<number, [bigint, bigint]>;
  traps: InstalledTraps;
}

export class Diversion {
  private parked: Parked | undefined;
  /** a run of gdb's code is under way (from its start: an interrupt then is for it) */
  private running = false;
  /** the copy's thread while it runs (0: none), which the interrupt's SIGSTOP goes to */
  private runningPid = 0;
  /** the user's ^C, for the run under way */
  private asked = false;
  /** SIGSTOPs sent for interrupts that another stop answered first: still pending in the copy */
  private staleStops = 0;

  constructor(private readonly proc: ReplayedProcess, private readonly traps: Traps, private readonly inspector: Inspector) {}

  /**
   * gdb moved the pc or the stack of a thread away from the recorded state and has
   * not put them back (called at the start of each resume).
   */
  async diverted(): Promise<boolean> {
    const parked = this.parked;
    if (!parked) return (await this.inspector.movedThread(this.proc.regsPid)) !== undefined;
    // gdb's writes since the last resume say which threads run its code now
    const threads = this.proc.threads;
    for (const pid of this.inspector.takePcSpWritten()) {
      const tid = threads.tidOf(pid, this.proc.tracee);
      const recorded = tid === undefined ? undefined : parked.recorded.get(tid);
      if (tid === undefined || !recorded) continue;
      const at = parked.code.indexOf(tid);
      if (at >= 0) parked.code.splice(at, 1);
      const now = await native().getRegs(pid);
      if (getReg(now, 'rip') === recorded[0] && getReg(now, 'rsp') === recorded[1]) continue;
      parked.code.push(tid);
      // it must not enter or restart the syscall it may stand in (see diversion-copy.ts)
      setReg(now, 'orig_rax', -1n);
      await native().setRegs(pid, now);
    }
    return parked.code.length > 0;
  }

  /**
   * The user's ^C (JS thread): true when a run of gdb's code is under way, which
   * then stops with SIGINT (false: not the diversion's to answer).
   */
  interrupt(): boolean {
    if (!this.running) return false;
    this.asked = true;
    // to the process: its only thread not stopped by ptrace is the one that runs
    try {
      if (this.runningPid) process.kill(this.runningPid, 'SIGSTOP');
    } catch {
      // it ended meanwhile: its stop answers the run
    }
    return true;
  }

  /**
   * Runs from gdb's changed state in the copy until a breakpoint (gdb's dummy
   * frame), a signal or an interrupt.
   */
  async run(req: ResumeRequest): Promise<StopEvent> {
    this.running = true;
    this.proc.running = true;
    try {
      if (!this.parked) {
        const refused = await this.enter();
        if (refused) return refused;
      }
      return await this.runCopy(this.parked!, req);
    } finally {
      this.running = false;
      this.runningPid = 0;
      this.asked = false;
      this.proc.running = false;
    }
  }

  /** Parks the replayed process and puts the copy with gdb's changes in its place (a stop: refused, nothing run). */
  private async enter(): Promise<StopEvent | undefined> {
    const threads = this.proc.threads;
    const moved = await this.inspector.movedThread(this.proc.regsPid);
    if (!moved) throw new Error('the diversion started without a moved pc or stack');
    const tidOf = (pid: number) => threads.tidOf(pid, this.proc.tracee);
    const tid = tidOf(moved.pid) ?? threads.firstTid;
    const writes = await this.inspector.takeWrites();
    // back at the recorded state: what "gdb has put everything back" compares with
    const recorded = new Map<number, [bigint, bigint]>();
    for (const t of threads.ids()) {
      const regs = await native().getRegs(threads.pidOf(t, this.proc.tracee));
      recorded.set(t, [getReg(regs, 'rip'), getReg(regs, 'rsp')]);
    }
    const made = await divertedCopy(this.proc, writes, tidOf);
    if (!made) return { kind: 'stopped', signal: 0, message: NOT_COPYABLE, ...(threads.made ? { thread: tid } : {}) };
    const traps = this.traps.saveInstalled();
    const process = this.proc.exchange(debuggerOf(made.copy.tracee))!;
    this.parked = { process, threads: threads.exchange(made.copy.threads ?? new Map()), tid, code: [tid], recorded, traps };
    // in the copy, gdb's changes are the point: nothing to undo
    this.inspector.forget();
    this.traps.restoreInstalled({ sw: new Set(), slots: [null, null, null, null] });
    await this.traps.installGdb();
    return undefined;
  }

  /**
   * Runs one thread of the copy: the one gdb's code is in, or the one a step names;
   * the others stay stopped.
   */
  private async runCopy(parked: Parked, req: ResumeRequest): Promise<StopEvent> {
    const n = native();
    const threads = this.proc.threads;
    const tid = req.action !== 'continue' && req.thread !== undefined && threads.ids().includes(req.thread) ? req.thread
      : parked.code.at(-1) ?? parked.tid;
    const pid = threads.pidOf(tid, this.proc.tracee);
    const named = threads.made ? { thread: tid } : {};
    for (;;) {
      if (this.asked) return { kind: 'stopped', signal: 2, reason: 'interrupted', ...named };
      const before = getReg(await n.getRegs(pid), 'rip');
      // gdb's watchpoints and hardware breakpoints apply to every thread: this one may
      // not be the copy's first, into which the debugger writes them
      await this.proc.debugger.armThread(pid);
      this.runningPid = pid;
      const st = await n.resumeAndWait(pid, req.action === 'continue' ? 'cont' : 'step', 0);
      this.runningPid = 0;
      if (st.kind === 'exited' || st.kind === 'killed') {
        // the code ended the copy, or its thread (exit, a fatal signal): the replay is still
        // there, and gets gdb's traps as they are now (a temporary breakpoint gdb inserted
        // before the diversion and removed in it is taken out)
        await this.leave();
        return { kind: 'stopped', signal: st.kind === 'killed' ? st.signal : 9, reason: 'signal', message: CODE_ENDED, ...named };
      }
      if (st.kind !== 'signal') continue; // fork and clone events of the copy's own children
      if (st.signal === 19 /* SIGSTOP */) {
        if (this.asked) return { kind: 'stopped', signal: 2, reason: 'interrupted', ...named };
        if (this.staleStops > 0) this.staleStops--;
        continue; // an interrupt's, answered by an earlier stop: suppressed
      }
      if (this.asked) {
        // the SIGSTOP is pending still: this stop answers the interrupt
        this.asked = false;
        this.staleStops++;
      }
      if (st.signal !== 5) return { kind: 'stopped', signal: st.signal, reason: 'signal', ...named };
      const regs = await n.getRegs(pid);
      const pc = getReg(regs, 'rip');
      if (this.traps.sw.has(pc - 1n)) {
        setReg(regs, 'rip', pc - 1n);
        await n.setRegs(pid, regs);
        return { kind: 'stopped', signal: 5, reason: 'swbreak', ...named };
      }
      const watch = await this.watchHit(pid);
      if (watch) return { kind: 'stopped', signal: 5, watch, ...named };
      if (req.action === 'range' && pc >= req.start && pc < req.end && pc !== before) continue;
      return { kind: 'stopped', signal: 5, reason: req.action === 'continue' ? 'hwbreak' : 'step', ...named };
    }
  }

  /** The watchpoint a trap stop of thread `pid` of the copy triggered (undefined: none; a hardware breakpoint is not one). */
  private async watchHit(pid: number): Promise<{ kind: WatchKind; addr: bigint } | undefined> {
    const hit = await this.proc.debugger.takeHitSlots(pid);
    const slots = this.traps.gdbSlots();
    for (let i = 0; i < 4; i++) {
      if (hit & (1 << i) && slots[i] && slots[i]!.type !== 0) return this.traps.watchOf(i);
    }
    return undefined;
  }

  /** Back to the replayed process after gdb's own code ran (kills the copy). */
  async leave(syncTraps = true): Promise<void> {
    const parked = this.parked;
    if (!parked) return;
    this.parked = undefined;
    this.staleStops = 0;
    const copy = this.proc.exchange(parked.process);
    const copyThreads = this.proc.threads.exchange(parked.threads);
    this.traps.restoreInstalled(parked.traps);
    this.inspector.forget();
    if (copy) await killDebugged(copy);
    for (const t of copyThreads.values()) if (!t.closed) await t.close();
    if (syncTraps) await this.traps.installGdb();
  }
}
