// The processes of a recording, read from its trace (docs/timeline.md,
// "Processes"): who made whom (clone events), what each ran (exec events, with
// the command line the recorder read at each exec), and how each ended (exit
// events). `rewind ps` prints it; `replay --pid` picks a process by it.
import type { TraceReader } from '../history/index.js';
import { CLONE_THREAD, decodeEvent, EventKind, type ExecSnapshot } from '../history/events.js';

export interface RecordedProcess {
  /** the pid it had when recorded */
  pid: number;
  /** its parent's recorded pid (0: the first process) */
  parent: number;
  /** the command line of its last exec (its parent's, if it never exec'd) */
  argv: string[];
  /** the event that created it (clone) or started the trace (exec) */
  firstEvent: number;
  /** the exec event whose image it started with (its parent's last, for a child) */
  imageEvent: number;
  /**
   * its own last exec event, for a child that exec'd: a debugger starts there, in that
   * image; for the first process, its last exec that ended threads of an earlier image
   * (an exec from a thread other than the first ends them all)
   */
  lastExec?: number;
  /** how it ended (its exit event); undefined if the trace ends first */
  end?: { killed: boolean; code: number; event: number };
  /** its threads other than the first, by recorded tid (format 5) */
  threads?: number[];
  /** those made since its last exec (an exec ends every thread but the one that made it) */
  imageThreads?: number[];
  /** the stop event after which it ran on unrecorded (it made a thread, or outlived the program) */
  unrecordedAfter?: number;
}

/** Every process of the trace, in the order they appear. */
export function recordedProcesses(trace: TraceReader): RecordedProcess[] {
  const byPid = new Map<number, RecordedProcess>();
  /** recorded pid -> the exec event of the image it runs now */
  const lastImage = new Map<number, number>();
  const firstArgv = [String(trace.meta.program ?? ''), ...((trace.meta.args as string[] | undefined) ?? [])];
  // Only clone, exec and exit records are decoded: the others are skipped by kind.
  for (const { index, record } of trace.records(0)) {
    const kind = record[4];
    if (kind !== EventKind.Clone && kind !== EventKind.Exec && kind !== EventKind.Exit && kind !== EventKind.Stop) continue;
    const e = decodeEvent(record);
    if (e.kind === 'exec') {
      const p = byPid.get(e.tid);
      const argv = e.snapshot.argv ?? (p ? p.argv : firstArgv);
      if (p) {
        p.argv = argv;
        if (p.parent || p.imageThreads?.length) p.lastExec = index;
        p.imageThreads = undefined;
      } else byPid.set(e.tid, { pid: e.tid, parent: 0, argv, firstEvent: index, imageEvent: index });
      lastImage.set(e.tid, index);
    } else if (e.kind === 'clone' && (e.flags & CLONE_THREAD) !== 0n) {
      // a thread of the parent's process (format 5): its events carry its own tid
      const p = byPid.get(e.tid) ?? [...byPid.values()].find((q) => q.threads?.includes(e.tid));
      if (p) {
        (p.threads ??= []).push(e.child);
        (p.imageThreads ??= []).push(e.child);
      }
    } else if (e.kind === 'clone') {
      const parent = byPid.get(e.tid);
      const image = lastImage.get(e.tid) ?? 0;
      lastImage.set(e.child, image);
      byPid.set(e.child, { pid: e.child, parent: e.tid, argv: parent ? [...parent.argv] : [], firstEvent: index, imageEvent: image });
    } else if (e.kind === 'stop') {
      const p = byPid.get(e.tid);
      if (p) p.unrecordedAfter = index;
    } else if (e.kind === 'exit') {
      const p = byPid.get(e.tid);
      if (p) p.end = { killed: e.killed, code: e.code, event: index };
    }
  }
  return [...byPid.values()];
}

/**
 * Where a debugger of a child starts (replay --pid): after its last exec, in the
 * program it exec'd, if it exec'd; else at its fork's return, in the image it
 * started with (its parent's). `event` is the exec event or the clone event.
 * The first process starts there too once an exec ended its threads (`lastExec`).
 */
export function debugStartOf(trace: TraceReader, p: RecordedProcess): { snapshot: ExecSnapshot; tid: number; event: number } {
  const image = p.lastExec ?? p.imageEvent;
  const e = decodeEvent(trace.record(image));
  if (e.kind !== 'exec') throw new Error(`event ${image} is not the exec event of process ${p.pid}'s image`);
  return { snapshot: e.snapshot, tid: p.pid, event: p.lastExec ?? p.firstEvent };
}

/** The debugger starts at process `p`'s last exec (debugStartOf), not at the trace's start or its fork. */
export function debuggedFromExec(p: RecordedProcess): boolean {
  return p.lastExec !== undefined;
}

/**
 * Why a debugger cannot have process `p` (undefined if it can): one with threads
 * replays headless (replay --check), but the debugger follows one thread, and its
 * checkpoints are forks, which copy only the calling thread (docs/timeline.md, Threads).
 * A process debugged from its last exec on counts only the threads of that image
 * (an exec from a thread ended the others).
 */
export function threadedRefusal(p: RecordedProcess): string | undefined {
  const threads = debuggedFromExec(p) ? p.imageThreads : p.threads;
  if (!threads?.length) return undefined;
  return `process ${p.pid} made ${threads.length} thread${threads.length > 1 ? 's' : ''} (${threads.slice(0, 4).join(', ')}${threads.length > 4 ? ', ...' : ''}): `
    + 'debugging a process with threads is not supported yet (gdb would see one thread without the others\' effects, and reverse execution needs checkpoints that re-create threads); '
    + '`rewind replay --check` replays it, and `--pid` chooses another process of the trace';
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
