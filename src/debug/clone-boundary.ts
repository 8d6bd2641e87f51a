// The state just after a clone event, or a thread's death, as a run's target. The
// native loop hands both back to JS before it starts the next interval (the new
// thread's Tracee must be kept first, the dead one's let go), so the run that goes on
// never judges that interval's first state when its thread runs no code there: the
// parent, still inside its clone syscall, whose result is the next record; a thread
// whose death comes next. A stop where gdb heard of a new thread stands there
// (forward.ts, 'thread-created'; timeline.ts names it arrival 1 at that thread's pc),
// and so may a checkpoint taken between two deaths, so a search for one, as a reverse
// command's window end, is judged here.
import { getReg } from '../arch/registers.js';
import { native, TargetKind, type RunTarget } from '../native/addon.js';

/** Whether the process stands at `target`, the first state of interval `next`, whose thread is `pid`. */
export async function atIntervalStartTarget(target: RunTarget | undefined, next: number, pid: number): Promise<boolean> {
  if (!target || target.event !== next || target.kind === TargetKind.watchTrigger) return false;
  if (target.kind === TargetKind.arrival && target.n !== 1) return false;
  if (getReg(await native().getRegs(pid), 'rip') !== target.pc) return false;
  return target.kind === TargetKind.arrival || (await native().fingerprint(pid)).equals(target.fp);
}
