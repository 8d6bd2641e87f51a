// The thread packets of the protocol (docs/rsp.md, "Threads"): the list (qfThreadInfo,
// qsThreadInfo, qXfer:threads:read), the current thread (qC), which thread `g`/`p`/
// `G`/`P` serve (Hg) and which one a step steps (Hc, or vCont's thread), and whether
// a thread is alive (T). All-stop: every thread stands still while gdb looks; a
// resume replays the recorded schedule, so a continue has no thread, and a step has
// one (the others run as they did when recorded until it has stepped).
// Thread ids are the recorded tids; the process id is the recorded pid.
//
// Thread events, for a client that says it understands them (gdb's qSupported has
// QThreadEvents+): gdb numbers threads in the order it hears of them, natively in
// the order they are made. A continue stops where a thread is made, with the `create`
// reason, and gdb numbers it and continues (gdb 13 takes the reason without asking
// for it with QThreadEvents, which it sends only in non-stop). A thread's end has the
// `w` reply, which gdb 13 takes for an invalid reply in all-stop (remote.c waits for
// T/S/W/X/N only), and gdb 13 prints its "[Thread ... exited]" lines only for native
// targets: the line gdb prints natively goes to its console as text instead.
//
// Threads absent here (docs/timeline.md, "gdb's thread numbers across reverse
// execution"): gdb numbers a thread once, when it first hears of it, and forgets a
// thread that a thread list leaves out; heard of again, it gets a new number. So every
// thread gdb has heard of stays in the list wherever the replay stands: one the replay
// makes later than here ("not made yet here") and one that has ended here ("ended
// here"), marked so in its extra text, every register unavailable (`x`), no step and no
// register write. Going back over a thread's end, or forwards over its creation, it is
// the same thread to gdb, with the same number. Its end is still announced as gdb
// does natively (`[Thread ... exited]`), but natively gdb then drops it from
// `info threads`, where here it stays, ended. Only for gdb (the client of thread
// events): LLDB numbers threads its own way.
import type { DebugTarget, StopEvent } from '../debug/target.js';
import { consoleOutput } from './replies.js';
import type { ThreadId, VContAction } from './requests.js';

/** What gdb shows of a thread the replay makes later than where it stands. */
const MADE_LATER = 'not made yet here';
/** What gdb shows of a thread that has ended where the replay stands. */
const ENDED = 'ended here';

/** What a vCont asks for, in the engine's terms. */
export type VContChoice =
  | { kind: 'continue' }
  | { kind: 'step'; thread?: number; start?: bigint; end?: bigint }
  | { kind: 'stop' }
  | { kind: 'no-thread' };

export class ThreadPackets {
  /** Hc's thread: the one a plain `s` or a vCont step without a thread steps (undefined: the current) */
  private stepThread: number | undefined;
  /** the client understands thread events (see the top of the file) */
  events = false;
  /** the threads gdb has heard of (in lists and stop replies), in the order it heard */
  private readonly told = new Set<number>();
  /** Hg's thread when it is one absent here (made later, or ended: its registers are unavailable) */
  private absentHg: number | undefined;

  constructor(private readonly engine: DebugTarget) {}

  /** The process id gdb is told (multiprocess ids). */
  get pid(): number {
    return this.engine.tid;
  }

  /** Every thread of the process, its first thread first, then those gdb has heard of that are absent here. */
  list(): ThreadId[] {
    const live = this.engine.threads();
    for (const tid of live) this.told.add(tid);
    return [...live, ...this.absentHere(live)].map((tid) => ({ pid: this.pid, tid }));
  }

  /** The threads gdb has heard of that do not exist where the replay stands (for gdb only: LLDB has no `x` registers in its tests). */
  private absentHere(live: number[]): number[] {
    if (!this.events) return [];
    return [...this.told].filter((tid) => !live.includes(tid));
  }

  /** Hg names a thread absent here: its registers are unavailable, and it cannot run. */
  get absentSelected(): boolean {
    return this.absentHg !== undefined;
  }

  /** A thread id names this process (or any), and a live thread of it, or one absent here that gdb knows (or any). */
  ours(t: ThreadId | undefined): boolean {
    if (!t) return true;
    if (t.pid !== undefined && t.pid !== -1 && t.pid !== 0 && t.pid !== this.pid) return false;
    return t.tid === -1 || t.tid === 0 || this.engine.threads().includes(t.tid) || this.isAbsent(t.tid);
  }

  /** gdb has heard of thread tid, which does not exist here: made later, or ended. */
  private isAbsent(tid: number): boolean {
    return this.events && this.told.has(tid) && !this.engine.threads().includes(tid);
  }

  /** What gdb shows after the name of a thread absent here. */
  private absence(tid: number): string {
    return this.engine.madeLater(tid) ? MADE_LATER : ENDED;
  }

  /** The specific thread an id names (undefined: any, or all). */
  private specific(t: ThreadId | undefined): number | undefined {
    return t && t.tid > 0 ? t.tid : undefined;
  }

  /** Hg / Hc: false (an E reply) for an unknown thread; nothing changes then. */
  set(op: 'g' | 'c', t: ThreadId): boolean {
    if (!this.ours(t)) return false;
    const tid = this.specific(t);
    if (op === 'g') {
      this.absentHg = tid !== undefined && this.isAbsent(tid) ? tid : undefined;
      if (tid !== undefined && this.absentHg === undefined) this.engine.selectThread(tid);
    } else {
      if (tid !== undefined && this.isAbsent(tid)) return false; // it cannot step
      this.stepThread = tid;
    }
    return true;
  }

  /** A stop ends what Hc asked for: gdb sends it again before the next step of another thread. */
  stopped(): void {
    this.stepThread = undefined;
    this.absentHg = undefined;
  }

  /** The thread named in a stop reply: the one that stopped (qC then names it too); gdb has heard of it. */
  current(): { pid: number; tid: number } {
    const tid = this.engine.selectedThread;
    this.told.add(tid);
    return { pid: this.pid, tid };
  }

  /** qThreadExtraInfo's text for a thread. */
  extraInfo(tid: number): string {
    return this.isAbsent(tid) ? this.absence(tid) : 'replayed';
  }

  /** The first action that applies to this process (gdb lists the ones naming a thread first). */
  vCont(actions: VContAction[]): VContChoice {
    const mine = actions.find((a) => this.ours(a.thread));
    if (!mine || (mine.thread && mine.thread.tid > 0 && this.isAbsent(mine.thread.tid))) return { kind: 'no-thread' };
    const thread = this.specific(mine.thread) ?? this.stepThread ?? this.engine.selectedThread;
    switch (mine.action) {
      case 'c':
      case 'C':
        return { kind: 'continue' };
      case 's':
      case 'S':
        return { kind: 'step', thread };
      case 'r':
        return { kind: 'step', thread, start: mine.start!, end: mine.end! };
      case 't':
        return { kind: 'stop' };
    }
  }

  /** The console lines gdb prints natively for the threads that ended in a resume (none without thread events). */
  exitLines(stop: StopEvent, multiprocess: boolean): string[] {
    if (!this.events) return [];
    // gdb names a remote thread `Thread PID.TID` (multiprocess ids) or `Thread TID`
    return (stop.threadsExited ?? []).map((tid) => consoleOutput(`[Thread ${multiprocess ? `${this.pid}.` : ''}${tid} exited]\n`));
  }

  /** The qXfer:threads:read document. */
  xml(name: string, multiprocess: boolean): string {
    const body = this.engine.alive
      ? this.list().map((t) => {
        const id = multiprocess ? `p${t.pid!.toString(16)}.${t.tid.toString(16)}` : t.tid.toString(16);
        // the element's text is what gdb shows after the name in `info threads`
        return this.isAbsent(t.tid) ? `<thread id="${id}" core="0" name="${name}">${this.absence(t.tid)}</thread>` : `<thread id="${id}" core="0" name="${name}"/>`;
      }).join('')
      : '';
    return `<?xml version="1.0"?>\n<threads>${body}</threads>\n`;
  }
}
