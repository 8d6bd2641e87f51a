// Naming an asynchronous signal's point while recording (docs/preemption.md,
// docs/timeline.md "Signals"): the record loop stopped at a signal that arrived
// while the program computed (addon/record_preempt.h, stop 'async-signal'). The
// point may move later before it is named (the kernel delivers a signal at any
// later instruction boundary), which the recorder uses to make the replay's search
// fast, never for correctness (a point named anywhere is exact):
//  1. a rep-string instruction stopped between two iterations is finished first (no
//     arrival at its pc names such a point);
//  2. one probe: the next arrival at pc. If the registers and the loop's values come
//     back unchanged while the state changed, the name is weak there (memcpy called
//     from a counting loop: the count is out of the code's sight), so the point moves
//     out to the caller when pc is in a leaf function (the return address at rsp
//     follows a call).
// Then it is named (registers, loop values, state hash) and its signal delivered.
// Also what the threads work calls to preempt a thread: name the point where a
// stopped thread stands.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getReg } from '../arch/registers.js';
import { repStringLength } from '../arch/rep-string.js';
import type { AsyncPointInfo } from '../history/events.js';
import { native, preloadLibraryPath, type NativeRecording } from '../native/addon.js';
import { readMaps } from '../replay/proc-maps.js';
import { comparableRegs, REPLAY_REGION } from './point-state.js';
import { loopOperands, loopValues, type CodeWindow, type LoopValue } from './loop-operands.js';
import { codeAround, filterFor, filterPlace } from './process-code.js';

/** CPU time a steering run may take before the point is named where the process stands (ticks; only speed depends on it). */
const STEER_BUDGET_TICKS = 10;
/** instructions the point may move on to find code the replay's filter fits */
export const FILTER_STEPS = 32;

export interface RecordedPoint {
  /** the syscall buffer's records of calls made while steering: they go into the trace before the point */
  before: Buffer;
  /** the point; absent when it was given up (the signal then waits for the next syscall, as before points) */
  point?: AsyncPointInfo;
}

async function valuesAt(pid: number, regs: Buffer, around: CodeWindow): Promise<LoopValue[]> {
  const ops = loopOperands(around, getReg(regs, 'rip'));
  return loopValues(ops, regs, (addr, len) => native().readMemory(pid, addr, len));
}

/** The page of the untraced syscall an exec'd image's library uses (addon/preload/rwpreload.c). */
const UNTRACED_PAGE = 0x6ffd00000000n;

/** pc is in the syscall buffer's preload library (mapped from librwpreload.so), or in its page after an exec. */
export function inPreloadLibrary(pid: number, pc: bigint): boolean {
  if (pc >= UNTRACED_PAGE && pc < UNTRACED_PAGE + 4096n) return true;
  return readMaps(pid).some((m) => pc >= m.start && pc < m.end && path.basename(m.name) === path.basename(preloadLibraryPath()));
}

/** The return address at rsp follows a call (e8 rel32, or ff /2 of 2, 3 or 6 bytes): pc is then in a function called from there. */
async function returnAddress(pid: number, rsp: bigint): Promise<bigint | undefined> {
  const word = await native().readMemory(pid, rsp, 8);
  if (word.length !== 8) return undefined;
  const ret = word.readBigUInt64LE(0);
  const code = await native().readMemory(pid, ret - 8n, 8);
  if (code.length !== 8) return undefined;
  const afterCall = code[3] === 0xe8 || (code[6] === 0xff && (code[7] & 0x38) === 0x10) ||
    (code[5] === 0xff && (code[6] & 0x38) === 0x10) || (code[2] === 0xff && (code[3] & 0x38) === 0x10);
  return afterCall ? ret : undefined;
}

function sameValues(a: LoopValue[], b: LoopValue[]): boolean {
  return a.length === b.length && a.every((v, i) => v.addr === b[i].addr && v.size === b[i].size && v.value === b[i].value);
}

/** The process's user CPU time (clock ticks), which bounds the replay's search. */
function userTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11]);
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** What a point's state hash leaves out: the replay's own region, and the process's syscall buffers (start, end pairs, from the loop's stop: the first thread's and each thread's own). */
export function pointExclusions(buffer: bigint[] | undefined): [bigint, bigint][] {
  const excluded: [bigint, bigint][] = [REPLAY_REGION];
  for (let i = 0; buffer && i + 1 < buffer.length; i += 2) excluded.push([buffer[i], buffer[i + 1]]);
  return excluded;
}

/** The name of the state where a stopped process stands (its registers `regs`), as an async-point event holds it. */
export type StateName = Pick<AsyncPointInfo, 'pc' | 'regs' | 'loopValues' | 'hash' | 'excluded' | 'userTicks'>;

/**
 * Names the state where stopped process `pid` stands: the registers, the loop's
 * values, the state hash without `excluded`. undefined when no filter fits the code
 * at pc, unless `trapped`: the replay then finds it with an int3 at pc, judging every
 * arrival (replay-point.ts, reachTrapped), slower but as exact.
 * What the threads work calls to preempt a thread where it stands.
 */
export async function nameState(pid: number, regs: Buffer, excluded: [bigint, bigint][], trapped = false): Promise<StateName | undefined> {
  const n = native();
  const pc = getReg(regs, 'rip');
  // the code is read once for the values and the plan (a round trip to the tracer thread each)
  const around = await codeAround(pid, pc);
  const values = await valuesAt(pid, regs, around);
  const plan = await filterFor(pid, filterPlace(pid, pc) ?? pc, regs, values, false, { now: regs, around });
  if ('refused' in plan && !trapped) return undefined;
  return {
    pc: hex(pc),
    regs: regs.toString('hex'),
    loopValues: values.map((v) => ({ addr: hex(v.addr), size: v.size, value: hex(v.value) })),
    hash: (await n.stateHash(pid, excluded.flat())).toString('hex'),
    excluded: excluded.map(([a, b]) => [hex(a), hex(b)]),
    userTicks: userTicks(pid),
  };
}

export function countRecords(records: Buffer): number {
  let n = 0;
  for (let at = 0; at + 4 <= records.length; at += records.readUInt32LE(at)) n++;
  return n;
}

/**
 * The point where process `pid`, stopped by `signal` while it computed, gets it.
 * It is given up when a syscall or another stop comes while steering, or when the
 * replay could not find it (no filter fits its code). The caller writes `before`,
 * then the point's event, then calls recording.pointDeliver(pid).
 */
export async function nameSignalPoint(recording: NativeRecording, pid: number, signal: number, siginfo: Buffer,
  trace: { eventsOf(tid: number): number }, buffer: bigint[] | undefined): Promise<RecordedPoint> {
  const n = native();
  const excluded = pointExclusions(buffer);
  const flat = excluded.flat();
  const steps: Buffer[] = [];
  let regs = await n.getRegs(pid);
  let steered = 'none';
  // 'arrived' at addr, 'stopped' elsewhere (its CPU budget ran out), or 'given-up'
  const runTo = async (addr: bigint, rsp: bigint): Promise<'arrived' | 'stopped' | 'given-up'> => {
    const r = await recording.pointRunTo(pid, addr, rsp, STEER_BUDGET_TICKS);
    if (!r) return 'given-up';
    steps.push(r.events);
    regs = r.regs;
    return r.arrived ? 'arrived' : 'stopped';
  };
  const pc0 = getReg(regs, 'rip');
  if (inPreloadLibrary(pid, pc0)) {
    // The syscall buffer's library runs other code in the replay (calls served from
    // its feed): a point in it may never come. Held back, the signal is sent again
    // while the program waits (addon/record_processes.cc) and placed then.
    await recording.pointHoldBack(pid);
    return { before: Buffer.alloc(0) };
  }
  const rep = repStringLength(await n.readMemory(pid, pc0, 16), pc0);
  if (rep) {
    const r = await runTo(pc0 + BigInt(rep), 0n);
    if (r === 'given-up') return { before: Buffer.concat(steps) };
    steered = 'rep';
  }
  // The probe: one more arrival at pc.
  const first = regs;
  // the code at pc does not change between the two arrivals: read once
  const around = await codeAround(pid, getReg(first, 'rip'));
  const v1 = await valuesAt(pid, first, around);
  const h1 = await n.stateHash(pid, flat);
  const probe = await runTo(getReg(first, 'rip'), 0n);
  if (probe === 'given-up') return { before: Buffer.concat(steps) };
  if (probe === 'arrived') {
    if (steered === 'none') steered = 'next';
    const v2 = await valuesAt(pid, regs, around);
    const h2 = await n.stateHash(pid, flat);
    const weak = comparableRegs(first).equals(comparableRegs(regs)) && sameValues(v1, v2) && !h1.equals(h2);
    const ret = weak ? await returnAddress(pid, getReg(regs, 'rsp')) : undefined;
    if (ret !== undefined) {
      const r = await runTo(ret, getReg(regs, 'rsp') + 8n);
      if (r === 'given-up') return { before: Buffer.concat(steps) };
      if (r === 'arrived') steered = 'caller';
    }
  }
  // Where the filter cannot be put (a jump back of two bytes at pc, say), a few
  // instructions on it can: the point moves on, one instruction at a time.
  let state = await nameState(pid, regs, excluded);
  for (let i = 0; !state && i < FILTER_STEPS; i++) {
    if (await runTo(0n, 0n) === 'given-up') return { before: Buffer.concat(steps) };
    steered = 'stepped';
    state = await nameState(pid, regs, excluded);
  }
  const before = Buffer.concat(steps);
  if (!state) {
    await recording.pointHoldBack(pid);
    return { before };
  }
  const point: AsyncPointInfo = {
    // its events before the point: those in the trace and those the buffer served while steering
    threadEvent: trace.eventsOf(pid) + countRecords(before),
    ...state,
    steered,
    what: { signal, siginfo: siginfo.toString('hex') },
  };
  return { before, point };
}
