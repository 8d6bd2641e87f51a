// What every replay of a trace does, whether headless (Replayer) or under gdb
// (DebugSession): start the stub and rebuild the recorded address space, handle
// the events the native loop leaves to JS, and word the ways a replay can end.
import * as fs from 'node:fs';
import type { TraceReader } from '../history/index.js';
import { decodeEvent, type ExecSnapshot } from '../history/events.js';
import { native, type NativeTracee } from '../native/addon.js';
import { rebuildAddressSpace } from './address-space.js';
import { applyFileData, applyMapFile } from './emulated-files.js';
import { tracerCpu } from '../arch/cpu.js';
import { setReg } from '../arch/registers.js';
import { STUB_BASE, stubPath } from './stub.js';
import { syscallName } from '../syscalls/names.js';
import { checkCpuForReplay, cpuidAfterMap, cpuidAfterRebuild, cpuidBeforeMap, cpuidBeforeRebuild } from '../cpuid/replaying.js';

/** The exec event every trace starts with. */
export function firstExec(trace: TraceReader): { snapshot: ExecSnapshot; tid: number } {
  if (trace.eventCount === 0) {
    throw new Error(trace.truncated
      ? 'the trace is incomplete: it was cut off before its first event was complete'
      : 'the trace holds no events');
  }
  const first = decodeEvent(trace.record(0));
  if (first.kind !== 'exec') throw new Error('the trace does not start with an exec event');
  return { snapshot: first.snapshot, tid: first.tid };
}

/**
 * A stub process turned into the recorded program at its first instruction. The
 * caller owns the returned Tracee: close() it (which kills the process) when done.
 */
export async function startReplayProcess(trace: TraceReader, snapshot: ExecSnapshot): Promise<NativeTracee> {
  const n = native();
  n.configure({ cpu: tracerCpu() });
  await checkCpuForReplay(trace, snapshot);
  const devnull = fs.openSync('/dev/null', 'r+');
  let pid: number;
  try {
    pid = await n.spawn({ path: stubPath(), argv: ['rewind-stub'], envp: [], trapTsc: true, stdio: [devnull, devnull, devnull] });
  } finally {
    fs.closeSync(devnull);
  }
  const tracee = new n.Tracee(pid);
  try {
    await cpuidBeforeRebuild(tracee, trace);
    await rebuildAddressSpace(pid, trace, snapshot);
    await cpuidAfterRebuild(tracee, trace, snapshot);
    // It replays the first process's events only; its children are not created.
    await tracee.setProcess(firstExec(trace).tid, false, trace.meta.version >= 4);
  } catch (e) {
    await tracee.close();
    throw e;
  }
  return tracee;
}

/**
 * The process stands at the entry of an execve that succeeded when recorded
 * (native stop reason 'exec'): it execs the stub instead, and the exec event at
 * `index` rebuilds the new program's recorded address space around it.
 * `leader`: `tracee` is a thread other than its process's first, which `leader`
 * is; the process goes on at the leader's pid (addon/replay_thread_exec.h), and
 * `leader` stands for it from then on.
 */
export async function replayExec(tracee: NativeTracee, trace: TraceReader, index: number, leader?: NativeTracee): Promise<void> {
  const n = native();
  const pid = tracee.pid;
  const ev = index < trace.eventCount ? decodeEvent(trace.record(index)) : undefined;
  if (ev?.kind !== 'exec') throw new Error(`event ${index}: the recording has no exec snapshot after a successful execve`);
  const scratch = STUB_BASE + 0x800n; // the stub page after its code: the old image goes away anyway
  const argv = Buffer.alloc(24);
  argv.writeBigUInt64LE(scratch + 0x100n, 0);
  // sent together: the tracer thread takes them in one wake (each call alone is a round trip)
  const [regs] = await Promise.all([
    n.getRegs(pid),
    n.writeMemory(pid, scratch, Buffer.from(stubPath() + '\0')),
    n.writeMemory(pid, scratch + 0x100n, Buffer.from('rewind-stub\0')),
    n.writeMemory(pid, scratch + 0x200n, argv),
  ]);
  setReg(regs, 'orig_rax', 59n); // execve (the program may have called execveat)
  setReg(regs, 'rdi', scratch);
  setReg(regs, 'rsi', scratch + 0x200n);
  setReg(regs, 'rdx', scratch + 0x210n); // an empty envp: the NULL after argv's NULL
  if (leader) {
    await n.setRegs(pid, regs);
    await n.execFromThread(leader, tracee);
  } else {
    // the registers, the exec's entry and its return: sent together (one wake)
    const calls = [n.setRegs(pid, regs), n.resumeAndWait(pid, 'syscall', 0), n.resumeAndWait(pid, 'syscall', 0)] as const;
    await Promise.allSettled(calls);
    await calls[0];
    const [entry, exit] = [await calls[1], await calls[2]];
    if (entry.kind !== 'event') throw new Error(`event ${index}: re-exec of the replay stub failed (${entry.kind} ${entry.signal})`);
    if (exit.kind !== 'syscall') throw new Error(`event ${index}: no execve return after re-exec of the replay stub`);
  }
  const process = leader ?? tracee;
  // sent ahead of the rebuild's first calls and settled with them
  const sent = [process.setBrk(0n), cpuidBeforeRebuild(process, trace)];
  await rebuildAddressSpace(process.pid, trace, ev.snapshot, sent);
  await cpuidAfterRebuild(process, trace, ev.snapshot);
}

/**
 * An event the native loop leaves to JS (native stop reason 'need-js'). Returns
 * why the history ends there, or undefined to go on with the next event.
 */
export async function applyJsEvent(tracee: NativeTracee | undefined, trace: TraceReader, index: number): Promise<string | undefined> {
  const ev = decodeEvent(trace.record(index));
  if (!tracee && ev.kind !== 'stop') throw new Error(`event ${index}: a ${ev.kind} event of no replayed process`);
  switch (ev.kind) {
    case 'map-file':
      if (!tracee) break;
      await cpuidBeforeMap(tracee, trace, ev.map);
      await applyMapFile(tracee.pid, trace, ev.map);
      await cpuidAfterMap(tracee, trace, ev.map);
      return undefined;
    case 'file-data':
      if (!tracee) break;
      await applyFileData(tracee.pid, trace, ev.data);
      return undefined;
    case 'stop':
      return ev.reason;
    case 'async-point':
      if (!tracee) break;
      // an asynchronous signal where it arrived: reached by its state (src/points)
      // loaded here, not at start: the points' code loads the x86 decoder (scripts/bundle.mjs)
      const { reachSignalPoint } = await import('../points/replay-point.js');
      await reachSignalPoint(tracee, ev.tid, index, ev.point);
      return undefined;
    default:
      throw new Error(`event ${index}: unexpected ${ev.kind} event left to the replayer`);
  }
}

/** Replaces `syscall 1 (0x1, ...)` with `write(0x1, ...)` in native descriptions. */
function nameCalls(text: unknown): string {
  return String(text).replace(/syscall (\d+) \(/g, (_, nr) => `${syscallName(Number(nr))}(`);
}

export function divergenceMessage(event: number, expected: unknown, actual: unknown): string {
  return `replay diverged from the recording at event ${event}: the recording has ${nameCalls(expected)}, the replay made ${nameCalls(actual)}`;
}

/** Why a replay ran out of events before the program's exit. */
export function endOfTraceMessage(trace: TraceReader): string {
  return trace.truncated
    ? `the trace was cut off after event ${trace.eventCount - 1} (the recorder did not finish)`
    : `the trace ends after event ${trace.eventCount - 1} without the program's exit`;
}
