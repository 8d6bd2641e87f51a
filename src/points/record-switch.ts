// A thread preempted at the end of its time slice while recording (docs/timeline.md,
// "Threads: preemption"; addon/record_slices.h): the record loop stopped the runner
// with a SIGSTOP of its own (stop 'preempt'). Where it stands is named as an
// asynchronous signal's point is (nameState: registers, the loop's values, the state
// hash), and written as an async-point event whose outcome is a thread switch: the
// replay reaches the point in that thread and goes on with the next record, another
// thread's. Where the replay's filter cannot be put (nameState refuses the code at
// pc), there is no switch: the thread runs on, and the next slice tries again.
import { native } from '../native/addon.js';
import type { AsyncPointInfo } from '../history/events.js';
import { nameState, pointExclusions } from './record-point.js';

/** The preemption's point of stopped thread `tid`, or undefined when it cannot be named where it stands. */
export async function namePreemptionPoint(tid: number, trace: { eventsOf(tid: number): number },
  buffer: bigint[] | undefined): Promise<AsyncPointInfo | undefined> {
  const regs = await native().getRegs(tid);
  const state = await nameState(tid, regs, pointExclusions(buffer));
  if (!state) return undefined;
  return { threadEvent: trace.eventsOf(tid), ...state, steered: 'none', what: { switch: true } };
}
