// The threads of the replayed process, as the engine keeps them and gdb sees them
// (docs/rsp.md, "Threads"). All-stop, in rr's way: every thread stands still while
// gdb looks; a resume replays the recorded schedule, the native debugger taking the
// threads' turns (addon/debugger_threads.cc), and the thread that stops it becomes
// the current one. Thread ids are the recorded tids, which the replayed program sees
// (gettid, clone's result) and glibc keeps in each struct pthread, so what gdb reads
// of the program agrees with what it is told.
//
// A checkpoint or slice of a process that made threads copies every thread with its
// replay (process-copy.ts, forkReplayed); a restored copy's threads come here by
// `adopt`. Reverse execution starts from such copies inside the threaded stretch as
// from any other. The diversion (gdb's own code) runs in such a copy too, whose
// threads stand in for these while it lasts (`exchange`).
import type { NativeTracee } from '../native/addon.js';
import { EngineError } from './target.js';

export class ProcessThreads {
  /** recorded tid -> Tracee of every thread but the first, made by the replay at their clone events */
  private readonly others = new Map<number, NativeTracee>();
  /** the process standing for the replay has made a thread (it cannot be copied by fork) */
  made = false;
  /**
   * recorded tid -> the index of the clone event that makes it, for every thread the
   * replay has made (kept across copies: a thread made once is made there again)
   */
  private readonly madeAt = new Map<number, number>();
  /** the thread gdb looks at (recorded tid; undefined: the first live one) */
  selected: number | undefined;
  /**
   * The first thread has ended, the process living on (pthread_exit in main): it is
   * gone for gdb. Its Tracee still stands for the process (its memory, its last
   * records at the process's end: debugged-target.ts, firstThreadExit).
   */
  firstEnded = false;

  constructor(readonly firstTid: number) {}

  get count(): number {
    return this.others.size + (this.firstEnded ? 0 : 1);
  }

  /** The recorded tids of the live threads, the first thread first. */
  ids(): number[] {
    return this.firstEnded ? [...this.others.keys()] : [this.firstTid, ...this.others.keys()];
  }

  /** The thread gdb looks at: the selected one, else the first live one. */
  get current(): number {
    return this.selected ?? this.ids()[0] ?? this.firstTid;
  }

  /** The Tracee of thread `tid` (`first`: the process's own), or undefined. */
  tracee(tid: number, first: NativeTracee): NativeTracee | undefined {
    return tid === this.firstTid ? (this.firstEnded ? undefined : first) : this.others.get(tid);
  }

  /** The pid of thread `tid` (`first`: the process's own Tracee); an unknown thread is an EngineError. */
  pidOf(tid: number, first: NativeTracee): number {
    const t = this.tracee(tid, first);
    if (!t) throw new EngineError('no-thread', `no thread ${tid} in the replayed process`);
    return t.pid;
  }

  /** The recorded tid of the thread whose Tracee has pid `pid` (`first`: the process's own), or undefined. */
  tidOf(pid: number, first: NativeTracee): number | undefined {
    return this.ids().find((tid) => this.tracee(tid, first)?.pid === pid);
  }

  /** The thread that replays the records of `tid` (the first thread's records, and those of no thread known here, go to `first`). */
  owner(tid: number, first: NativeTracee): NativeTracee {
    return this.others.get(tid) ?? first;
  }

  /** A thread made again at its clone event (index `event`). */
  add(tid: number, tracee: NativeTracee, event: number): void {
    this.others.set(tid, tracee);
    this.madeAt.set(tid, event);
    this.made = true;
  }

  /** Thread `tid` is made by a clone event the replay has not replayed yet (`next`: the next event's index). */
  madeLater(tid: number, next: number): boolean {
    const at = this.madeAt.get(tid);
    return at !== undefined && at >= next;
  }

  /** The threads of a process copy that comes to stand for the replay (process-copy.ts): the copy made threads. */
  adopt(threads: ReadonlyMap<number, NativeTracee>): void {
    for (const [tid, t] of threads) this.others.set(tid, t);
    this.made = true;
  }

  /**
   * Puts the threads of another process in place of these (the diversion's copy, and
   * back), returning the ones that stood here; none is closed.
   */
  exchange(threads: ReadonlyMap<number, NativeTracee>): Map<number, NativeTracee> {
    const old = new Map(this.others);
    this.others.clear();
    for (const [tid, t] of threads) this.others.set(tid, t);
    return old;
  }

  /** Thread `tid` died, its process lives on: its Tracee (reaped already) goes. */
  async ended(tid: number): Promise<void> {
    const t = this.others.get(tid);
    if (!t) return; // the first thread (pthread_exit in main): it stays the process's Tracee
    this.others.delete(tid);
    if (this.selected === tid) this.selected = undefined;
    await t.close();
  }

  /** Another process stands for the replay (or none): the old one's threads are closed. */
  async drop(): Promise<void> {
    const threads = [...this.others.values()];
    this.others.clear();
    this.made = false;
    this.selected = undefined;
    for (const t of threads) if (!t.closed) await t.close();
  }

  /** gdb's Hg: the registers served are thread `tid`'s from now on (until the next stop). */
  select(tid: number): void {
    if (!this.ids().includes(tid)) {
      throw new EngineError('no-thread', `no thread ${tid} in the replayed process (it has: ${this.ids().join(', ')})`);
    }
    this.selected = tid;
  }
}
