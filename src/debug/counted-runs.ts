// Runs that count arrivals in the process instead of trapping on each
// (docs/timeline.md, "Counting in the process"): a window of a reverse search
// counted in one run at native speed, and a run to the n-th arrival at a pc hit
// millions of times. Both stay inside one interval (hit-counters.ts says why) and
// fall back to int3 traps, with the same answers, when a pc cannot be counted. In a
// process of several threads they count every thread's arrivals (counter-host.ts).
import { getReg } from '../arch/registers.js';
import { native, TargetKind } from '../native/addon.js';
import type { RunPosition } from '../native/stop-report.js';
import type { Refusal } from './counter-stub.js';
import { counterHost } from './counter-host.js';
import type { ReplayedProcess } from './forward.js';
import { COUNTER_PAGES_SIZE, installCounters, readCounters, removeCounters, type CounterReading, type CounterSite } from './hit-counters.js';
import type { Mark } from './marks.js';
import { NotRetraced, targetOf } from './seek.js';
import { traceRuns, type Timeline, type TimelineRun } from './timeline.js';
import type { SlotSet, Traps } from './traps.js';

/** from this many arrivals on, counting in the process beats a trap per arrival (a trap costs some µs, the setup some ms) */
export const COUNT_IN_PROCESS_FROM = 256;

/** The last breakpoint hit of a counted window: arrival n at pc since the window's start. */
export interface CountedHit {
  pc: bigint;
  n: number;
  /** set when the hit was trapped (the tracer named it in its own interval); else n counts from the run's start */
  event?: number;
}

async function ripOf(pid: number): Promise<bigint> {
  return getReg(await native().getRegs(pid), 'rip');
}

/** Why a run could not be counted; `moved`: the process was stepped on the way (it is no longer where the run was to start). */
type CountRefusal = Refusal & { moved?: boolean };

interface CountedRun {
  run: TimelineRun;
  reached: boolean;
  readings: CounterReading[];
  pages: bigint[];
}

/** A refusal to count, said in the trace of runs and kept in the process's statistics (`monitor stats`). */
function refusedHere(proc: ReplayedProcess, why: string): CountRefusal {
  traceRuns(() => `no counting in the process: ${why}`);
  proc.stats.countRefusals++;
  return { refused: why };
}

/** A run that counted in the process, kept in the statistics (`monitor stats`): the tests check counting was used. */
function countedHere(proc: ReplayedProcess, readings: CounterReading[]): void {
  proc.stats.countedRuns++;
  for (const r of readings) proc.stats.countedArrivals += r.count;
}

/** at most this many instructions are stepped to leave a patch's bytes before counting (a patch covers 5 bytes or a few more) */
const STEP_OUT_MAX = 16;

/**
 * A run with counters at `sites`; the counters' readings, or why they could not be
 * installed. `arm` gets the optional sites that cannot be counted, to trap on them.
 */
async function runCounted(proc: ReplayedProcess, timeline: Timeline, sites: CounterSite[], target: Mark, search: boolean, silent: bigint[], arm?: (pcs: bigint[]) => Promise<void>, trapped: bigint[] = []): Promise<CountedRun | CountRefusal> {
  const host = counterHost(proc);
  if ('refused' in host) return refusedHere(proc, host.refused);
  let installed = await installCounters(host, sites, [await ripOf(proc.runningPid), ...silent, ...trapped]);
  // The process stands inside the bytes a patch would cover (a handler returned to the
  // instruction after a counted pc, the start of a stretch): a jump written there would
  // cut its instruction. It is stepped out first; the instructions stepped are not
  // counted sites (patches never overlap), and one that lands on a site's pc leaves
  // that arrival to the stub, which counts it when the run resumes there.
  let moved = false;
  // a span's run starts intervals before its target's: the steps stay in the start's interval
  const startEvent = proc.next;
  for (let k = 0; k < STEP_OUT_MAX && 'refused' in installed && installed.inside !== undefined && installed.inside === (await ripOf(proc.runningPid)); k++) {
    const inside = installed.inside;
    traceRuns(() => `stepping out of a patch's bytes at 0x${inside.toString(16)}`);
    const step = await timeline.run({ action: 'step' }, startEvent + 1, { steps: 1, silent });
    moved = true;
    if (step.stop.kind !== 'stopped' || step.stop.reason !== 'step' || proc.next !== startEvent || step.interrupted) {
      return { refused: 'could not step out of the bytes a patch covers', moved };
    }
    installed = await installCounters(host, sites, [await ripOf(proc.runningPid), ...silent, ...trapped]);
  }
  if ('refused' in installed) return { ...refusedHere(proc, installed.refused), moved };
  for (const u of installed.uncounted) traceRuns(() => `0x${u.pc.toString(16)} is trapped, not counted: ${u.why}`);
  let run: TimelineRun;
  try {
    const toTrap = [...trapped, ...installed.uncounted.map((u) => u.pc)];
    if (arm && toTrap.length) await arm(toTrap);
    run = await timeline.run({ action: 'continue' }, target.e + 1, { search, target: targetOf(target), silent, counterTraps: installed.traps, counterSeq: installed.seq });
  } catch (e) {
    await removeCounters(installed).catch(() => undefined);
    throw e;
  }
  const reached = run.stop.kind === 'stopped' && run.stop.reason === 'target';
  const readings = reached ? await readCounters(installed) : [];
  if (proc.pid) await removeCounters(installed);
  countedHere(proc, readings);
  return { run, reached, readings, pages: installed.pages };
}

/**
 * One counting run over the window from the process's state (a counting base in
 * target's interval) to `target` (named from that base): the last arrival at one
 * of the breakpoints `sw` before the target, or none; or why it cannot be counted
 * (nothing was run then). A breakpoint at the start state counts (the window
 * includes its start), and one at the target counts its earlier arrivals only.
 * A breakpoint whose instruction cannot move is trapped (`arm` installs those
 * int3s), and so is one in `trapOnly` (memory an event of the window maps:
 * mapping-events.ts); their hits take numbers in the counters' sequence.
 */
export async function countWindow(proc: ReplayedProcess, timeline: Timeline, target: Mark, sw: bigint[], arm: (pcs: bigint[]) => Promise<void>, trapOnly: bigint[] = []): Promise<{ hit?: CountedHit } | CountRefusal> {
  // a breakpoint at the target that cannot be counted is trapped (the native target is then its arrival),
  // and so is one at a target named by its fingerprint (only the tracer can compare that), and those the caller says
  const notCounted = [...sw.filter((pc) => !target.n && pc === target.pc), ...trapOnly.filter((pc) => sw.includes(pc))];
  const sites: CounterSite[] = sw.filter((pc) => !notCounted.includes(pc)).map((pc) => ({ pc, target: pc === target.pc ? target.n : undefined, optional: true }));
  let end: CounterSite | undefined;
  if (!sw.includes(target.pc)) {
    if (target.n >= COUNT_IN_PROCESS_FROM) end = { pc: target.pc, target: target.n };
    // named by its fingerprint (a copy's state in a loop, say): the stub compares registers, as for a hot end
    else if (!target.n && target.fp) end = { pc: target.pc, fp: target.fp };
  }
  const silent = !sw.includes(target.pc) && !end ? [target.pc] : [];
  let r = await runCounted(proc, timeline, end ? [...sites, end] : sites, target, true, silent, arm, notCounted);
  if ('refused' in r && end && !r.moved && sites.length) {
    // The end's instruction cannot move (a `ret` within its 5 bytes: the end of a
    // function): its arrivals are trapped instead, as a silent breakpoint with the
    // native target; the breakpoints are still counted, so this costs a trap per
    // arrival at the end, not one per hit of every breakpoint.
    traceRuns(() => `the end 0x${target.pc.toString(16)} is trapped, the breakpoints counted`);
    r = await runCounted(proc, timeline, sites, target, true, [target.pc], arm, notCounted);
  }
  if ('refused' in r) return r;
  if (!r.reached) {
    if (r.run.interrupted) return {}; // the user's ^C: the caller's checkInterrupt takes it from here
    const stop = r.run.stop;
    throw new NotRetraced(`lost the way back (${stop.kind === 'stopped' ? stop.reason : stop.kind})`);
  }
  let best: (CountedHit & { last: number }) | undefined;
  for (const x of r.readings) {
    if (!sw.includes(x.pc)) continue;
    // the target's own arrival traps before it takes a sequence number: `last` is its previous one's
    const n = x.pc === target.pc ? x.count - 1 : x.count;
    if (n >= 1 && (!best || x.last > best.last)) best = { pc: x.pc, n, last: x.last };
  }
  const trapped = r.run.lastHit; // a trapped breakpoint's last hit, with its number in the same sequence
  if (trapped && trapped.reason === 'swbreak' && trapped.exact && (!best || trapped.order > best.last)) best = { pc: trapped.pc, n: trapped.n, last: trapped.order, event: trapped.event };
  traceRuns(() => `counted window: ${r.readings.map((x) => `0x${x.pc.toString(16)} x${x.count}`).join(', ')}`);
  return best ? { hit: { pc: best.pc, n: best.n, event: best.event } } : {};
}

/**
 * The last arrival at one of the breakpoints `sw` from where the process stands (a
 * start in interval e, or in an earlier one over events that map nothing:
 * crossed-events.ts) to the end of interval e (its event replayed, no user code
 * after it), counted in the process: the count up to an interval whose first state
 * no run stops at (a thread's turn after a death, or one parked in the kernel).
 * Breakpoints that cannot be counted, and those in `trapOnly`, are trapped (`arm`),
 * their hits numbered in the same sequence. Event e must meet no counted site.
 */
export async function countToEvent(proc: ReplayedProcess, timeline: Timeline, e: number, sw: bigint[], arm: (pcs: bigint[]) => Promise<void>, trapOnly: bigint[] = []): Promise<{ hit?: CountedHit } | CountRefusal> {
  const host = counterHost(proc);
  if ('refused' in host) return refusedHere(proc, host.refused);
  const notCounted = trapOnly.filter((pc) => sw.includes(pc));
  const counted = sw.filter((pc) => !notCounted.includes(pc));
  const installed = await installCounters(host, counted.map((pc) => ({ pc, optional: true })), [await ripOf(proc.runningPid), ...notCounted]);
  if ('refused' in installed) return refusedHere(proc, installed.refused);
  let run: TimelineRun;
  try {
    const toTrap = [...notCounted, ...installed.uncounted.map((u) => u.pc)];
    if (toTrap.length) await arm(toTrap);
    run = await timeline.run({ action: 'continue' }, e + 1, { search: true, silent: [], counterTraps: installed.traps, counterSeq: installed.seq });
  } catch (err) {
    await removeCounters(installed).catch(() => undefined);
    throw err;
  }
  const reached = run.stop.kind === 'stopped' && run.stop.reason === 'interrupted' && proc.next === e + 1 && !run.interrupted;
  const readings = reached ? await readCounters(installed) : [];
  if (proc.pid) await removeCounters(installed);
  countedHere(proc, readings);
  if (!reached) {
    if (run.interrupted) return {};
    throw new NotRetraced(`lost the way to the end of interval ${e}`);
  }
  let best: (CountedHit & { last: number }) | undefined;
  for (const x of readings) if (x.count >= 1 && (!best || x.last > best.last)) best = { pc: x.pc, n: x.count, last: x.last };
  const trapped = run.lastHit;
  if (trapped && trapped.reason === 'swbreak' && trapped.exact && (!best || trapped.order > best.last)) best = { pc: trapped.pc, n: trapped.n, last: trapped.order, event: trapped.event };
  traceRuns(() => `counted up to event ${e}: ${readings.map((x) => `0x${x.pc.toString(16)} x${x.count}`).join(', ')}`);
  return best ? { hit: { pc: best.pc, n: best.n, event: best.event } } : {};
}

/**
 * A window search whose traps (gdb's, installed by the caller) trap as usual, but
 * whose end, at a pc passed too often to trap on each arrival (or named only by
 * its fingerprint, at a pc that may be), is a counter that traps at the end's
 * arrival (or where the stub's registers match the fingerprint's). The run, or undefined when it could not be counted
 * (nothing was run) or a trap was recorded inside a stub (the run must be done
 * again without: the process is then at `target`).
 */
export async function searchToCountedEnd(proc: ReplayedProcess, timeline: Timeline, target: Mark, trapped: bigint[]): Promise<{ run?: TimelineRun; ran: boolean }> {
  // gdb's traps are in already (the caller's): only kept clear of the patch here
  // an end named by its fingerprint: the stub compares registers, so only near-matches trap
  const site: CounterSite = target.n ? { pc: target.pc, target: target.n } : { pc: target.pc, fp: target.fp };
  const r = await runCounted(proc, timeline, [site], target, true, [], undefined, trapped);
  if ('refused' in r) return { ran: !!r.moved };
  const hit = r.run.lastHit;
  if (hit && r.pages.some((p) => hit.pc >= p && hit.pc < p + COUNTER_PAGES_SIZE)) return { ran: true };
  return { run: r.run, ran: true };
}

/**
 * Runs from m's base (where the process stands) to m's arrival with a counter at
 * its pc: true when it got there (or the user interrupted it: the caller checks),
 * false when the pc cannot be counted (nothing was run then).
 */
export async function runToArrivalCounted(proc: ReplayedProcess, timeline: Timeline, m: Mark): Promise<boolean> {
  const r = await runCounted(proc, timeline, [{ pc: m.pc, target: m.n }], m, false, []);
  if ('refused' in r) return false;
  if (!r.reached && !r.run.interrupted) throw new NotRetraced(`cannot reach arrival ${m.n} at 0x${m.pc.toString(16)} in interval ${m.e}`);
  return true;
}

/**
 * From a counting base in interval e (where the process stands), to data trigger
 * k of `slots`, counting the arrivals at pc (the instruction after the write) in
 * the process: the position there with its exact count, as a run with a silent
 * breakpoint at pc would name it but without a trap per arrival. Undefined when pc
 * cannot be counted, or the trigger did not stop at pc (the process must then be
 * brought back to the base: it ran).
 */
export async function reachWatchCounted(proc: ReplayedProcess, timeline: Timeline, traps: Traps, e: number, k: number, slots: SlotSet, pc: bigint): Promise<{ pos?: RunPosition; ran: boolean }> {
  await traps.install([], slots);
  const host = counterHost(proc);
  const installed = 'refused' in host ? host : await installCounters(host, [{ pc }], [await ripOf(proc.runningPid)]);
  if ('refused' in installed) {
    refusedHere(proc, installed.refused);
    return { ran: false };
  }
  let run: TimelineRun;
  try {
    run = await timeline.run({ action: 'continue' }, e + 1, { target: { kind: TargetKind.watchTrigger, event: e, n: k }, counterTraps: [], counterSeq: installed.seq });
  } catch (e) {
    await removeCounters(installed).catch(() => undefined);
    throw e;
  }
  const reached = run.stop.kind === 'stopped' && run.stop.reason === 'target';
  const [reading] = reached ? await readCounters(installed) : [];
  const at = reached ? await ripOf(proc.runningPid) : undefined;
  if (proc.pid) await removeCounters(installed);
  countedHere(proc, reached ? [reading] : []);
  if (!reached || !run.position || at !== pc) return { ran: true };
  // the trap comes before the instruction at pc runs: this arrival is not counted yet
  return { pos: { ...run.position, at: pc, n: reading.count + 1, exact: true }, ran: true };
}
