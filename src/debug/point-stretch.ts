// The stretch before an asynchronous signal's point under the debugger
// (docs/timeline.md, "Under a debugger"): the debug run itself runs the program from
// the thread's previous event to the point, with gdb's breakpoints, stepping and
// counting (addon/debugger_point.cc), so that stretch is ordinary interval time whose
// every position is reachable forwards and backwards. Here: arming a point for a run
// (the filter's pages mapped near pc, its code planned from the program's bytes) and
// applying the point once the run found it (the pages unmapped, the signal handed to
// the replay loop's next resume). The pages stay mapped while the process stands in
// the stretch, so a checkpoint taken there has them: arming again finds them.
import { readFileSync } from 'node:fs';
import type { TraceReader } from '../history/index.js';
import type { AsyncPointInfo } from '../history/events.js';
import { native, type NativeRunPoint, type NativeTracee } from '../native/addon.js';
import { FILTER_ARRIVALS, FILTER_SIZE } from '../points/filter-stub.js';
import { filterFor, filterPlace } from '../points/process-code.js';
import { excludedOf, mapFilterPages, PointNotFoundError, pointWhat, unmapFilterPages, valuesOf } from '../points/replay-point.js';

/**
 * Where each point's filter lives, per trace (event index -> base): the same address
 * in every copy of the process, so a copy taken in the stretch (which holds the
 * pages) and a fresh replay of it agree.
 */
const basesOf = new WeakMap<TraceReader, Map<number, bigint>>();

/** The process has a mapping starting at `addr` (the filter's pages, left by an earlier arming). */
function mappedAt(pid: number, addr: bigint): boolean {
  const start = addr.toString(16);
  return readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').some((l) => l.startsWith(`${start}-`));
}

/**
 * Prepares process `tracee`, standing in the stretch before event `index` (an
 * async-point), for a debug run that finds the point itself: what the run's
 * `point` option takes. The caller lifts gdb's breakpoints around this call: the
 * filter is planned from the program's own bytes at pc.
 */
export async function armPoint(tracee: NativeTracee, trace: TraceReader, index: number, tid: number, point: AsyncPointInfo, targetFirst: boolean): Promise<NativeRunPoint> {
  const what = pointWhat(tid, index, point);
  const n = native();
  const pid = tracee.pid;
  const pc = BigInt(point.pc);
  const regs = Buffer.from(point.regs, 'hex');
  const none = Buffer.alloc(0);
  if (targetFirst) {
    // The run's target is in the stretch: it ends there, before the point, and uses
    // neither the filter nor its pages (a counted run's stubs may be where they go).
    return { pc, regs, hash: Buffer.alloc(16), excluded: [], trapAfter: 0n, miss: 0n, original: none, patch: none, arrivals: 0n };
  }
  const fail = (why: string) => new PointNotFoundError(`divergence: ${what} (pc ${point.pc}) was not found: ${why}`);
  let bases = basesOf.get(trace);
  if (!bases) basesOf.set(trace, (bases = new Map()));
  const hash = Buffer.from(point.hash, 'hex');
  // No filter where none fits (a spin's code, replay-point.ts reachTrapped): an empty
  // patch, and the run judges every arrival at an int3 (debugger_point.cc).
  const trapped: NativeRunPoint = { pc, regs, hash, excluded: excludedOf(point), trapAfter: pc + 1n, miss: 0n, original: none, patch: none, arrivals: 0n };
  let base = bases.get(index);
  if (base === undefined || !mappedAt(pid, base)) {
    base ??= filterPlace(pid, pc);
    if (base === undefined) return trapped;
    await mapFilterPages(pid, base, fail);
    bases.set(index, base);
  }
  const plan = await filterFor(pid, base, regs, valuesOf(point), true);
  if ('refused' in plan) {
    await unmapFilterPages(pid, base);
    bases.delete(index);
    return trapped;
  }
  const original = await n.readMemory(pid, pc, plan.patch.length);
  await n.writeMemory(pid, base, plan.image);
  const excluded = [...excludedOf(point), base, base + FILTER_SIZE];
  return { pc, regs, hash, excluded, trapAfter: plan.trapAfter, miss: plan.miss, original, patch: plan.patch, arrivals: base + FILTER_ARRIVALS };
}

/** The run found the point: the filter's pages go, and the replay loop's next resume delivers the signal there. */
export async function applyPoint(tracee: NativeTracee, trace: TraceReader, index: number, point: AsyncPointInfo): Promise<void> {
  const base = basesOf.get(trace)?.get(index);
  if (base !== undefined && mappedAt(tracee.pid, base)) await unmapFilterPages(tracee.pid, base);
  // a thread switch delivers nothing (docs/timeline.md, "Threads: preemption")
  if ('signal' in point.what) await native().replayDeliverAtPoint(tracee, point.what.signal, Buffer.from(point.what.siginfo, 'hex'));
}
