// The user's interrupt (^C) of a command: one that came between two commands is
// kept for the next resume, and an interrupted run's stop is moved a little, so that
// it has a name cheap to come back to.
import type { ReplayedProcess } from './forward.js';
import type { StopEvent } from './target.js';
import type { Pos, Timeline, TimelineRun } from './timeline.js';

export const INTERRUPTED: StopEvent = { kind: 'stopped', signal: 2, reason: 'interrupted' };
/** an interrupted continue stops this many instructions after the interrupt (see positionAfterInterrupt) */
const AFTER_INTERRUPT_STEPS = 1000;

/**
 * An interrupt that came while no run was going (gdb sends ^C whenever it thinks
 * the target runs: also while the server answers its reads between two resumes of
 * a conditional breakpoint's checks, or just after a resume packet the server has
 * not started yet) is kept for the next resume, which then stops at once, as a
 * SIGINT pending in a native process stops its next resume. Clearing it at the
 * start of a resume lost it, and a continue over a never-true condition ran on.
 */
export function takePendingInterrupt(proc: ReplayedProcess): boolean {
  if (!proc.interruptRequested) return false;
  proc.interruptRequested = false;
  return true;
}

/**
 * An interrupted continue stops anywhere. The loop left a copy there; the stop
 * moves a few instructions on, so that it is named by steps from that copy and
 * going back over those steps is cheap. Returns the stop's name.
 */
export async function positionAfterInterrupt(proc: ReplayedProcess, timeline: Timeline, run: TimelineRun): Promise<Pos | undefined> {
  const here = run.slices[run.slices.length - 1];
  // the copy must stand at the stop itself, not merely at its pc: the loop leaves none
  // there when another signal is pending, and in a loop an older copy shares the pc
  // (named from it, the stop would be another iteration). Nothing ran between the
  // copy and the stop exactly when their run times agree.
  const atStop = here !== undefined && here.slice?.ran === run.position?.ranNs && here.mark.pc === run.position?.at;
  if (!atStop || here.mark.e !== proc.next || proc.state !== 'stopped') return timeline.positionAfter(run, []);
  const e = proc.next;
  const interrupted = proc.lastStop;
  proc.countBase = { e, base: here.id };
  const steps = await timeline.run({ action: 'step' }, e + 1, { steps: AFTER_INTERRUPT_STEPS });
  proc.lastStop = interrupted;
  if (steps.stop.kind !== 'stopped' || proc.next !== e) return timeline.positionAfter(steps, []);
  return { kind: 'mark', mark: { e, base: here.id, pc: here.mark.pc, n: 1, steps: steps.steps } };
}
