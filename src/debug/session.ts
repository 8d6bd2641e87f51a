// The debug session: one replay of a trace under a debugger's control, as a small
// facade over the engine's rooms (docs/architecture.md). It starts, resumes,
// reverses, seeks, restarts and closes; registers, memory and traps are served by
// the rooms behind it. A command that fails unexpectedly is logged with its stack,
// the replay goes back to where the command started, and the session stays usable.
import type { TraceReader } from '../history/index.js';
import type { ExecSnapshot } from '../history/events.js';
import { getReg } from '../arch/registers.js';
import { native } from '../native/addon.js';
import { debugSlotAddress, librariesSvr4Xml, readLinkMap } from '../replay/link-map.js';
import { RecordedNames, replayRegion, type MemoryRegion } from '../replay/memory-regions.js';
import { readProcessIds, type ProcessIds } from '../replay/process-ids.js';
import type { RecordedProcess } from '../replay/process-tree.js';
import { debuggedTarget, startTarget, type DebuggedTarget } from './debugged-target.js';
import { Diversion } from './diversion.js';
import { ReplayedProcess } from './forward.js';
import type { RunExtra } from './run-report.js';
import { Inspector } from './inspector.js';
import { INTERRUPTED, positionAfterInterrupt, takePendingInterrupt } from './interrupts.js';
import type { Checkpoint, Mark } from './marks.js';
import { monitorCommand, type MonitoredSession } from './monitor.js';
import { ReverseCommands } from './reverse-commands.js';
import { periodic } from './search-plans.js';
import { Seeker } from './seek.js';
import { EngineError, type DebugTarget, type HwKind, type ResumeRequest, type StopEvent } from './target.js';
import { Timeline, type Pos, type TimelineRun } from './timeline.js';
import { NO_SLOTS, Traps } from './traps.js';
import { tlsAddress } from './tls.js';

export type { StopEvent, ResumeRequest } from './target.js';

/** a forward continue leaves a copy this often inside a long stretch without events */
const FORWARD_SLICE_NS = 25e6;
const FORWARD_SLICES = 4000;

export interface SessionOptions {
  /** what the replayed program writes to fd 1 and 2, once, the first time the replay gets there */
  onOutput?: (fd: number, data: Buffer) => void;
  /** the recording's files, for vFile */
  openFile?: (path: string) => Buffer | undefined;
  /** the server's log: internal errors, with their stacks */
  log?: (text: string) => void;
  /** the process gdb debugs (replay --pid; default the first) */
  process?: RecordedProcess;
}

export class DebugSession implements DebugTarget, MonitoredSession {
  readonly snapshot: ExecSnapshot;
  readonly tid: number;
  /** the recorded process debugged, and where its history starts and ends */
  private readonly target: DebuggedTarget;
  avx = false;
  private readonly proc: ReplayedProcess;
  private readonly traps: Traps;
  private readonly inspector: Inspector;
  private readonly diversion: Diversion;
  private readonly timeline: Timeline;
  private readonly seeker: Seeker;
  private readonly reverseCommands: ReverseCommands;
  /** Signals gdb wants reported before delivery: all but those QPassSignals passes. */
  private stopSignals = (1n << 64n) - 2n;
  /**
   * The stop at the end of the recording was reported and the replay has not moved
   * since: the next resume replays the exit. gdb's own code, run in a copy at the end,
   * does not move it (its stops are not the end's, and they used to make the end stop
   * reported again: one more continue before the exit).
   */
  private endShown = false;

  private constructor(readonly trace: TraceReader, private readonly opts: SessionOptions) {
    this.target = debuggedTarget(trace, opts.process);
    ({ snapshot: this.snapshot, tid: this.tid } = this.target);
    this.proc = new ReplayedProcess(trace, opts.onOutput, this.target.exitEvent, this.target.tid, this.target.firstThreadExit);
    this.traps = new Traps(this.proc);
    this.inspector = new Inspector(this.proc, this.traps);
    this.diversion = new Diversion(this.proc, this.traps, this.inspector);
    this.timeline = new Timeline(this.proc, this.traps, () => this.inspector.undoWrites());
    this.seeker = new Seeker(this.proc, this.timeline, this.traps);
    this.reverseCommands = new ReverseCommands(this.proc, this.timeline, this.seeker, this.traps, this.diversion, this.inspector, opts.log);
  }

  static async start(trace: TraceReader, opts: SessionOptions = {}): Promise<DebugSession> {
    const s = new DebugSession(trace, opts);
    await s.begin();
    return s;
  }

  private async begin(): Promise<void> {
    const tracee = await startTarget(this.trace, this.target);
    const first = this.target.firstEvent;
    let pc: bigint;
    try {
      pc = getReg(await native().getRegs(tracee.pid), 'rip');
      await this.proc.adopt({ tracee }, first, 0, pc, 0);
      this.avx = await this.inspector.detectAvx();
    } catch (e) {
      await this.proc.kill();
      if (!tracee.closed) await tracee.close();
      throw e;
    }
    this.proc.lastStop = { kind: 'stopped', signal: 5, reason: 'start' };
    this.endShown = false;
    await this.timeline.begin(pc, first);
  }

  // ---------------------------------------------------------------- state

  get alive(): boolean {
    return this.proc.alive;
  }

  get stopEvent(): StopEvent {
    return this.proc.lastStop;
  }

  /** the index of the next event to replay */
  get eventIndex(): number {
    return this.proc.next;
  }

  get isRunning(): boolean {
    return this.proc.running;
  }

  /** statistics for `monitor checkpoints` and the benchmarks */
  get stats(): ReplayedProcess['stats'] {
    return this.proc.stats;
  }

  threads(): number[] {
    return this.alive ? this.proc.threads.ids() : [];
  }

  madeLater(tid: number): boolean {
    return this.alive && this.proc.threads.madeLater(tid, this.proc.next);
  }

  selectThread(tid: number): void {
    this.proc.threads.select(tid);
    this.inspector.invalidate();
  }

  get selectedThread(): number {
    return this.proc.threads.current;
  }

  async tlsAddress(tid: number, offset: bigint, lm: bigint): Promise<bigint> {
    this.proc.requireProcess();
    return tlsAddress((addr, length) => this.readMemory(addr, length).catch(() => Buffer.alloc(0)), this.snapshot, this.proc.threads.pidOf(tid, this.proc.tracee), offset, lm);
  }

  auxv(): Buffer {
    return Buffer.from(this.snapshot.auxv, 'hex');
  }

  siginfo(): Buffer | undefined {
    return this.proc.lastSiginfo;
  }

  setPassSignals(signals: number[]): void {
    let mask = (1n << 64n) - 2n;
    for (const s of signals) if (s > 0 && s < 64) mask &= ~(1n << BigInt(s));
    this.stopSignals = mask;
  }

  interrupt(): void {
    if (this.diversion.interrupt()) return; // gdb's own code runs: it stops there
    this.proc.interrupt();
  }

  /** Where gdb stands, for `monitor position` and the tests. */
  position(): Mark | undefined {
    const here = this.timeline.here;
    return here?.kind === 'mark' ? here.mark : undefined;
  }

  checkpoints(): Checkpoint[] {
    return this.timeline.store.alive();
  }

  monitor(command: string, progress?: (line: string) => void): Promise<string[]> {
    return monitorCommand(this, command, progress);
  }

  openFile(path: string): Buffer | undefined {
    return this.opts.openFile?.(path);
  }

  // ---------------------------------------------------------------- commands

  /**
   * Runs a command. An unexpected failure is logged with its stack and answered
   * with an 'internal' EngineError; the replay goes back to where the command
   * started (or to the start of the replay), so the session stays usable.
   */
  private async command(name: string, body: () => Promise<StopEvent>): Promise<StopEvent> {
    const start = this.timeline.here;
    try {
      return await body();
    } catch (e) {
      if (e instanceof EngineError) throw e;
      this.opts.log?.(`internal error in ${name}: ${(e as Error).stack ?? e}`);
      await this.recover(start);
      throw new EngineError('internal', `${name} failed: ${(e as Error).message}`);
    }
  }

  private async recover(start: Pos | undefined): Promise<void> {
    this.proc.running = false;
    this.proc.interruptRequested = false;
    try {
      await this.diversion.leave(false);
      if (!start) throw new Error('no position to go back to');
      await this.seeker.reach(start);
      await this.traps.installGdb();
      this.proc.lastStop = { kind: 'stopped', signal: 5, reason: 'step' };
      this.endShown = false;
    } catch (e) {
      this.opts.log?.(`cannot go back to where the command started (${(e as Error).message}): the replay starts again`);
      await this.restart().catch((e2) => this.opts.log?.(`cannot restart the replay: ${(e2 as Error).stack ?? e2}`));
    }
  }

  private stopped(s: StopEvent, inCopy = false): StopEvent {
    this.inspector.invalidate();
    if (!inCopy) this.endShown = s.kind === 'stopped' && s.reason === 'end';
    this.proc.threads.selected = s.kind === 'stopped' ? s.thread : undefined; // gdb makes the stopped thread current
    if (!(s.kind === 'stopped' && s.reason === 'signal')) this.proc.lastSiginfo = undefined;
    return (this.proc.lastStop = s);
  }

  resume(req: ResumeRequest): Promise<StopEvent> {
    return this.command('resume', async () => {
      if (this.proc.state !== 'stopped') return this.proc.lastStop;
      const endShown = this.proc.atEnd && this.endShown;
      // A ^C that came after the end's stop answered the continue is late: only the
      // exit is left, and it is replayed (kept, it stopped every later resume there).
      if (takePendingInterrupt(this.proc) && !endShown) return this.stopped(INTERRUPTED);
      if (await this.diversion.diverted()) {
        const stop = await this.diversion.run(req);
        if (stop.kind === 'stopped' && stop.reason === 'interrupted') this.proc.interruptRequested = false;
        return this.stopped(stop, true);
      }
      await this.diversion.leave();
      // The end of the recording is a place: a run stops there first ("No more
      // reverse-execution history"); a resume from there replays the exit as recorded.
      const atEnd = this.proc.atEnd;
      if (atEnd && !endShown) return this.stopped({ kind: 'stopped', signal: 5, reason: 'end' });
      const slots = this.traps.gdbSlots();
      const extra: RunExtra = { stopSignals: this.stopSignals };
      if (req.action === 'continue') {
        extra.slices = periodic(FORWARD_SLICE_NS, FORWARD_SLICES);
        extra.spreadSlices = true;
      }
      const run = await this.timeline.run(req, Infinity, extra, atEnd);
      // the run stopped for the interrupt: it is answered (one that came after the run
      // stopped for another reason stays for the next resume, see takePendingInterrupt)
      if (run.interrupted) this.proc.interruptRequested = false;
      this.timeline.here = run.interrupted ? await positionAfterInterrupt(this.proc, this.timeline, run) : await this.timeline.positionAfter(run, slots);
      await this.timeline.checkpointHere();
      return this.stopped(run.stop);
    });
  }

  /**
   * Replays forward to just after event `event` (from an earlier checkpoint if it is
   * behind); `replayed` hears of the events as they are replayed.
   */
  seek(event: number, replayed?: (next: number) => void): Promise<StopEvent> {
    return this.command('seek', async () => {
      const proc = this.proc;
      if (event + 1 < proc.next || proc.state !== 'stopped') {
        if (proc.state === 'ended') await this.restart();
        else await this.timeline.switchTo(this.timeline.latestBefore(event + 1));
      }
      if (event + 1 <= proc.next) return proc.lastStop;
      await this.traps.install([], NO_SLOTS);
      replayed?.(proc.next); // where the run starts
      let run: TimelineRun;
      try {
        run = await this.timeline.run({ action: 'continue' }, event + 1, {}, false, replayed);
        // an interrupt ends the seek where it is, and is answered by it
        if (run.interrupted) this.proc.interruptRequested = false;
        this.timeline.here = run.interrupted ? await positionAfterInterrupt(this.proc, this.timeline, run) : await this.timeline.positionAfter(run, []);
      } finally {
        if (proc.state === 'stopped') await this.traps.installGdb();
      }
      await this.timeline.checkpointHere();
      return this.stopped(run.stop);
    });
  }

  /** gdb's `bs` and `bc` (reverse-commands.ts). */
  reverse(kind: 'step' | 'continue'): Promise<StopEvent> {
    return this.command(kind === 'step' ? 'reverse-step' : 'reverse-continue', async () => {
      if (this.proc.state !== 'stopped') return this.proc.lastStop;
      if (takePendingInterrupt(this.proc)) return this.stopped(INTERRUPTED);
      return this.stopped(await this.reverseCommands.run(kind));
    });
  }

  /** Starts the replay again from the beginning, keeping breakpoints and watchpoints. */
  async restart(): Promise<StopEvent> {
    await this.close();
    this.inspector.forget();
    await this.begin();
    await this.traps.reinstallAfterRestart();
    return this.proc.lastStop;
  }

  /** Ends the replay: the replayed process and every checkpoint. */
  async close(): Promise<void> {
    await this.diversion.leave(false).catch(() => undefined);
    await this.proc.kill();
    await this.timeline.clear();
  }

  // ---------------------------------------------------------------- registers, memory, traps

  readRegisters(): Promise<Buffer> {
    return this.inspector.readRegisters(this.avx);
  }

  readRegister(regno: number): Promise<Buffer> {
    return this.inspector.readRegister(this.avx, regno);
  }

  writeRegister(regno: number, value: Buffer): Promise<void> {
    return this.inspector.writeRegister(this.avx, regno, value);
  }

  writeRegisters(data: Buffer): Promise<void> {
    return this.inspector.writeRegisters(this.avx, data);
  }

  expedite(): Promise<{ regno: number; bytes: Buffer }[]> {
    return this.inspector.expedite();
  }

  readMemory(addr: bigint, length: number): Promise<Buffer> {
    return this.inspector.readMemory(addr, length);
  }

  writeMemory(addr: bigint, data: Buffer): Promise<void> {
    return this.inspector.writeMemory(addr, data);
  }

  insertBreakpoint(kind: 0 | HwKind, addr: bigint, length: number): Promise<void> {
    return this.traps.insert(kind, addr, length, (a) => this.inspector.originalByte(a));
  }

  removeBreakpoint(kind: 0 | HwKind, addr: bigint, length: number): Promise<void> {
    return this.traps.remove(kind, addr, length);
  }

  /** The dynamic linker's list of loaded objects, as gdb's libraries-svr4 document. */
  async librariesSvr4(): Promise<string> {
    if (!this.alive) return librariesSvr4Xml([]);
    return librariesSvr4Xml(await readLinkMap((addr, length) => this.readMemory(addr, length).catch(() => Buffer.alloc(0)), this.snapshot));
  }

  // ---------------------------------------------------------------- LLDB's queries

  /** the recording's names for memory, found by one pass over the trace when LLDB first asks */
  private names: RecordedNames | undefined;

  memoryRegion(addr: bigint): MemoryRegion {
    this.proc.requireProcess();
    this.names ??= RecordedNames.scan(this.trace, this.snapshot);
    return replayRegion(this.proc.pid, this.names.at(this.proc.next), addr);
  }

  shlibInfoAddress(): Promise<bigint | undefined> {
    return debugSlotAddress((addr, length) => this.readMemory(addr, length).catch(() => Buffer.alloc(0)), this.snapshot);
  }

  processIds(): ProcessIds {
    this.proc.requireProcess();
    return readProcessIds(this.proc.pid);
  }
}
