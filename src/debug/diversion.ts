// gdb's own code (`print f(3)`, `call`, `jump`): it runs in a throwaway fork of the
// replayed process, with real syscalls and gdb's breakpoints, while the replayed
// process waits, parked at the recorded state (rr's DiversionSession). The replay
// resumes from the parked process as soon as gdb resumes at the recorded pc and stack.
import { getReg, setReg } from '../arch/registers.js';
import { native } from '../native/addon.js';
import { STUB_SYSCALL } from '../replay/stub.js';
import { debuggerOf, killDebugged, type DebuggedProcess, type ReplayedProcess } from './forward.js';
import type { Inspector } from './inspector.js';
import type { ResumeRequest, StopEvent } from './target.js';
import type { InstalledTraps, Traps } from './traps.js';

interface Parked {
  /** the replayed process, with its debugger (its breakpoints stay in it) */
  process: DebuggedProcess;
  pc: bigint;
  sp: bigint;
  traps: InstalledTraps;
}

export class Diversion {
  private parked: Parked | undefined;

  constructor(private readonly proc: ReplayedProcess, private readonly traps: Traps, private readonly inspector: Inspector) {}

  /** gdb moved the pc or the stack away from the recorded state and has not put them back. */
  async diverted(): Promise<boolean> {
    const recorded = this.parked ? [this.parked.pc, this.parked.sp] : this.inspector.recordedPcSp();
    if (!recorded) return false;
    const now = await native().getRegs(this.proc.pid);
    return getReg(now, 'rip') !== recorded[0] || getReg(now, 'rsp') !== recorded[1];
  }

  /**
   * Runs from gdb's changed state in the fork until a breakpoint (gdb's dummy
   * frame), a signal or an interrupt.
   */
  async run(req: ResumeRequest): Promise<StopEvent> {
    const n = native();
    if (!this.parked) {
      const copy = await this.proc.debugger.forkCopy(STUB_SYSCALL);
      const [pc, sp] = this.inspector.recordedPcSp() ?? [0n, 0n];
      await this.inspector.undoWrites();
      const traps = this.traps.saveInstalled();
      this.parked = { process: this.proc.exchange(debuggerOf(copy))!, pc, sp, traps };
      this.traps.restoreInstalled({ sw: new Set(), slots: [null, null, null, null] });
      await this.traps.installGdb();
    }
    // in the copy, gdb's changes are the point: nothing to undo
    this.inspector.forget();
    this.proc.running = true;
    try {
      for (;;) {
        const before = getReg(await n.getRegs(this.proc.pid), 'rip');
        const st = await n.resumeAndWait(this.proc.pid, req.action === 'continue' ? 'cont' : 'step', 0);
        if (st.kind === 'exited' || st.kind === 'killed') {
          // the code ended the copy (exit, a fatal signal): the replay is still there
          await this.leave(false);
          return { kind: 'stopped', signal: st.kind === 'killed' ? st.signal : 9, reason: 'signal' };
        }
        if (st.kind !== 'signal') continue; // fork events of the copy's own children
        if (st.signal === 19 /* SIGSTOP */) return { kind: 'stopped', signal: 2, reason: 'interrupted' };
        if (st.signal !== 5) return { kind: 'stopped', signal: st.signal, reason: 'signal' };
        const regs = await n.getRegs(this.proc.pid);
        const pc = getReg(regs, 'rip');
        if (this.traps.sw.has(pc - 1n)) {
          setReg(regs, 'rip', pc - 1n);
          await n.setRegs(this.proc.pid, regs);
          return { kind: 'stopped', signal: 5, reason: 'swbreak' };
        }
        if (req.action === 'range' && pc >= req.start && pc < req.end && pc !== before) continue;
        return { kind: 'stopped', signal: 5, reason: req.action === 'continue' ? 'hwbreak' : 'step' };
      }
    } finally {
      this.proc.running = false;
    }
  }

  /** Back to the replayed process after gdb's own code ran (kills the copy). */
  async leave(syncTraps = true): Promise<void> {
    if (!this.parked) return;
    const copy = this.proc.exchange(this.parked.process);
    this.traps.restoreInstalled(this.parked.traps);
    this.parked = undefined;
    this.inspector.forget();
    if (copy) await killDebugged(copy);
    if (syncTraps) await this.traps.installGdb();
  }
}
