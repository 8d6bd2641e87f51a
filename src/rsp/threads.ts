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
import type { DebugTarget, StopEvent } from '../debug/target.js';
import { consoleOutput } from './replies.js';
import type { ThreadId, VContAction } from './requests.js';

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

  constructor(private readonly engine: DebugTarget) {}

  /** The process id gdb is told (multiprocess ids). */
  get pid(): number {
    return this.engine.tid;
  }

  /** Every thread of the process, its first thread first. */
  list(): ThreadId[] {
    return this.engine.threads().map((tid) => ({ pid: this.pid, tid }));
  }

  /** A thread id names this process (or any), and a live thread of it (or any). */
  ours(t: ThreadId | undefined): boolean {
    if (!t) return true;
    if (t.pid !== undefined && t.pid !== -1 && t.pid !== 0 && t.pid !== this.pid) return false;
    return t.tid === -1 || t.tid === 0 || this.engine.threads().includes(t.tid);
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
      if (tid !== undefined) this.engine.selectThread(tid);
    } else this.stepThread = tid;
    return true;
  }

  /** A stop ends what Hc asked for: gdb sends it again before the next step of another thread. */
  stopped(): void {
    this.stepThread = undefined;
  }

  /** The thread named in a stop reply: the one that stopped (qC then names it too). */
  current(): ThreadId {
    return { pid: this.pid, tid: this.engine.selectedThread };
  }

  /** The first action that applies to this process (gdb lists the ones naming a thread first). */
  vCont(actions: VContAction[]): VContChoice {
    const mine = actions.find((a) => this.ours(a.thread));
    if (!mine) return { kind: 'no-thread' };
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
        return `<thread id="${id}" core="0" name="${name}"/>`;
      }).join('')
      : '';
    return `<?xml version="1.0"?>\n<threads>${body}</threads>\n`;
  }
}
