// The replayed process and its forward runs (rr's ReplaySession): which process
// stands for the replay, the next event to replay, where its arrival counters
// start, and runs of the native debug loop over the trace's events. A run returns
// its report (the stop, the position, the last search hit, the copies it left);
// nothing of it is left behind for others to read.
import type { TraceReader } from '../history/index.js';
import { decodeEvent } from '../history/events.js';
import { native, RunMode, type DebugRunOptions, type NativeRunPoint, type NativeTracee, type ProcessDebugger } from '../native/addon.js';
import { decodeStopReport } from '../native/stop-report.js';
import { encodeSyscallTable } from '../syscalls/table.js';
import { STUB_SYSCALL } from '../replay/stub.js';
import { applyJsEvent, divergenceMessage, endOfTraceMessage, replayExec } from '../replay/replay-process.js';
import { PointNotFoundError } from '../points/point-not-found.js';
import type { AsyncPointInfo } from '../history/events.js';
import { atIntervalStartTarget } from './clone-boundary.js';
import { applyPoint, armPoint } from './point-stretch.js';
import type { ProcessCopy } from './process-copy.js';
import { ProcessThreads } from './threads.js';
import { debuggerOf, killDebugged, type DebuggedProcess } from './debugged-process.js';
import type { RunExtra, RunHooks, RunReport } from './run-report.js';
import { EngineError, type ResumeRequest, type StopEvent } from './target.js';

/** Events per native run; per run whose program takes buffered calls from the feed (a run's fixed cost is then most of its time). */
const EVENTS_PER_RUN = 64;
const EVENTS_PER_FED_RUN = 1024;

export type ProcessState = 'stopped' | 'exited' | 'killed' | 'ended';

export class ReplayedProcess {
  /** the process that stands for the replay, with its native debugger (undefined: none) */
  private current: DebuggedProcess | undefined;
  /** its threads (threads.ts): made by the replay at their clone events, closed with it */
  readonly threads: ProcessThreads;
  /** the index of the next event to replay */
  next = 0;
  state: ProcessState = 'stopped';
  lastStop: StopEvent = { kind: 'stopped', signal: 5, reason: 'start' };
  /** the recorded siginfo of the signal the last stop reported */
  lastSiginfo: Buffer | undefined;
  /** where the native arrival counters start: a checkpoint id, or 0 for the start of interval e */
  countBase = { e: 1, base: 0 };
  /** estimated replay run time (ns) from the start to the current state */
  curT = 0;
  /** a run is in progress */
  running = false;
  /** the user asked the current command to stop (^C); consumed by the command */
  interruptRequested = false;
  /**
   * statistics for `monitor stats` and the benchmarks; counted*: runs that counted
   * arrivals in the process and the arrivals they counted, countRefusals: runs that
   * could not (counted-runs.ts); trappedHits: breakpoint and watchpoint hits that
   * search runs trapped one by one (timeline.ts)
   */
  readonly stats = { checkpointsTaken: 0, restores: 0, forwardRuns: 0, steps: 0, served: 0, countedRuns: 0, countedArrivals: 0, countRefusals: 0, trappedHits: 0 };
  /** REWIND_DEBUG_FEED=0: every buffered call stops under the debugger (to compare, or to rule the feed out) */
  private readonly noFeed = process.env.REWIND_DEBUG_FEED === '0';
  private readonly table = encodeSyscallTable();
  /** events whose output (fd 1/2 writes) was already shown: re-running them is silent */
  private shownUpTo = 0;
  private readonly switchListeners: (() => void)[] = [];
  /**
   * The index of the recorded exit (exit_group's end, or the death by a signal),
   * when the trace has one. Runs stop before it: the end of the recording is a place
   * (the exit_group, or the fatal signal's delivery), and only a resume from there
   * that asks for it replays the exit.
   */
  readonly exitEvent: number | undefined;

  /**
   * exitEvent: the debugged process's exit (replay --pid; null: it has none), else the trace's
   * last event if it is an exit; firstThreadExit: where its first thread ended before it (debugged-target.ts)
   */
  constructor(readonly trace: TraceReader, private readonly onOutput?: (fd: number, data: Buffer) => void, exitEvent?: number | null, firstTid = 0,
    private readonly firstThreadExit?: number) {
    this.threads = new ProcessThreads(firstTid);
    const last = trace.eventCount - 1;
    this.exitEvent = exitEvent !== undefined ? exitEvent ?? undefined
      : last >= 1 && decodeEvent(trace.record(last)).kind === 'exit' ? last : undefined;
  }

  /** The process stands at the end of the recording: the next event is the exit. */
  get atEnd(): boolean {
    return this.state === 'stopped' && this.next === this.exitEvent;
  }

  /** Called whenever another process comes to stand for the replay (nothing is installed in it). */
  onSwitch(listener: () => void): void {
    this.switchListeners.push(listener);
  }

  /** the process that stands for the replay (0: none) */
  get pid(): number {
    return this.current?.tracee.pid ?? 0;
  }

  /** The pid of the thread whose registers gdb reads and writes (the selected one). */
  get regsPid(): number {
    const t = this.current ? this.threads.tracee(this.threads.current, this.current.tracee) : undefined;
    return t?.pid ?? this.pid;
  }

  /**
   * The pid of the thread whose state names the current position: between two events
   * only the thread of the next record runs, so positions (and their pcs and
   * fingerprints) are that thread's (addon/debugger_threads.cc).
   */
  get runningPid(): number {
    if (!this.threads.made || this.next >= this.trace.eventCount) return this.pid;
    return this.ownerOf(this.next).pid;
  }

  /** The recorded tid of that thread (undefined: the first thread's). */
  get runningThread(): number | undefined {
    if (!this.threads.made || this.next >= this.trace.eventCount) return undefined;
    const tid = decodeEvent(this.trace.record(this.next)).tid;
    return this.threads.tracee(tid, this.tracee) ? tid : undefined;
  }

  /** The Tracee of the thread that event `index` belongs to. */
  private ownerOf(index: number): NativeTracee {
    return this.threads.owner(decodeEvent(this.trace.record(index)).tid, this.tracee);
  }

  /** The native debugger of the process that stands for the replay (its breakpoints, slots, counters). */
  get debugger(): ProcessDebugger {
    if (!this.current) throw new EngineError('no-process', 'the replayed process is not running');
    return this.current.debugger;
  }

  /** The process that stands for the replay (its memory, as the program and gdb see it). */
  get tracee(): NativeTracee {
    if (!this.current) throw new EngineError('no-process', 'the replayed process is not running');
    return this.current.tracee;
  }

  /**
   * Puts another debugged process in the replay's place and returns the one that
   * stood there; neither is killed, and the listeners are not told (the diversion
   * swaps its copy in and out, and keeps track of the traps itself).
   */
  exchange(next: DebuggedProcess | undefined): DebuggedProcess | undefined {
    const old = this.current;
    this.current = next;
    return old;
  }

  requireProcess(): void {
    if ((this.state !== 'stopped' && this.state !== 'ended') || !this.pid) throw new EngineError('no-process', 'the replayed process is not running');
  }

  /** The process can be inspected (stopped, or at the end of a history that stops early). */
  get alive(): boolean {
    return (this.state === 'stopped' || this.state === 'ended') && this.pid !== 0;
  }

  /** The base of the native counters in interval e. */
  baseFor(e: number): number {
    return e === this.countBase.e ? this.countBase.base : 0;
  }

  /**
   * Makes `copy` (a fresh copy standing at the start of a counting base, with its
   * threads) the replayed process, killing the one before; counting starts at `base`
   * in interval e, whose first state is its thread's.
   */
  async adopt(copy: ProcessCopy, e: number, base: number, pc: bigint, t: number): Promise<void> {
    const old = this.current;
    // The old process is let go in the same batch of tracer jobs as the new one's
    // position is set: the tracer runs them in order, and JS waits once, not once a
    // job (each wait is a wake-up, which a loaded machine delays: docs/load.md).
    const lettingGo: Promise<void>[] = [];
    if (old?.tracee !== copy.tracee) {
      this.current = debuggerOf(copy.tracee);
      if (old) lettingGo.push(killDebugged(old));
      lettingGo.push(this.threads.drop()); // forgets the old threads at once, closes them after
      if (copy.threads) this.threads.adopt(copy.threads);
    }
    this.curT = t;
    this.next = e;
    this.threads.firstEnded = this.firstThreadExit !== undefined && this.next > this.firstThreadExit;
    this.state = 'stopped';
    this.lastSiginfo = undefined;
    const thread = this.runningThread;
    const positioned = thread !== undefined ? this.debugger.setPosition(e, true, pc, 1, thread) : this.debugger.setPosition(e, true, pc, 1);
    await Promise.all([...lettingGo, positioned]);
    this.countBase = { e, base };
    for (const l of this.switchListeners) l();
  }

  /** Asks a running run to stop (it then reports 'interrupted'). */
  interrupt(): void {
    this.interruptRequested = true;
    if (this.running) this.current?.debugger.interrupt();
  }

  /** Kills the replayed process. */
  async kill(): Promise<void> {
    const d = this.current;
    if (!d) return;
    this.current = undefined;
    await killDebugged(d);
    await this.threads.drop();
  }

  /** The process ended in a run (its exit was reaped): only its objects are left to let go. */
  private async gone(): Promise<void> {
    const d = this.current;
    this.current = undefined;
    if (d) await killDebugged(d);
    await this.threads.drop();
  }

  /** Events replayed: the native counters now start at the new interval. */
  private advance(events: number): void {
    if (events <= 0) return;
    this.next += events;
    this.countBase = { e: this.next, base: 0 };
    this.threads.firstEnded = this.firstThreadExit !== undefined && this.next > this.firstThreadExit;
  }

  /**
   * Runs forward until the request stops, event `untilEvent` is next, or the
   * history ends; returns what the run did. A run stops at the end of the
   * recording (reason 'end') unless `throughExit` asks it to replay the exit.
   * Output (fd 1/2) of events not shown before goes to onOutput, except in search runs.
   */
  async run(req: ResumeRequest, untilEvent: number, extra: RunExtra, hooks: RunHooks, throughExit = false): Promise<RunReport> {
    const end = throughExit || this.exitEvent === undefined ? Infinity : this.exitEvent;
    this.running = true;
    const report: RunReport = { stop: this.lastStop, copies: [], interrupted: false, steps: 0, served: 0, threadsExited: [] };
    const runStartT = this.curT;
    let fresh = true;
    /** an asynchronous signal's point armed for the runs of its event (point-stretch.ts) */
    let armed: { index: number; point: NativeRunPoint; info: AsyncPointInfo } | undefined;
    // events per native run: few while every event stops (periodic checkpoints and
    // output come between two runs), more while the program passes them in-process
    let batch = EVENTS_PER_RUN;
    this.stats.forwardRuns++;
    try {
      for (;;) {
        if (this.next >= untilEvent) return this.finish(report, { kind: 'stopped', signal: 5, reason: 'interrupted' });
        if (this.next >= end) return this.finish(report, { kind: 'stopped', signal: 5, reason: 'end' });
        if (this.next >= this.trace.eventCount) return this.finish(report, this.ended(endOfTraceMessage(this.trace)));
        if (!extra.search && !fresh) await hooks.atBoundary?.(runStartT);
        const chunk = this.trace.readChunk(this.trace.chunkIndexOf(this.next));
        const offset = chunk.offsets[this.next - chunk.firstRecord];
        // a chunk of events ends where the output shown so far ends: what follows is shown
        const stopAt = Math.min(untilEvent, end, !extra.search && this.next < this.shownUpTo ? this.shownUpTo : Infinity);
        const max = Math.min(stopAt === Infinity ? 0xffffffff : stopAt - this.next, batch);
        const opts: DebugRunOptions = req.action === 'range'
          ? { mode: RunMode.range, start: req.start, end: req.end, fresh, event: this.next, ...extra }
          : { mode: req.action === 'step' ? RunMode.step : RunMode.continue, fresh, event: this.next, ...extra };
        if (req.action !== 'continue' && req.thread !== undefined) opts.thread = req.thread;
        // the target's interval is its record's thread's (addon/debugger_threads.cc, enterThread)
        if (opts.target && opts.target.event < this.trace.eventCount) opts.target = { ...opts.target, thread: decodeEvent(this.trace.record(opts.target.event)).tid };
        // a stop where gdb heard of a new thread stands at the start of an interval whose
        // first state (another thread's, often) gdb has not seen: a breakpoint there is a hit
        if (fresh && req.action === 'continue' && this.lastStop.kind === 'stopped' && this.lastStop.reason === 'thread-created') opts.startCandidate = true;
        if (!fresh) {
          opts.startCandidate = false;
          delete opts.slices;
        }
        opts.forkAt = STUB_SYSCALL;
        if (armed?.index === this.next) opts.point = armed.point;
        if (this.noFeed) opts.noFeed = true;
        const startedAt = this.next;
        const r = await this.debugger.run(this.table, chunk.data, offset, max, opts);
        const stop = decodeStopReport(r.stop);
        this.curT = runStartT + stop.position.ranNs;
        for (const slice of r.slices) report.copies.push({ slice, base: this.baseFor(slice.event), t: runStartT + slice.ranNs });
        if (!extra.search && startedAt >= this.shownUpTo) for (const e of r.echo) this.onOutput?.(e.fd, e.data);
        if (!extra.search) this.shownUpTo = Math.max(this.shownUpTo, startedAt + r.count);
        if (extra.steps !== undefined) extra = { ...extra, steps: Math.max(1, extra.steps - stop.position.steps) };
        report.steps += stop.position.steps;
        report.served += r.served;
        batch = r.served > 0 ? EVENTS_PER_FED_RUN : EVENTS_PER_RUN;
        this.stats.served += r.served;
        this.stats.steps += stop.position.steps;
        report.position = stop.position;
        if (stop.lastHit) report.lastHit = stop.lastHit;
        fresh = false;
        const firstWasLive = !this.threads.firstEnded;
        this.advance(r.count);
        if (firstWasLive && this.threads.firstEnded) report.threadsExited.push(this.threads.firstTid);
        hooks.replayed?.(this.next);
        switch (stop.reason) {
          case 'end-of-buffer':
          case 'batch':
            continue;
          case 'exited':
          case 'killed':
            if (stop.threadsLeft > 0) {
              // a thread's death (its exit, or its part of an exit_group): the process lives on
              await this.threads.ended(stop.tid);
              report.threadsExited.push(stop.tid);
              // nor the state after a thread's death (clone-boundary.ts)
              if (await atIntervalStartTarget(extra.target, this.next, this.runningPid)) return this.finish(report, { kind: 'stopped', signal: 5, reason: 'target' });
              continue;
            }
            if (stop.reason === 'exited') {
              await this.gone();
              this.state = 'exited';
              return this.finish(report, { kind: 'exited', code: stop.code });
            }
            await this.gone();
            this.state = 'killed';
            return this.finish(report, { kind: 'killed', signal: stop.signal });
          case 'divergence':
            return this.finish(report, this.ended(divergenceMessage(this.next, stop.expected, stop.actual)));
          case 'clone':
            // a thread of the process, made again (a child process is not replayed under a debugger)
            if (!r.child) throw new Error(`event ${this.next - 1}: a clone stop without the thread`);
            this.threads.add(stop.recordedChild, r.child, this.next - 1);
            // gdb numbers threads as it hears of them: told at each creation, it numbers
            // them as natively (docs/rsp.md, "Threads")
            if (req.action === 'continue' && req.threadEvents && !extra.search) {
              return this.finish(report, { kind: 'stopped', signal: 5, reason: 'thread-created', thread: stop.recordedChild });
            }
            // the native loop does not judge the state after the clone (clone-boundary.ts)
            if (await atIntervalStartTarget(extra.target, this.next, this.runningPid)) return this.finish(report, { kind: 'stopped', signal: 5, reason: 'target' });
            continue;
          case 'exec':
            await replayExec(this.tracee, this.trace, this.next);
            this.advance(1);
            continue;
          case 'point': {
            // the run found the signal's point: the signal is delivered from there
            const index = this.next;
            if (!armed || armed.index !== index) throw new Error(`event ${index}: a point stop without an armed point`);
            report.point = { e: index, base: this.baseFor(index), pc: stop.pc, n: stop.position.n, exact: stop.position.exact && stop.position.at === stop.pc };
            await applyPoint(this.ownerOf(index), this.trace, index, armed.info);
            armed = undefined;
            this.advance(1);
            hooks.replayed?.(this.next);
            if (stop.then === '') continue;
            // the point is also where gdb stops (a breakpoint at its pc, the end of a
            // step): the first state of the interval after it, arrival 1 at pc
            await this.debugger.setPosition(this.next, true, stop.pc, 1);
            report.position = { ...stop.position, event: this.next, at: stop.pc, n: 1, exact: true, watchHits: 0 };
            if (stop.then !== 'interrupted') return this.finish(report, { kind: 'stopped', signal: 5, reason: stop.then });
            report.interrupted = this.interruptRequested = true;
            return this.finish(report, { kind: 'stopped', signal: 2, reason: 'interrupted' });
          }
          case 'need-js': {
            const ev = decodeEvent(this.trace.record(this.next));
            if (ev.kind === 'async-point') {
              // The run finds the point itself, with gdb's traps in (addon/debugger_point.cc).
              // The filter is planned from the program's own bytes: gdb's breakpoints are
              // lifted meanwhile.
              const all = { start: 0n, end: 2n ** 64n - 1n };
              await hooks.beforeMapping?.(all.start, all.end);
              try {
                const targetFirst = extra.target !== undefined && extra.target.event === this.next;
                armed = { index: this.next, point: await armPoint(this.ownerOf(this.next), this.trace, this.next, ev.tid, ev.point, targetFirst), info: ev.point };
              } catch (e) {
                if (!(e instanceof PointNotFoundError)) throw e;
                return this.finish(report, this.ended(e.message));
              } finally {
                await hooks.afterMapping?.(all.start, all.end);
              }
              continue;
            }
            const mapped = mappedRange(this.trace, this.next);
            if (mapped) await hooks.beforeMapping?.(mapped.start, mapped.end);
            let why: string | undefined;
            try {
              why = await applyJsEvent(this.ownerOf(this.next), this.trace, this.next);
            } catch (e) {
              if (!(e instanceof PointNotFoundError)) throw e;
              return this.finish(report, this.ended(e.message));
            }
            if (mapped) await hooks.afterMapping?.(mapped.start, mapped.end);
            if (why) return this.finish(report, this.ended(`the recording stops here: ${why}`));
            this.advance(1);
            continue;
          }
          case 'interrupted':
            report.interrupted = true;
            this.interruptRequested = true;
            return this.finish(report, { kind: 'stopped', signal: 2, reason: 'interrupted' });
          case 'swbreak':
          case 'hwbreak':
          case 'step':
          case 'target':
            return this.finish(report, { kind: 'stopped', signal: 5, reason: stop.reason });
          case 'watch':
            return this.finish(report, { kind: 'stopped', signal: 5, watch: hooks.watchOf(stop.slot) });
          case 'signal': {
            const ev = decodeEvent(this.trace.record(this.next - 1));
            if (ev.kind === 'signal') this.lastSiginfo = Buffer.from(ev.siginfo);
            return this.finish(report, { kind: 'stopped', signal: stop.signal, reason: 'signal' });
          }
          case 'unknown':
            return this.finish(report, this.ended(`the native replay loop stopped for an unknown reason: ${stop.name}`));
        }
      }
    } finally {
      this.running = false;
    }
  }

  private finish(report: RunReport, stop: StopEvent): RunReport {
    // which thread stopped: gdb makes it the current one
    // (at the end of the recording: the thread whose record is next, which ends the process)
    if (stop.kind === 'stopped' && stop.reason === 'end' && this.threads.made) stop = { ...stop, thread: this.runningThread ?? this.threads.current };
    else if (stop.kind === 'stopped' && stop.reason !== 'thread-created' && report.position?.thread && this.threads.made) stop = { ...stop, thread: report.position.thread };
    if (report.threadsExited.length) stop = { ...stop, threadsExited: report.threadsExited };
    if (!(stop.kind === 'stopped' && stop.reason === 'signal')) this.lastSiginfo = undefined;
    this.lastStop = stop;
    report.stop = stop;
    return report;
  }

  /** The history ends at the current state: the trace stops early, or the replay diverged. */
  ended(message: string): StopEvent {
    this.state = 'ended';
    return { kind: 'end', message };
  }
}

/** The memory a map-file event maps (undefined for other events). */
function mappedRange(trace: TraceReader, index: number): { start: bigint; end: bigint } | undefined {
  const ev = decodeEvent(trace.record(index));
  if (ev.kind !== 'map-file') return undefined;
  const start = BigInt(ev.map.addr);
  return { start, end: start + BigInt(ev.map.length) };
}
