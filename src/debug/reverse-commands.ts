// gdb's reverse commands as one command each (`bs`, `bc`; docs/timeline.md): where
// the replay stands is named first (a mark, with its fingerprint), then the step
// back (reverse-step.ts) or the search for the last trap (reverse-continue.ts) runs
// from the checkpoints behind it. A search the user interrupts, or one that finds
// the replay does not retrace its steps (gdb's breakpoints changed the program),
// goes back to where the command started: nothing moved, and the stop says why.
import { native } from '../native/addon.js';
import type { Diversion } from './diversion.js';
import type { ReplayedProcess } from './forward.js';
import type { Inspector } from './inspector.js';
import type { Mark } from './marks.js';
import { ReverseSearch } from './reverse-continue.js';
import { ReverseStepper } from './reverse-step.js';
import { Interrupted, NotRetraced, type Seeker } from './seek.js';
import type { StopEvent } from './target.js';
import type { Pos, Timeline } from './timeline.js';
import type { Traps } from './traps.js';
import { traceRuns } from './timeline.js';

/** what gdb shows when a reverse command finds that the replay does not retrace its steps (NotRetraced) */
const NOT_RETRACED = 'cannot go back from here: replayed again, the program does not come back to this point '
  + '(a breakpoint inside an instruction changes what it does?); remove such breakpoints, or `monitor restart`';

export class ReverseCommands {
  private readonly stepper: ReverseStepper;
  private readonly search: ReverseSearch;

  constructor(
    private readonly proc: ReplayedProcess,
    private readonly timeline: Timeline,
    private readonly seeker: Seeker,
    private readonly traps: Traps,
    private readonly diversion: Diversion,
    private readonly inspector: Inspector,
    private readonly log?: (text: string) => void,
  ) {
    this.stepper = new ReverseStepper(proc, timeline, seeker, traps);
    this.search = new ReverseSearch(proc, timeline, seeker, traps, this.stepper);
  }

  /**
   * `bs` or `bc` from where the replay stands (stopped, no interrupt pending: the
   * session checks): the stop it reaches, with the thread that runs there (gdb
   * switches to it); or, when it could not go back, a stop where it started that
   * says why (interrupted, or the point cannot be found again). gdb's function-call
   * copy is left and its memory writes undone first: the past is the recording's.
   */
  async run(kind: 'step' | 'continue'): Promise<StopEvent> {
    await this.diversion.leave();
    await this.inspector.undoWrites();
    const start = this.timeline.here;
    const sw = [...this.traps.sw.keys()];
    const slots = this.traps.gdbSlots();
    const began = { at: performance.now(), ...this.proc.stats };
    try {
      let now = await this.seeker.canon();
      if (!now) return { kind: 'stopped', signal: 5, reason: 'begin', message: 'this point cannot be found again; step or continue first' };
      if (!now.fp && now.steps === 0) {
        now = { ...now, fp: await native().fingerprint(this.proc.runningPid) };
        this.timeline.here = { kind: 'mark', mark: now };
      }
      const stop = kind === 'step' ? await this.reverseStep(now) : await this.search.run(now, sw, slots);
      await this.traps.installGdb();
      await this.timeline.checkpointHere();
      // the thread that runs where the search stopped (threads.ts): gdb switches to it
      const thread = this.proc.runningThread;
      return stop.kind === 'stopped' && thread !== undefined ? { ...stop, thread } : stop;
    } catch (e) {
      if (!(e instanceof Interrupted) && !(e instanceof NotRetraced)) throw e;
      await this.backTo(start);
      await this.traps.installGdb();
      if (e instanceof Interrupted) return { kind: 'stopped', signal: 2, reason: 'interrupted' };
      // expected when gdb's breakpoints change the program: nothing moved, gdb is told why
      this.log?.(`reverse execution cannot go back from here: ${e.message}`);
      return { kind: 'stopped', signal: 5, reason: 'begin', message: e instanceof NotRetraced && e.forGdb ? e.forGdb : NOT_RETRACED };
    } finally {
      // what the command did, for studying its cost (docs/load.md)
      traceRuns(() => {
        const s = this.proc.stats;
        return `reverse ${kind} done in ${(performance.now() - began.at).toFixed(1)} ms: ${s.forwardRuns - began.forwardRuns} runs, `
          + `${s.restores - began.restores} restores, ${s.checkpointsTaken - began.checkpointsTaken} copies, ${s.countedRuns - began.countedRuns} counted, ${s.steps - began.steps} steps`;
      });
    }
  }

  /**
   * Goes back to where a reverse command started (usually a switch to the checkpoint
   * left there). A ^C meanwhile cannot leave the replay halfway: it is ignored.
   */
  private async backTo(start: Pos | undefined): Promise<void> {
    if (!start) return;
    for (;;) {
      this.proc.interruptRequested = false;
      try {
        await this.seeker.reach(start);
        return;
      } catch (e) {
        if (!(e instanceof Interrupted)) throw e;
      }
    }
  }

  private async reverseStep(now: Mark): Promise<StopEvent> {
    const prev = await this.stepper.predecessor(now);
    if (prev === 'begin') {
      await this.seeker.reachMark(now);
      return { kind: 'stopped', signal: 5, reason: 'begin' };
    }
    await this.seeker.reachMark(prev);
    this.seeker.checkInterrupt();
    return { kind: 'stopped', signal: 5, reason: 'step' };
  }
}
