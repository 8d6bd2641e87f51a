// The debugged process's threads as gdb sees them (docs/rsp.md, "Threads"): which
// one gdb looks at (Hg), and what the engine cannot do with threads yet. All-stop:
// every thread stands still while gdb looks; a resume replays the recorded schedule
// and the thread that stops it becomes the current one (src/debug/forward.ts). Thread
// ids are the recorded tids, which glibc keeps in each thread's struct pthread and
// which the replayed program sees (gettid, clone's result), so gdb's libthread_db
// view and ours agree.
import type { TraceReader } from '../history/index.js';
import { CLONE_THREAD, decodeEvent, EventKind } from '../history/events.js';
import type { ReplayedProcess } from './forward.js';
import { EngineError } from './target.js';

export class ThreadView {
  /** the index of the process's first thread clone event (null: it makes none), found once when asked */
  private firstClone: number | null | undefined;

  constructor(private readonly trace: TraceReader, private readonly proc: ReplayedProcess, private readonly tid: number) {}

  /** gdb's Hg: the registers served are thread `tid`'s from now on (until the next stop). */
  select(tid: number): void {
    if (!this.proc.threadIds().includes(tid)) {
      throw new EngineError('no-thread', `no thread ${tid} in the replayed process (it has: ${this.proc.threadIds().join(', ') || 'none'})`);
    }
    this.proc.selected = tid === this.tid && !this.proc.threaded ? undefined : tid;
  }

  /** The index of the first event that makes a thread of the debugged process (null: none). */
  firstThreadEvent(): number | null {
    if (this.firstClone !== undefined) return this.firstClone;
    this.firstClone = null;
    if (this.trace.meta.version < 5) return null;
    // Only clone records are decoded. The first thread is made by the process's first
    // thread (format 5 names the maker by its tid).
    for (const { index, record } of this.trace.records(0)) {
      if (record[4] !== EventKind.Clone) continue;
      const e = decodeEvent(record);
      if (e.kind !== 'clone' || (e.flags & CLONE_THREAD) === 0n || e.tid !== this.tid) continue;
      this.firstClone = index;
      break;
    }
    return this.firstClone;
  }

  /** The process has made a thread before the current position. */
  get madeThreads(): boolean {
    const first = this.firstThreadEvent();
    return first !== null && this.proc.next > first;
  }
}

/**
 * Why a reverse command cannot run here (undefined if it can). A checkpoint is a
 * fork, which copies only the calling thread: going back into (or across) the
 * stretch where the process has threads needs checkpoints that re-create every
 * thread (issue 9, item 9; addon/thread_copy.cc). Until the engine uses them, the
 * command is refused rather than answered wrongly.
 */
export function reverseRefusal(view: ThreadView): string | undefined {
  if (!view.madeThreads) return undefined;
  return 'reverse execution in a process with threads is not supported yet (its checkpoints would have to re-create every thread); '
    + 'forward execution, breakpoints, watchpoints and stepping work in every thread';
}
