// What the points read of a process's code: the code around a pc (for the loop's
// operands and the branches near the filter's patch), and the filter a point
// standing there would get, with a place for its pages. Shared by the recorder (a
// point it names must be one the replay can find) and the replay.
import { getReg } from '../arch/registers.js';
import { native } from '../native/addon.js';
import { readMaps, type ProcMapping } from '../replay/proc-maps.js';
import { FILTER_SIZE, planFilter, type FilterPlan, type FilterRefusal } from './filter-stub.js';
import { filterKey } from './filter-key.js';
import { flagsDeadAt } from './dead-flags.js';
import { codeFacts, keepPlan, keptPlan } from './plan-cache.js';
import { LOOP_REACH, loopWrittenRegisters, type CodeWindow, type LoopValue } from './loop-operands.js';

/** a rel32 jump's reach, with room for the stub's size */
const REACH = 0x7fff0000n;
const MIN_ADDR = 0x10000n;
const TASK_TOP = 0x7ffffffff000n;

/** The code around pc, as far back as a loop head may be and as far on as the decoder goes. */
export async function codeAround(pid: number, pc: bigint): Promise<CodeWindow> {
  const page = pc & ~0xfffn;
  const from = page - BigInt(LOOP_REACH) > 0n ? page - BigInt(LOOP_REACH) : page;
  const ahead = Number(pc - from) + 512;
  let bytes = await native().readMemory(pid, from, ahead);
  if (bytes.length <= Number(pc - from)) {
    // the page before is not mapped: from pc's own page
    return { at: page, bytes: await native().readMemory(pid, page, Number(pc - page) + 512) };
  }
  return { at: from, bytes };
}

/** A free, page-aligned place for the filter within a jump's reach of pc, closest first. */
function placeNear(maps: ProcMapping[], pc: bigint): bigint | undefined {
  let best: bigint | undefined;
  const dist = (a: bigint) => (a > pc ? a - pc : pc - a);
  const consider = (addr: bigint) => {
    if (addr < MIN_ADDR || addr + FILTER_SIZE > TASK_TOP || dist(addr) > REACH) return;
    if (best === undefined || dist(addr) < dist(best)) best = addr;
  };
  let prevEnd = MIN_ADDR;
  for (const r of [...maps].sort((x, y) => (x.start < y.start ? -1 : 1))) {
    // never just below the stack: it grows down into its guard gap
    if (r.start - prevEnd >= FILTER_SIZE && r.name !== '[stack]') {
      consider(r.start - FILTER_SIZE);
      consider(prevEnd);
    }
    if (r.end > prevEnd) prevEnd = r.end;
  }
  return best;
}

/**
 * The filter for a point standing at `regs` in process pid, at `base`: what both
 * the recorder (to check that a point it names can be found) and the replay plan.
 * Its key (filter-key.ts) is chosen from the loop around pc and where the thread
 * stands now; `countArrivals` as planFilter takes it. `read`: the thread's registers
 * now and the code around pc (codeAround), when the caller has read them already.
 */
export async function filterFor(pid: number, base: bigint, regs: Buffer, values: LoopValue[], countArrivals: boolean,
  read?: { now: Buffer; around: CodeWindow }): Promise<FilterPlan | FilterRefusal> {
  const pc = getReg(regs, 'rip');
  const around = read?.around ?? (await codeAround(pid, pc));
  const code = codeAt(around, pc, 32);
  const facts = codeFacts(pc, around, () => ({ written: loopWrittenRegisters(around, pc), flagsDead: flagsDeadAt(code, pc) }));
  const key = filterKey(regs, read?.now ?? (await native().getRegs(pid)), facts.written);
  const flagsDead = !countArrivals && key !== undefined && facts.flagsDead;
  const kept = flagsDead ? keptPlan(base, pc, key, around, regs, values) : undefined;
  if (kept) return kept;
  const laps = flagsDead && process.env.REWIND_FILTER_LAPS !== 'off';
  let plan = planFilter(base, pc, code, around, regs, values, { countArrivals, key, flagsDead, laps });
  // (the laps and the flags' key change only the stub's layout: the usual one if they cannot be encoded)
  if (laps && 'refused' in plan) plan = planFilter(base, pc, code, around, regs, values, { countArrivals, key, flagsDead });
  if (flagsDead && 'refused' in plan) return planFilter(base, pc, code, around, regs, values, { countArrivals, key });
  if (key !== undefined && !('refused' in plan)) keepPlan(base, pc, key, around, values, plan);
  return plan;
}

/**
 * The program's bytes at [pc, pc + length) out of the window read around it (as far
 * as it reaches): one read of the process instead of one per use, each a round trip
 * to the tracer thread that a loaded machine makes slow.
 */
export function codeAt(around: CodeWindow, pc: bigint, length: number): Buffer {
  const from = Number(pc - around.at);
  return Buffer.from(around.bytes.subarray(from, from + length));
}

/** Where a filter for pc could go in process pid now (undefined: no room within reach). */
export function filterPlace(pid: number, pc: bigint): bigint | undefined {
  return placeNear(readMaps(pid), pc);
}

