// The processes of a recording, read from its trace (docs/timeline.md,
// "Processes"): who made whom (clone events), what each ran (exec events, with
// the command line the recorder read at each exec), and how each ended (exit
// events). `rewind ps` prints it; `replay --pid` picks a process by it.
import type { TraceReader } from '../history/index.js';
import { decodeEvent, EventKind } from '../history/events.js';

export interface RecordedProcess {
  /** the pid it had when recorded */
  pid: number;
  /** its parent's recorded pid (0: the first process) */
  parent: number;
  /** the command line of its last exec (its parent's, if it never exec'd) */
  argv: string[];
  /** the event that created it (clone) or started the trace (exec) */
  firstEvent: number;
  /** how it ended; undefined if the trace ends first */
  end?: { killed: boolean; code: number };
}

/** Every process of the trace, in the order they appear. */
export function recordedProcesses(trace: TraceReader): RecordedProcess[] {
  const byPid = new Map<number, RecordedProcess>();
  const firstArgv = [String(trace.meta.program ?? ''), ...((trace.meta.args as string[] | undefined) ?? [])];
  // Only clone, exec and exit records are decoded: the others are skipped by kind.
  for (const { index, record } of trace.records(0)) {
    const kind = record[4];
    if (kind !== EventKind.Clone && kind !== EventKind.Exec && kind !== EventKind.Exit) continue;
    const e = decodeEvent(record);
    if (e.kind === 'exec') {
      const p = byPid.get(e.tid);
      const argv = e.snapshot.argv ?? (p ? p.argv : firstArgv);
      if (p) p.argv = argv;
      else byPid.set(e.tid, { pid: e.tid, parent: 0, argv, firstEvent: index });
    } else if (e.kind === 'clone') {
      const parent = byPid.get(e.tid);
      byPid.set(e.child, { pid: e.child, parent: e.tid, argv: parent ? [...parent.argv] : [], firstEvent: index });
    } else if (e.kind === 'exit') {
      const p = byPid.get(e.tid);
      if (p) p.end = { killed: e.killed, code: e.code };
    }
  }
  return [...byPid.values()];
}

/**
 * The process `which` names: a recorded pid, or a command name (the base name of
 * argv[0] of its last exec; the first process of that name).
 */
export function findProcess(procs: RecordedProcess[], which: string): RecordedProcess {
  const byPid = /^\d+$/.test(which) ? procs.find((p) => p.pid === Number(which)) : undefined;
  if (byPid) return byPid;
  const byName = procs.find((p) => (p.argv[0] ?? '').split('/').pop() === which);
  if (byName) return byName;
  const known = procs.map((p) => `${p.pid} ${(p.argv[0] ?? '?').split('/').pop()}`).join(', ');
  throw new Error(`the trace has no process ${/^\d+$/.test(which) ? 'with pid' : 'named'} ${which} (it has: ${known})`);
}
