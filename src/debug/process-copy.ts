// A stopped copy of the replayed process, whatever its thread count: what a
// checkpoint holds and what a restore makes again (docs/timeline.md, "gdb with
// threads"). A process that has made no thread is copied by fork (one Tracee); one
// that has is copied by forkReplayed (addon/replay_thread_copy.h): every thread
// re-created in the copy, each with a Tracee that carries its original's replay, so
// that the copy replays on from where the original stood. The engine sees one
// `ProcessCopy` either way; only this file knows which call makes it.
import { native, type NativeSlice, type NativeTracee, type ProcessDebugger, type ReplayedThread } from '../native/addon.js';
import { STUB_SYSCALL } from '../replay/stub.js';

export interface ProcessCopy {
  /** the process: the copy of its first thread, the Tracee a Debugger is made for */
  readonly tracee: NativeTracee;
  /**
   * the copies of its other threads by recorded tid; undefined: a copy of a process
   * that has made no thread (an empty map: one that made threads, all ended since)
   */
  readonly threads?: ReadonlyMap<number, NativeTracee>;
}

/**
 * forkReplayed refuses a process it cannot copy as a whole, changing nothing: one
 * that is ending (an exit_group or a fatal signal under way: EBUSY), one whose
 * first thread is gone (ESRCH). No copy is taken there; anything else is a bug.
 */
const NOT_COPYABLE = new Set(['EBUSY', 'ESRCH']);

function fromReplayed(copies: ReplayedThread[]): ProcessCopy {
  // forkReplayed's first entry is the copy of the thread it was given: the process's
  const [first, ...others] = copies;
  return { tracee: first.tracee, threads: new Map(others.map((c) => [c.recordedTid, c.tracee])) };
}

/**
 * A copy of the debugged process where it stands (without gdb's int3s), or
 * undefined where a process of several threads cannot be copied (NOT_COPYABLE).
 * `threaded`: the process has made a thread (ProcessThreads.made).
 */
export async function copyDebugged(d: ProcessDebugger, threaded: boolean): Promise<ProcessCopy | undefined> {
  if (!threaded) return { tracee: await d.forkCopy(STUB_SYSCALL) };
  try {
    return fromReplayed(await d.forkReplayed(STUB_SYSCALL));
  } catch (e) {
    if (NOT_COPYABLE.has((e as { code?: string }).code ?? '')) return undefined;
    throw e;
  }
}

/** The copy a debug run left at a slice time (addon/debugger_slices.cc). */
export function copyOfSlice(s: NativeSlice): ProcessCopy {
  return { tracee: s.tracee, threads: s.threads && new Map(s.threads.map((c) => [c.recordedTid, c.tracee])) };
}

/** A fresh copy of a copy, which stays as it is (a checkpoint restored). */
export async function copyAgain(c: ProcessCopy): Promise<ProcessCopy> {
  if (!c.threads) return { tracee: await c.tracee.forkCopy(STUB_SYSCALL) };
  return fromReplayed(await native().forkReplayed(c.tracee, STUB_SYSCALL));
}

/** Every Tracee of the copy, the process's first. */
export function traceesOf(c: ProcessCopy): NativeTracee[] {
  return [c.tracee, ...(c.threads?.values() ?? [])];
}

/** Kills the copy (closing one Tracee kills every thread) and lets all its Tracees go. */
export async function closeCopy(c: ProcessCopy): Promise<void> {
  for (const t of traceesOf(c)) if (!t.closed) await t.close();
}
