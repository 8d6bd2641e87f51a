// Filter plans of a replay, kept from one point to the next. A preempted loop is
// planned again at every point (threads_cpu: 210 points at one pc, ~1 ms of iced-x86
// decoding and encoding each, on the critical path: the threads wait meanwhile). The
// stub's code depends only on where it goes, the code it was planned from, its key
// and the loop values' addresses when its key is compared with dead flags (the
// recorded values are all read from the data page): such a plan is kept, and another
// point gets it with its own data page (filter-stub.ts `filterData`). Plans whose
// code holds a recorded value (the flag-free key's immediate) are not kept.
//
// The code is compared byte for byte with what the plan was made from (the window
// codeAround reads, branches into the patch included), so code that changed (another
// library mapped there, a program that writes its code) is planned again. What the
// code says before any plan (the registers the loop writes, whether the flags are
// dead at pc: iced-x86 decoding, ~0.6 ms a point) is kept the same way.
import { filterData, type FilterPlan } from './filter-stub.js';
import type { CodeWindow, LoopValue } from './loop-operands.js';
import type { UserReg } from '../arch/registers.js';

interface Kept {
  base: bigint;
  pc: bigint;
  key: UserReg;
  values: string;
  around: CodeWindow;
  plan: FilterPlan;
}

/** a few loops: the points of a process are in one or two */
const MAX_KEPT = 8;
const kept: Kept[] = [];

const valuesOf = (values: LoopValue[]) => values.map((v) => `${v.addr}:${v.size}`).join(',');
const sameCode = (a: CodeWindow, b: CodeWindow) => a.at === b.at && Buffer.compare(Buffer.from(a.bytes), Buffer.from(b.bytes)) === 0;

/** A kept plan for these inputs, with `regs` and `values` in its data page; undefined if none. */
export function keptPlan(base: bigint, pc: bigint, key: UserReg, around: CodeWindow, regs: Buffer, values: LoopValue[]): FilterPlan | undefined {
  const sig = valuesOf(values);
  const k = kept.find((e) => e.base === base && e.pc === pc && e.key === key && e.values === sig && sameCode(e.around, around));
  if (!k) return undefined;
  const code = k.plan.image.subarray(0, k.plan.image.length - 4096);
  return { ...k.plan, image: Buffer.concat([code, filterData(regs, values, k.plan.laps)]) };
}

/** Keeps a plan made from these inputs, if its code depends on them alone (its key compared with dead flags). */
export function keepPlan(base: bigint, pc: bigint, key: UserReg, around: CodeWindow, values: LoopValue[], plan: FilterPlan): void {
  if (!plan.flagsDead) return;
  kept.unshift({ base, pc, key, values: valuesOf(values), around: { at: around.at, bytes: Buffer.from(around.bytes) }, plan });
  kept.length = Math.min(kept.length, MAX_KEPT);
}

/** What the code around a pc says, whatever the point: kept as plans are, by the code's bytes. */
export interface CodeFacts {
  /** the registers the loop around pc writes (loop-operands.ts) */
  written: UserReg[];
  /** the arithmetic flags are dead at pc (dead-flags.ts) */
  flagsDead: boolean;
}

const facts: { pc: bigint; around: CodeWindow; facts: CodeFacts }[] = [];

/** The facts of the code `around` pc: kept ones if this code was seen, else `find`'s, kept. */
export function codeFacts(pc: bigint, around: CodeWindow, find: () => CodeFacts): CodeFacts {
  const k = facts.find((e) => e.pc === pc && sameCode(e.around, around));
  if (k) return k.facts;
  const found = find();
  facts.unshift({ pc, around: { at: around.at, bytes: Buffer.from(around.bytes) }, facts: found });
  facts.length = Math.min(facts.length, MAX_KEPT);
  return found;
}
