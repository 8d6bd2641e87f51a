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
}

/** The trace's last event if it is the exit of the first process (another's, in a trace of several: null). */
function rootExit(trace: TraceReader, tid: number): number | null {
  const last = trace.eventCount - 1;
  if (last < 1) return null;
  const e = decodeEvent(trace.record(last));
  return e.kind === 'exit' && (e.tid === tid || trace.meta.version < 4) ? last : null;
}

/**
 * The process to debug: `process` if given, else the first. The first process's history
 * starts at the trace's start, unless an exec ended its threads (then after that exec).
 */
export function debuggedTarget(trace: TraceReader, process?: RecordedProcess): DebuggedTarget {
  const p = process ?? (trace.meta.version >= 5 ? recordedProcesses(trace)[0] : undefined);
  if (!p || (!p.parent && !debuggedFromExec(p))) {
    const { snapshot, tid } = firstExec(trace);
    return { snapshot, tid, firstEvent: 1, exitEvent: rootExit(trace, tid), process: p };
  }
  // after its last exec, in the program it exec'd, if it exec'd; else at its fork's return
  const { snapshot, tid, event } = debugStartOf(trace, p);
  const exitEvent = p.parent ? p.end?.event ?? null : rootExit(trace, tid);
  return { snapshot, tid, firstEvent: event + 1, exitEvent, process: p };
}

/** Its replayed process at its first instruction; the caller owns (and closes) the Tracee. */
export async function startTarget(trace: TraceReader, target: DebuggedTarget): Promise<NativeTracee> {
  if (target.firstEvent === 1) return startReplayProcess(trace, target.snapshot);
  return (await (await Replayer.start(trace)).handOver(target.tid, target.firstEvent)).tracee;
}
