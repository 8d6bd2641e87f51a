// Which recorded process a debug session debugs (the first, or the one `replay
// --pid` names), where its history starts and ends in the trace, and its replayed
// process brought to its first instruction: the first process's from a fresh stub,
// a child's by replaying the trace until its clone event made it (and, for a child
// that exec'd, until its last exec).
import type { TraceReader } from '../history/index.js';
import { decodeEvent, type ExecSnapshot } from '../history/events.js';
import type { NativeTracee } from '../native/addon.js';
import { debuggedFromExec, debugStartOf, recordedProcesses, type RecordedProcess } from '../replay/process-tree.js';
import { firstExec, startReplayProcess } from '../replay/replay-process.js';
import { Replayer } from '../replay/replayer.js';

export interface DebuggedTarget {
  /** the address space it starts with */
  snapshot: ExecSnapshot;
  /** its recorded pid */
  tid: number;
  /** the index of its first event: 1, or its clone event's + 1, or its last exec's + 1 (a child that exec'd) */
  firstEvent: number;
  /** the index of its recorded exit (null: the history has none) */
  exitEvent: number | null;
  /** what the trace says of it (format 5 on, where a process may have threads) */
  process?: RecordedProcess;
  /**
   * The index of its first thread's entry into exit when that thread ended before the
   * others (pthread_exit in main). The kernel reports that exit only once the others
   * are gone, so the thread's last records come at the process's end; from this entry
   * on it is gone as natively (gdb's thread list, the thread a stop names).
   */
  firstThreadExit?: number;
}

/** The trace's last event if it is the exit of the first process (another's, in a trace of several: null). */
function rootExit(trace: TraceReader, tid: number): number | null {
  const last = trace.eventCount - 1;
  if (last < 1) return null;
  const e = decodeEvent(trace.record(last));
  return e.kind === 'exit' && (e.tid === tid || trace.meta.version < 4) ? last : null;
}

const NR_EXIT = 60;
const NR_EXIT_GROUP = 231;

/** The first thread's call of exit, when it ended before its process (its delayed return is the record before the process's exit): see DebuggedTarget. */
function firstThreadExit(trace: TraceReader, exit: number | null, p: RecordedProcess | undefined): number | undefined {
  if (exit === null || !p?.threads?.length || exit < 2) return undefined;
  const isDelayedReturn = (e: ReturnType<typeof decodeEvent>) => e.tid === p.pid && e.kind === 'syscall' && e.nr === NR_EXIT;
  if (!isDelayedReturn(decodeEvent(trace.record(exit - 1)))) return undefined;
  for (let at = exit - 2; at >= 1; at--) {
    const e = decodeEvent(trace.record(at));
    if (e.tid === p.pid) return e.kind === 'enter' && e.nr === NR_EXIT ? at : undefined;
  }
  return undefined;
}

/**
 * Where the last deaths of a process of several threads begin: its threads' exit
 * events, which are recorded before the process's own (docs/timeline.md, "Thread
 * exit"), and the exit_group call they die in (its entry's event and its own). The
 * end of the recording is the place before them, where every thread still stands
 * and the caller has not entered exit_group yet, as in a process of one thread (a run
 * that stopped at the process's own exit event would find them dead).
 */
function lastDeaths(trace: TraceReader, exit: number | null, p: RecordedProcess | undefined): number | null {
  if (exit === null || !p?.threads?.length) return exit;
  const tids = new Set([p.pid, ...p.threads]);
  let at = exit;
  for (; at > 1; at--) {
    const e = decodeEvent(trace.record(at - 1));
    // (and the delayed return of a first thread's exit, which comes after its process's exit_group)
    const delayed = e.tid === p.pid && e.kind === 'syscall' && e.nr === NR_EXIT;
    if (!tids.has(e.tid) || !(e.kind === 'exit' || delayed || ((e.kind === 'syscall' || e.kind === 'enter') && e.nr === NR_EXIT_GROUP))) break;
  }
  return at;
}

/**
 * The process to debug: `process` if given, else the first. The first process's history
 * starts at the trace's start, unless an exec ended its threads (then after that exec).
 */
export function debuggedTarget(trace: TraceReader, process?: RecordedProcess): DebuggedTarget {
  const p = process ?? (trace.meta.version >= 5 ? recordedProcesses(trace)[0] : undefined);
  if (!p || (!p.parent && !debuggedFromExec(p))) {
    const { snapshot, tid } = firstExec(trace);
    // a trace of threads (format 5): the end is where their deaths begin
    const exit = rootExit(trace, tid);
    return { snapshot, tid, firstEvent: 1, exitEvent: lastDeaths(trace, exit, p), process: p, firstThreadExit: firstThreadExit(trace, exit, p) };
  }
  // after its last exec, in the program it exec'd, if it exec'd; else at its fork's return
  const { snapshot, tid, event } = debugStartOf(trace, p);
  const exitEvent = p.parent ? p.end?.event ?? null : rootExit(trace, tid);
  return { snapshot, tid, firstEvent: event + 1, exitEvent: lastDeaths(trace, exitEvent, p), process: p, firstThreadExit: firstThreadExit(trace, exitEvent, p) };
}

/** Its replayed process at its first instruction; the caller owns (and closes) the Tracee. */
export async function startTarget(trace: TraceReader, target: DebuggedTarget): Promise<NativeTracee> {
  if (target.firstEvent === 1) return startReplayProcess(trace, target.snapshot);
  return (await (await Replayer.start(trace)).handOver(target.tid, target.firstEvent)).tracee;
}
