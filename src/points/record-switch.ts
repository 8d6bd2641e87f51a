// A thread preempted at the end of its time slice while recording (docs/timeline.md,
// "Threads: preemption"; addon/record_slices.h): the record loop stopped the runner
// with a SIGSTOP of its own (stop 'preempt'). Where it stands is named as an
// asynchronous signal's point is (nameState: registers, the loop's values, the state
// hash), and written as an async-point event whose outcome is a thread switch: the
// replay reaches the point in that thread and goes on with the next record, another
// thread's. As for a signal's point (record-point.ts), a rep-string instruction
// stopped between iterations is finished first, and where the replay's filter cannot
// be put (a tight spin loop's two-byte jump back) the point moves on an instruction at
// a time, and is named where it then stands if the filter fits nowhere (the replay
// finds it with an int3 at pc). Where no point can be named (in the syscall buffer's library, at a syscall
// instruction, another stop came first) there is no switch: the thread runs on, and
// the next slice tries again.
import { getReg } from '../arch/registers.js';
import type { AsyncPointInfo } from '../history/events.js';
import { native, type NativeRecording } from '../native/addon.js';
import { countRecords, FILTER_STEPS, inPreloadLibrary, nameState, pointExclusions } from './record-point.js';
import { repStringLength } from '../arch/rep-string.js';

/** CPU time a steering run may take before the point is named where the thread stands (ticks; only speed depends on it). */
const STEER_BUDGET_TICKS = 10;

export interface PreemptionPoint {
  /** the syscall buffer's records of calls made while steering: in the trace before the point */
  before: Buffer;
  /** the point; absent when none could be named (no switch) */
  point?: AsyncPointInfo;
}

/** `syscall`, `sysenter` or `int 0x80` at pc: a single step would run the call out of the record loop's sight. */
function isSyscallInstruction(code: Buffer): boolean {
  return code.length >= 2 && ((code[0] === 0x0f && (code[1] === 0x05 || code[1] === 0x34)) || (code[0] === 0xcd && code[1] === 0x80));
}

/** The preemption's point of stopped thread `tid` (the caller then calls recording.preemptSwitch). */
export async function namePreemptionPoint(recording: NativeRecording, tid: number, trace: { eventsOf(tid: number): number },
  buffer: bigint[] | undefined): Promise<PreemptionPoint> {
  const n = native();
  const excluded = pointExclusions(buffer);
  const steps: Buffer[] = [];
  const given = () => ({ before: Buffer.concat(steps) });
  let regs = await n.getRegs(tid);
  // false when another stop came first (the loop takes it; no switch)
  const runTo = async (addr: bigint): Promise<boolean> => {
    const r = await recording.pointRunTo(tid, addr, 0n, STEER_BUDGET_TICKS);
    if (!r) return false;
    steps.push(r.events);
    regs = r.regs;
    return true;
  };
  const pc0 = getReg(regs, 'rip');
  if (inPreloadLibrary(tid, pc0)) return given();
  const rep = repStringLength(await n.readMemory(tid, pc0, 16), pc0);
  if (rep && !await runTo(pc0 + BigInt(rep))) return given();
  let state = await nameState(tid, regs, excluded);
  for (let i = 0; !state && i < FILTER_STEPS; i++) {
    const pc = getReg(regs, 'rip');
    const code = await n.readMemory(tid, pc, 16);
    if (isSyscallInstruction(code) || repStringLength(code, pc) || !await runTo(0n)) return given();
    state = await nameState(tid, regs, excluded);
  }
  // A spin the filter cannot hold anywhere (glibc's pthread_spin_lock wait): named
  // where it stands, found in replay with an int3 at pc. Without it the spinning
  // thread was never switched out, and a lock holder preempted inside its critical
  // section stalled the recording.
  if (!state) {
    const pc = getReg(regs, 'rip');
    const code = await n.readMemory(tid, pc, 16);
    if (!isSyscallInstruction(code) && !repStringLength(code, pc)) state = await nameState(tid, regs, excluded, true);
  }
  const before = Buffer.concat(steps);
  if (!state) return { before };
  const point: AsyncPointInfo = {
    threadEvent: trace.eventsOf(tid) + countRecords(before),
    ...state,
    steered: rep ? 'rep' : steps.length ? 'stepped' : 'none',
    what: { switch: true },
  };
  return { before, point };
}
