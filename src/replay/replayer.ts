// Replays a trace headless to its end: feeds the recorded events to the native
// replay loop chunk by chunk, every process of the recording in the recorded
// order (docs/timeline.md, "Processes"), echoing what each replayed process
// writes to fd 1/2 in that order.
import type { TraceReader } from '../history/index.js';
import { CLONE_THREAD, EventKind } from '../history/events.js';
import { native, type NativeTracee } from '../native/addon.js';
import { encodeSyscallTable } from '../syscalls/table.js';
import { PointNotFoundError } from '../points/point-not-found.js';
import { applyJsEvent, divergenceMessage, endOfTraceMessage, firstExec, replayExec, startReplayProcess } from './replay-process.js';
import { tellLoopAhead } from './known-files.js';
import { STUB_SYSCALL } from './stub.js';

/** Where a replay's time went (ms, wall clock), for REWIND_TRACE_RUNS: the answer to "why is replay slower than native". */
/**
 * A clock in milliseconds for the replay's times (REWIND_TRACE_RUNS), from the
 * process's hrtime: the global `performance` loads perf_hooks when first read (up to
 * ~5 ms of a `replay --check` on a loaded machine, docs/startup.md).
 */
export const msNow = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface ReplayTimes {
  /** starting the first process: the stub, the recorded address space rebuilt */
  startMs: number;
  /** in the native loop, and how many times it was entered */
  nativeMs: number;
  nativeRuns: number;
  /** events JS applies (mapped files, points), and how many */
  jsEventsMs: number;
  jsEvents: number;
  /** execs: the stub re-exec'd and the new program's address space rebuilt, and how many */
  execMs: number;
  execs: number;
  /** reading and decompressing chunks of events */
  chunksMs: number;
}

/** `served`: of the events, the buffered calls the programs took in-process (docs/syscallbuf.md) */
export type ReplayOutcome =
  | { kind: 'exited'; code: number; events: number; served: number }
  | { kind: 'killed'; signal: number; events: number; served: number }
  /** the trace ends before the program did (recorder stopped or killed) */
  | { kind: 'incomplete'; reason: string; events: number; served: number };

export class DivergenceError extends Error {}

export interface ReplayHooks {
  /** what a replayed process wrote to fd 1 or 2 */
  onOutput?(fd: number, data: Buffer): void;
  /** a process's history ended before it did (why, from the trace) */
  onNote?(text: string): void;
}

const CLONE_VM = 0x100n;

/**
 * How many records from `offset` in a chunk belong to the process of the first one
 * (`processOf`: a thread's process; the native loop takes the threads' turns itself).
 */
function runOfOneProcess(data: Buffer, offset: number, processOf: Map<number, number>): { tid: number; count: number } {
  const tid = data.readUInt32LE(offset + 8);
  const process = processOf.get(tid) ?? tid;
  let count = 0;
  for (let at = offset; at + 12 <= data.length; at += data.readUInt32LE(at)) {
    const t = data.readUInt32LE(at + 8);
    if (t !== tid && (processOf.get(t) ?? t) !== process) break;
    count++;
  }
  return { tid, count };
}

/** chunks decompressed ahead of the replay: one was not enough under load (docs/replay-speed.md) */
const PREFETCH_DEPTH = 2;

/** What one native run of a process's events ended with, once handled. */
type Step =
  | { kind: 'more'; next: number }
  | { kind: 'exec'; next: number }
  | { kind: 'ended'; next: number; outcome: ReplayOutcome }
  | { kind: 'stopped'; next: number; reason: string };

export class Replayer {
  /** recorded pid (or tid, format 5) -> the replayed process (or thread) standing for it (closed when it is dropped from here) */
  private readonly procs = new Map<number, NativeTracee>();
  /** recorded tid of a thread other than its process's first -> the recorded pid of its process */
  private readonly processOf = new Map<number, number>();
  /** recorded pid -> a child that runs in its memory until it execs or exits (vfork, posix_spawn) */
  private readonly memoryChild = new Map<number, number>();
  /** recorded pid -> the index before which its events were replayed ahead of the trace's order */
  private readonly doneBefore = new Map<number, number>();
  private root = 0;
  /** index of the next event to replay */
  private next = 0;
  /** events the programs replayed in-process from the syscall buffer's feed */
  private served = 0;
  private readonly table = encodeSyscallTable();
  readonly times: ReplayTimes = { startMs: 0, nativeMs: 0, nativeRuns: 0, jsEventsMs: 0, jsEvents: 0, execMs: 0, execs: 0, chunksMs: 0 };

  private constructor(readonly trace: TraceReader) {}

  static async start(trace: TraceReader): Promise<Replayer> {
    const r = new Replayer(trace);
    const started = msNow();
    const first = firstExec(trace);
    // decompressing while the first process is made (chunk 0 holds its exec)
    for (let k = 1; k <= PREFETCH_DEPTH; k++) trace.prefetchChunk(k);
    const tracee = await startReplayProcess(trace, first.snapshot);
    tellLoopAhead(trace);
    r.times.startMs += msNow() - started;
    r.root = first.tid;
    r.procs.set(first.tid, tracee);
    await tracee.setProcess(first.tid, true, trace.meta.version >= 4);
    r.next = 1;
    return r;
  }

  get eventIndex(): number {
    return this.next;
  }

  /** The replayed processes and threads alive: the recorded tid each replays, and its pid (tid) in this replay. */
  threads(): { recordedTid: number; pid: number }[] {
    return [...this.procs].map(([recordedTid, tracee]) => ({ recordedTid, pid: tracee.pid }));
  }

  /** The Tracee of the replayed process or thread of recorded tid, lent: this replay owns it and closes it. */
  tracee(recordedTid: number): NativeTracee | undefined {
    return this.procs.get(recordedTid);
  }

  /**
   * Replays until process `tid` has been created (its clone event) and its events
   * before `from` are replayed (an exec it made: it then stands in the new program),
   * then hands it over: the returned replayed process stands at its first
   * instruction, replaying its own events only and making no children; every other
   * process is killed. The caller owns the returned Tracee.
   */
  async handOver(tid: number, from = 0): Promise<{ tracee: NativeTracee; next: number }> {
    const end = await this.runLoop({}, () => this.procs.has(tid) && Math.max(this.next, this.doneBefore.get(tid) ?? 0) >= from);
    const tracee = this.procs.get(tid);
    if (tracee === undefined || end) {
      await this.close();
      throw new Error(`process ${tid} was not created in the replay (${end ? `the replay ended first: ${end.kind}` : 'no clone event'})`);
    }
    this.procs.delete(tid);
    this.memoryChild.clear();
    await this.close();
    await tracee.setProcess(tid, false, this.trace.meta.version >= 4);
    return { tracee, next: this.next };
  }

  /** Replays to the end of the trace; the outcome is the first process's. */
  async run(hooks: ReplayHooks = {}): Promise<ReplayOutcome> {
    return (await this.runLoop(hooks))!;
  }

  /**
   * Replays the first `index` events (or to the end, whose outcome it returns),
   * leaving the processes alive and standing between two events: run() or
   * runTo() goes on from there, fork() copies the replay there.
   */
  async runTo(index: number, hooks: ReplayHooks = {}): Promise<ReplayOutcome | undefined> {
    return this.runLoop(hooks, () => this.next >= index, index);
  }

  /**
   * A copy of this replay where it stands (docs/timeline.md, "Checkpoints of
   * threads"): its process copied with every thread (native forkReplayed), each
   * thread replaying on from the same point. The copy and this replay are
   * independent: either runs to the end or is closed without the other. Only a
   * replay that stands in one process (with its threads) is copied.
   */
  async fork(): Promise<Replayer> {
    const processes = new Set([...this.procs.keys()].map((tid) => this.processOf.get(tid) ?? tid));
    if (processes.size !== 1 || this.memoryChild.size > 0) {
      throw new Error(`a copy of a replay is made of one process and its threads; this one stands in ${processes.size} processes (${[...processes].join(', ')})`);
    }
    const [first] = this.procs.values();
    const threads = await native().forkReplayed(first, STUB_SYSCALL);
    const copy = new Replayer(this.trace);
    for (const { recordedTid, tracee } of threads) copy.procs.set(recordedTid, tracee);
    for (const [tid, process] of this.processOf) copy.processOf.set(tid, process);
    for (const [tid, before] of this.doneBefore) copy.doneBefore.set(tid, before);
    copy.root = this.root;
    copy.next = this.next;
    copy.served = this.served;
    return copy;
  }

  /**
   * run(); with `until`, stops (resolving undefined) as soon as it holds, leaving the
   * processes alive; with `limit`, no native run goes past that event.
   */
  private async runLoop(hooks: ReplayHooks, until?: () => boolean, limit?: number): Promise<ReplayOutcome | undefined> {
    const trace = this.trace;
    let rootEnd: ReplayOutcome | undefined;
    let handingOver = false;
    try {
      while (this.next < trace.eventCount) {
        if (until?.()) {
          handingOver = true;
          return undefined;
        }
        const index = trace.chunkIndexOf(this.next);
        const waitedFrom = performance.now();
        const chunk = await trace.readChunkAsync(index);
        this.times.chunksMs += performance.now() - waitedFrom;  // a chunk still decompressing holds the replay up
        // the next chunks decompress on another thread while the loop replays this one
        for (let k = 1; k <= PREFETCH_DEPTH; k++) trace.prefetchChunk(index + k);
        const offset = chunk.offsets[this.next - chunk.firstRecord];
        const { tid, count } = runOfOneProcess(chunk.data, offset, this.processOf);
        if (!this.procs.has(tid) && chunk.data[offset + 4] === EventKind.Stop) {
          // The recorder's own stop (tid 0): the trace ends there for every process.
          const stopped = await applyJsEvent(undefined, trace, this.next);
          if (stopped !== undefined) return { kind: 'incomplete', reason: stopped, events: this.next, served: this.served };
        }
        if ((this.doneBefore.get(tid) ?? 0) > this.next) {
          this.next++; // replayed already, ahead of the order (a child in its parent's memory)
          continue;
        }
        // A parent whose child still runs in its memory waits for the child's exec or exit.
        const child = this.memoryChild.get(tid);
        if (child !== undefined) {
          this.memoryChild.delete(tid);
          const end = await this.runAhead(child, hooks);
          if (end) return end;
          continue;
        }
        const step = await this.step(tid, this.next, limit === undefined ? count : Math.max(1, Math.min(count, limit - this.next)), hooks);
        this.next = step.next;
        if (step.kind === 'ended' && tid === this.root) rootEnd = step.outcome;
        // A stop event of a process other than the first ends only its history (it
        // made a thread, or outlived the program, and was handed over).
        if (step.kind === 'stopped' && tid !== this.root) {
          hooks.onNote?.(`the history of process ${tid} ends at event ${this.next - 1}: ${step.reason}`);
          const tracee = this.procs.get(tid);
          this.procs.delete(tid);
          await tracee?.close();
        } else if (step.kind === 'stopped') {
          return { kind: 'incomplete', reason: step.reason, events: this.next - 1, served: this.served };
        }
      }
      if (rootEnd) return { ...rootEnd, served: this.served };
      return { kind: 'incomplete', reason: endOfTraceMessage(trace), events: this.next, served: this.served };
    } finally {
      if (!handingOver) await this.close();
    }
  }

  /**
   * Replays the events of `tid` from the current index on, ahead of the trace's
   * order, until it has exec'd or ended: a child in its parent's memory must be done
   * with it before the parent's own code runs again.
   */
  private async runAhead(tid: number, hooks: ReplayHooks): Promise<ReplayOutcome | undefined> {
    let at = Math.max(this.next, this.doneBefore.get(tid) ?? 0);
    while (at < this.trace.eventCount) {
      // It made a child in its memory in turn: that one goes first.
      const child = this.memoryChild.get(tid);
      if (child !== undefined) {
        this.memoryChild.delete(tid);
        const end = await this.runAhead(child, hooks);
        if (end) return end;
      }
      const chunk = this.trace.readChunk(this.trace.chunkIndexOf(at));
      const step = await this.step(tid, at, chunk.firstRecord + chunk.offsets.length - at, hooks);
      at = step.next;
      this.doneBefore.set(tid, at);
      if (step.kind === 'exec' || step.kind === 'ended') return undefined;
      if (step.kind === 'stopped') return { kind: 'incomplete', reason: step.reason, events: at - 1, served: this.served };
    }
    return undefined;
  }

  /** Replays up to `count` records from `index` for process `tid` (the records of others are skipped). */
  private async step(tid: number, index: number, count: number, hooks: ReplayHooks): Promise<Step> {
    const trace = this.trace;
    const tracee = this.procs.get(tid);
    if (tracee === undefined) {
      throw new DivergenceError(`replay cannot go on at event ${index}: it belongs to process ${tid}, which the replay has not created (or which has ended)`);
    }
    const times = this.times;
    let t = msNow();
    const chunk = trace.readChunk(trace.chunkIndexOf(index));
    const offset = chunk.offsets[index - chunk.firstRecord];
    times.chunksMs += msNow() - t;
    t = msNow();
    // The loop gets a copy of what it is given: only the records from here on.
    const r = await tracee.run(this.table, chunk.data.subarray(offset), 0, count);
    times.nativeMs += msNow() - t;
    times.nativeRuns++;
    for (const e of r.echo) hooks.onOutput?.(e.fd, e.data);
    this.served += r.served;
    const next = index + r.count;
    if (r.stop.reason === 'exec' || r.stop.reason === 'exited' || r.stop.reason === 'killed') {
      // Its own memory now, or none: its parent need not wait for it any more.
      for (const [parent, child] of this.memoryChild) if (child === tid) this.memoryChild.delete(parent);
    }
    switch (r.stop.reason) {
      case 'end-of-buffer':
      case 'batch':
        return { kind: 'more', next };
      case 'clone': {
        const child = Number(r.stop.recordedChild);
        if (!r.child) throw new Error('native replay loop: a clone stop without the child');
        this.procs.set(child, r.child);
        const flags = BigInt(r.stop.flags as bigint);
        // A thread runs in turn with the others, in the order of the trace; a child
        // in its parent's memory runs before the parent's code runs again.
        if (flags & CLONE_THREAD) this.processOf.set(child, this.processOf.get(tid) ?? tid);
        else if (flags & CLONE_VM) this.memoryChild.set(tid, child);
        return { kind: 'more', next };
      }
      case 'exited':
      case 'killed': {
        this.procs.delete(tid);
        await tracee.close(); // reaped already: this only lets the object go
        const outcome: ReplayOutcome = r.stop.reason === 'exited'
          ? { kind: 'exited', code: Number(r.stop.code), events: next, served: this.served }
          : { kind: 'killed', signal: Number(r.stop.signal), events: next, served: this.served };
        return { kind: 'ended', next, outcome };
      }
      case 'divergence': {
        const thread = r.stop.tid !== undefined ? Number(r.stop.tid) : tid;
        const process = this.processOf.get(thread);
        const who = process !== undefined ? ` (process ${process}, thread ${thread})` : thread === this.root ? '' : ` (process ${thread})`;
        throw new DivergenceError(divergenceMessage(next, r.stop.expected, r.stop.actual) + who);
      }
      case 'exec':
        t = msNow();
        await this.exec(tid, tracee, next);
        times.execMs += msNow() - t;
        times.execs++;
        return { kind: 'exec', next: next + 1 };
      case 'need-js': {
        t = msNow();
        let stopped;
        try {
          stopped = await applyJsEvent(tracee, trace, next);
        } catch (e) {
          // A point not found in a thread: which process it belongs to, as for the loop's divergences.
          if (!(e instanceof PointNotFoundError)) throw e;
          const process = this.processOf.get(tid) ?? tid;
          throw new PointNotFoundError(`${e.message} (process ${process}, thread ${tid})`);
        }
        times.jsEventsMs += msNow() - t;
        times.jsEvents++;
        return stopped === undefined ? { kind: 'more', next: next + 1 } : { kind: 'stopped', next: next + 1, reason: stopped };
      }
      default:
        throw new Error(`native replay loop stopped for an unknown reason: ${r.stop.reason}`);
    }
  }

  /**
   * Thread or process `tid` stands at the entry of an execve that succeeded: the
   * exec event at `index` names the process that goes on. When it is not `tid`, a
   * thread other than the first exec'd: its process goes on at the first thread's
   * pid (addon/replay_thread_exec.h), and the process's other threads are gone.
   */
  private async exec(tid: number, tracee: NativeTracee, index: number): Promise<void> {
    const process = this.trace.record(index).readUInt32LE(8);
    if (process === tid) return replayExec(tracee, this.trace, index);
    const leader = this.procs.get(process);
    if (leader === undefined || this.processOf.get(tid) !== process) {
      throw new DivergenceError(`replay cannot go on at event ${index}: thread ${tid} exec'd as process ${process}, which is not its process in the replay`);
    }
    await replayExec(tracee, this.trace, index, leader);
    for (const [thread, of] of this.processOf) {
      if (of !== process) continue;
      this.processOf.delete(thread);
      const gone = this.procs.get(thread);
      this.procs.delete(thread);
      await gone?.close(); // ended by the exec and reaped: this only lets the object go
    }
  }

  async close(): Promise<void> {
    const tracees = [...this.procs.values()];
    this.procs.clear();
    for (const t of tracees) await t.close();
  }
}
