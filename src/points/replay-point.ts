// Reaching an asynchronous signal's point in a replay (docs/preemption.md,
// docs/timeline.md "Signals"): the replayed process stands after the thread's event
// before the point. The filter (filter-stub.ts) is mapped near pc (an mmap injected
// at the replay stub's syscall, as checkpoints inject clone) and patched over pc;
// addon/replay_points.cc runs the program and confirms each candidate with the
// state hash; then the code is put back, the filter's pages unmapped, and the
// signal is handed to the replay loop, whose next resume delivers it with its
// recorded siginfo, as for a recorded signal. A point that does not come is a
// divergence that names the process, the event and the reason.
import * as os from 'node:os';
import type { AsyncPointInfo } from '../history/events.js';
import { native, type NativeTracee } from '../native/addon.js';
import { STUB_SYSCALL } from '../replay/stub.js';
import { FILTER_SIZE } from './filter-stub.js';
import type { LoopValue } from './loop-operands.js';
import { PointNotFoundError } from './point-not-found.js';
import { countPoint } from './point-counts.js';
import { getReg } from '../arch/registers.js';
import { codeAround, filterFor, filterPlace } from './process-code.js';

const NR_MMAP = 9, NR_MUNMAP = 11;
const PROT_RWX = 7n;
const MAP_PRIVATE_ANONYMOUS_FIXED_NOREPLACE = 0x2n | 0x20n | 0x100000n;
/** clock ticks of CPU time beyond 10x the recorded user time before a search gives up (1 s at USER_HZ 100) */
const BUDGET_SLACK_TICKS = 100;

/** SIGALRM for 14: how points name their signals in messages. */
export function signalName(sig: number): string {
  const name = Object.entries(os.constants.signals).find(([, n]) => n === sig)?.[0];
  return name ?? `signal ${sig}`;
}

export { PointNotFoundError } from './point-not-found.js';

/** The point's recorded loop values, as the filter's planner takes them. */
export function valuesOf(point: AsyncPointInfo): LoopValue[] {
  return point.loopValues.map((v) => ({ addr: BigInt(v.addr), size: v.size, value: BigInt(v.value) }));
}

/** The ranges a point's state hash leaves out, as the native search takes them (start, end, start, end, ...). */
export function excludedOf(point: AsyncPointInfo): bigint[] {
  return point.excluded.flatMap(([a, b]) => [BigInt(a), BigInt(b)]);
}

/**
 * The thread may stand strictly inside the window the filter's jump is about to cover
 * (a handler returned into the middle of it, an earlier point was there): resumed
 * there it would run the jump's bytes as code. It is single-stepped out first,
 * running the program's own instructions; an arrival at pc itself is left to the
 * filter (pc is the window's start, so stepping stops there).
 */
async function stepOutOfWindow(pid: number, pc: bigint, length: number, fail: (why: string) => Error, now: Buffer): Promise<boolean> {
  const n = native();
  for (let i = 0; i < 64; i++) {
    const rip = getReg(i === 0 ? now : await n.getRegs(pid), 'rip');
    if (rip <= pc || rip >= pc + BigInt(length)) return i > 0;
    const st = await n.resumeAndWait(pid, 'step', 0);
    if (st.kind !== 'signal' || st.signal !== 5) throw fail(`stepping out of the filter's window at 0x${rip.toString(16)} stopped with ${st.kind} ${st.signal}`);
  }
  throw fail('the thread did not leave the filter\'s window in 64 steps');
}

async function inject(pid: number, nr: number, args: bigint[]): Promise<bigint> {
  return BigInt.asIntN(64, await native().injectSyscall(pid, STUB_SYSCALL, nr, args));
}

/** Maps the filter's pages at `base` in process pid (an mmap injected at the replay stub's syscall). */
export async function mapFilterPages(pid: number, base: bigint, fail: (why: string) => Error): Promise<void> {
  const mapped = await inject(pid, NR_MMAP, [base, FILTER_SIZE, PROT_RWX, MAP_PRIVATE_ANONYMOUS_FIXED_NOREPLACE, -1n, 0n]);
  if (mapped !== base) throw fail(`the filter's pages could not be mapped (mmap returned ${mapped})`);
}

/** Unmaps the filter's pages at `base`: the address space is the recorded one again. */
export async function unmapFilterPages(pid: number, base: bigint): Promise<void> {
  await inject(pid, NR_MUNMAP, [base, FILTER_SIZE, 0n, 0n, 0n, 0n]);
}

/**
 * Runs replayed process `tracee` from the thread's event before the point to the
 * point: there it stands with the recorded registers and state. `what` names the
 * point in errors ("thread 1234's SIGALRM at its event 30 ..."). What the threads
 * work calls to reach a preemption point before switching threads.
 */
export async function reachPoint(tracee: NativeTracee, point: AsyncPointInfo, what: string): Promise<{ candidates: number }> {
  const n = native();
  const pid = tracee.pid;
  const regs = Buffer.from(point.regs, 'hex');
  const pc = BigInt(point.pc);
  const fail = (why: string) => new PointNotFoundError(`divergence: ${what} (pc ${point.pc}) was not found: ${why}`);
  const budgetTicks = 10 * point.userTicks + BUDGET_SLACK_TICKS;
  const base = filterPlace(pid, pc);
  if (base === undefined) return reachTrapped(tracee, point, budgetTicks, fail);
  // Each call below is a round trip to the tracer thread, a few ms each on a loaded
  // machine, and there is one search per point: the registers and the code are read
  // with the pages' mmap (the tracer thread takes the three calls in one wake), the
  // code once.
  const [now, around] = await Promise.all([n.getRegs(pid), codeAround(pid, pc), mapFilterPages(pid, base, fail)]);
  let result: { found: boolean; why: string; candidates: number };
  let laps = false;
  // The filter's pages go in every case where the process lives on: the address
  // space is the recorded one again.
  const unmap = () => unmapFilterPages(pid, base).catch(() => undefined);
  let unmapped: Promise<unknown> | undefined;
  try {
    const plan = await filterFor(pid, base, regs, valuesOf(point), false, { now, around });
    if ('refused' in plan) {
      unmapped = unmap();
      await unmapped;
      return reachTrapped(tracee, point, budgetTicks, fail);
    }
    laps = plan.laps !== undefined;
    const stepped = await stepOutOfWindow(pid, pc, plan.patch.length, fail, now);
    const original = stepped ? await n.readMemory(pid, pc, plan.patch.length) : plan.original;
    // The filter, then the jump to it, then the search, sent together: the tracer thread
    // runs them in order in one wake (one round trip per point fewer, each a scheduling
    // delay on a loaded machine). A write that fails is the error reported; the search
    // behind it has then run on a process this replay gives up.
    const wrote = Promise.all([n.writeMemory(pid, base, plan.image), n.writeMemory(pid, pc, plan.patch)]);
    const excluded = [...excludedOf(point), base, base + FILTER_SIZE];
    const search = n.reachPoint(tracee, {
      pc, regs, hash: Buffer.from(point.hash, 'hex'), excluded, trapAfter: plan.trapAfter, miss: plan.miss, original,
      budgetTicks, flagsDead: plan.flagsDead,
    });
    unmapped = unmap();  // sent now: the tracer thread runs it right after the search, whatever the search ends with
    [, result] = await Promise.all([wrote, search]);
  } finally {
    await (unmapped ?? unmap());
  }
  if (!result.found) throw fail(`${result.why} (${result.candidates} candidates had the recorded registers and loop values)`);
  countPoint(laps ? 'laps' : 'filter');
  return { candidates: result.candidates };
}

/**
 * The search where no filter can be put (a spin loop whose every byte is a branch
 * target, as glibc's pthread_spin_lock wait): an int3 at pc, each arrival judged by
 * the tracer and the instruction stepped over on a miss (miss 0). Slower per
 * arrival, as exact.
 */
async function reachTrapped(tracee: NativeTracee, point: AsyncPointInfo, budgetTicks: number, fail: (why: string) => Error): Promise<{ candidates: number }> {
  const n = native();
  const pc = BigInt(point.pc);
  const original = await n.readMemory(tracee.pid, pc, 1);
  await n.writeMemory(tracee.pid, pc, Buffer.from([0xcc]));
  const result = await n.reachPoint(tracee, {
    pc, regs: Buffer.from(point.regs, 'hex'), hash: Buffer.from(point.hash, 'hex'), excluded: excludedOf(point), trapAfter: pc + 1n, miss: 0n, original, budgetTicks,
  });
  if (!result.found) throw fail(`${result.why} (${result.candidates} arrivals at its int3 had the recorded registers)`);
  countPoint('trapped');
  return { candidates: result.candidates };
}

/** How errors name a point: "thread 1234's SIGALRM at its event 30 (event 95 of the trace)", or its preemption. */
export function pointWhat(tid: number, index: number, point: AsyncPointInfo): string {
  const happens = 'signal' in point.what ? signalName(point.what.signal) : 'preemption';
  return `thread ${tid}'s ${happens} at its event ${point.threadEvent} (event ${index} of the trace)`;
}

/**
 * Reaches an asynchronous signal's point and has the replay loop's next resume
 * deliver the signal there; a preemption's point (what: switch) is only reached:
 * the thread stays there, and the next record is another thread's.
 */
export async function reachSignalPoint(tracee: NativeTracee, tid: number, index: number, point: AsyncPointInfo): Promise<void> {
  await reachPoint(tracee, point, pointWhat(tid, index, point));
  if ('signal' in point.what) await native().replayDeliverAtPoint(tracee, point.what.signal, Buffer.from(point.what.siginfo, 'hex'));
}
