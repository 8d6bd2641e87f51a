// The debugging engine: one replay of a trace under a debugger's control. It knows
// the current point (the next event to replay; a stop can fall between two events,
// the event in progress not yet consumed), the registers and memory there,
// breakpoints and watchpoints, and runs forwards: continue, step, range step,
// interrupt, restart, seek. It knows nothing of the wire protocol.
//
// Reverse execution (docs/timeline.md): every stop has a name that can be reached
// again (a Mark: the n-th arrival at a pc since a base, or a fingerprinted state;
// or the k-th data-watch trigger since a base). Checkpoints are forked copies of
// the replayed process, also left inside long stretches without events (slices).
// reverse-continue searches forward in windows that end at the current point and
// start ever further back; reverse-stepi single-steps forward from the nearest
// earlier known point.
import { TraceReader } from '../history/index.js';
import { decodeEvent, type ExecSnapshot } from '../history/events.js';
import { native, type DebugRunOptions, type NativeLoopResult, type NativeSlice, type NativeStopInfo } from '../native.js';
import { registerLayout } from './register-layout.js';
import { getReg, setReg } from './registers.js';
import { librariesSvr4Xml, readLinkMap } from './link-map.js';
import { hasAvx, readAllRegisters, readRegister, writeRegister } from './register-file.js';
import { encodeSyscallTable } from './syscall-table.js';
import { STUB_SYSCALL } from './stub.js';
import { applyJsEvent, divergenceMessage, endOfTraceMessage, firstExec, replayExec, startReplayProcess } from './replay-process.js';
import { CheckpointStore } from './checkpoint-store.js';
import { describeMark, lower, rename, sameMark, type Checkpoint, type Mark } from './marks.js';

export type { Checkpoint, Mark } from './marks.js';
export { describeMark } from './marks.js';

export type WatchKind = 'watch' | 'rwatch' | 'awatch';

export type StopEvent =
  | {
      kind: 'stopped';
      /** signal to report (5 = SIGTRAP for breakpoints and steps) */
      signal: number;
      reason?: 'swbreak' | 'hwbreak' | 'step' | 'interrupted' | 'start' | 'signal' | 'target' | 'begin';
      watch?: { kind: WatchKind; addr: bigint };
    }
  | { kind: 'exited'; code: number }
  | { kind: 'killed'; signal: number }
  /** the history ends here: the trace stops early, or the replay diverged */
  | { kind: 'end'; message: string };

export type ResumeRequest =
  | { action: 'continue' }
  | { action: 'step' }
  | { action: 'range'; start: bigint; end: bigint };

/** gdb's Z1-Z4 kinds */
export type HwKind = 1 | 2 | 3 | 4;

interface HwPoint {
  kind: HwKind;
  addr: bigint;
  length: number;
}

interface Slot {
  addr: bigint;
  type: 0 | 1 | 3;
  len: 1 | 2 | 4 | 8;
  owner: HwPoint;
}

type SlotSpec = { addr: bigint; type: 0 | 1 | 3; len: 1 | 2 | 4 | 8 } | null;

/** How to reach a stop again. */
type Pos =
  | { kind: 'mark'; mark: Mark }
  /** the k-th trigger of these data watchpoints since base (see Mark.base) in interval e */
  | { kind: 'watch'; e: number; base: number; k: number; slots: SlotSpec[]; pc: bigint };

/** Where a window of a reverse search starts: a checkpoint, or the start of interval e. */
type Start = { cp: Checkpoint; e: number } | { cp: undefined; e: number };

/** A stop found by a reverse search. */
interface Found {
  pos: Pos;
  reason: 'swbreak' | 'hwbreak' | 'watch';
  slot: number;
}

/** Options of runTo beyond the resume request. */
type RunExtra = Omit<DebugRunOptions, 'mode' | 'start' | 'end' | 'fresh' | 'event' | 'forkAt'>;

/** a periodic checkpoint at the next event boundary after this much replay time */
const CHECKPOINT_EVERY_MS = 100;
/** ... or after this many events */
const CHECKPOINT_EVERY_EVENTS = 200;
/** a forward continue leaves a copy this often inside a long stretch without events */
const FORWARD_SLICE_NS = 50e6;
const FORWARD_SLICES = 2000;
/** the finest distance a window is narrowed to before it is searched (timer precision) */
const FINE_NS = 5e3;
/** REWIND_TRACE_RUNS=1: every run of the engine is described on stderr (for studying searches) */
const TRACE_RUNS = !!process.env.REWIND_TRACE_RUNS;
function trace(text: () => string): void {
  if (TRACE_RUNS) process.stderr.write(`rewind: ${text()}\n`);
}

/** an interrupted continue stops this many instructions after the interrupt (see afterInterrupt) */
const AFTER_INTERRUPT_STEPS = 1000;
/** single-steps between checkpoints while searching for a predecessor */
const STEP_CHUNK = 256;
/** steps tried from the previous arrival before a search for a closer start */
const STEP_BUDGET = 4096;

class Interrupted extends Error {}

export class EngineError extends Error {
  constructor(readonly code: 'no-process' | 'bad-address' | 'too-many' | 'refused' | 'bad-register', message: string) {
    super(message);
  }
}

const MODE = { continue: 0, step: 1, range: 2 } as const;

/** Aligned pieces (1, 2, 4 or 8 bytes) covering [addr, addr+length). */
function alignedPieces(addr: bigint, length: number): { addr: bigint; len: 1 | 2 | 4 | 8 }[] {
  const out: { addr: bigint; len: 1 | 2 | 4 | 8 }[] = [];
  let a = addr;
  let left = BigInt(length);
  while (left > 0n) {
    let size: 1 | 2 | 4 | 8 = 8;
    while (size > 1 && (a % BigInt(size) !== 0n || BigInt(size) > left)) size = (size / 2) as 1 | 2 | 4;
    out.push({ addr: a, len: size });
    a += BigInt(size);
    left -= BigInt(size);
  }
  return out;
}

/** The native target that stops at m's arrival, m named relative to the run's base. */
function targetOf(m: Mark): NonNullable<DebugRunOptions['target']> {
  return m.n ? { kind: 0, event: m.e, pc: m.pc, n: m.n } : { kind: 2, event: m.e, pc: m.pc, fp: m.fp! };
}

/** count run times, `every` ns apart */
function periodic(every: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (i + 1) * every);
}

function countsOf(s: NativeSlice): Map<bigint, number> {
  const m = new Map<bigint, number>();
  for (let i = 0; i + 1 < s.counts.length; i += 2) m.set(s.counts[i], Number(s.counts[i + 1]));
  return m;
}

export class DebugSession {
  private pid = 0;
  private next = 0;
  private state: 'stopped' | 'exited' | 'killed' | 'ended' = 'stopped';
  private lastStop: StopEvent = { kind: 'stopped', signal: 5, reason: 'start' };
  private readonly table = encodeSyscallTable();
  private readonly sw = new Map<bigint, number>(); // address -> original byte
  private hw: HwPoint[] = [];
  private slots: Slot[] = [];
  private running = false;
  /** what gdb changed since the last stop, undone before the replay resumes */
  private savedUser: Buffer | undefined;
  private savedX: Buffer | undefined;
  private readonly memUndo = new Map<bigint, number>();
  private xstateCache: Buffer | undefined;
  private lastSiginfo: Buffer | undefined;
  readonly snapshot: ExecSnapshot;
  /** the recorded process id (thread id = process id: single-threaded recordings) */
  readonly tid: number;
  avx = false;
  /** text for the user when the history ended early */
  endMessage: string | undefined;

  // ---- timeline state
  /** where the process stands (how to come back here) */
  private cur: Pos | undefined;
  private readonly store = new CheckpointStore((pid) => this.killProcess(pid));
  /** estimated replay run time (ns) from the start to the current state, and to the start of the current run */
  private curT = 0;
  private runStartT = 0;
  /** where the native arrival counters of the current process start: a checkpoint id, or 0 for the start of interval e */
  private countBase = { e: 1, base: 0 };
  /** the copies the last runTo left (slices), in order */
  private runSlices: Checkpoint[] = [];
  /** traps in the current process (gdb's, or a search's) */
  private installedSw = new Set<bigint>();
  /** Signals gdb wants reported before delivery: all but those QPassSignals passes. */
  private stopSignals = (1n << 64n) - 2n;

  /** gdb's QPassSignals: these are delivered without stopping. */
  setPassSignals(signals: number[]): void {
    let mask = (1n << 64n) - 2n;
    for (const s of signals) if (s > 0 && s < 64) mask &= ~(1n << BigInt(s));
    this.stopSignals = mask;
  }

  /**
   * While gdb runs code of its own choosing (`print f(3)`, `call`, `jump`): the
   * replayed process, parked at the recorded state, and the pc it stands at. The
   * code runs in a throwaway fork (this.pid) whose syscalls are real; the replay
   * resumes from the parked process as soon as gdb resumes at the recorded pc and stack.
   */
  private parked: { pid: number; pc: bigint; sp: bigint; sw: Set<bigint>; slots: (SlotSpec | null)[] } | undefined;
  private installedSlots: SlotSpec[] = [null, null, null, null];
  /** the native position report of the last run */
  private info: NativeStopInfo | undefined;
  private userInterrupted = false;
  private interruptRequested = false;
  private lastCheckpointAt = 0;
  private lastCheckpointEvent = 0;
  private readonly boundaryPcs = new Map<number, bigint>();
  /** statistics for `monitor checkpoints` and the benchmarks */
  readonly stats = { checkpointsTaken: 0, restores: 0, forwardRuns: 0, steps: 0 };

  /** Events whose output (fd 1/2 writes) was already shown: re-running them is silent. */
  private shownUpTo = 0;

  private constructor(readonly trace: TraceReader, private readonly onOutput?: (fd: number, data: Buffer) => void) {
    ({ snapshot: this.snapshot, tid: this.tid } = firstExec(trace));
  }

  /** onOutput gets what the replayed program writes to fd 1 and 2, once, the first time the replay gets there. */
  static async start(trace: TraceReader, onOutput?: (fd: number, data: Buffer) => void): Promise<DebugSession> {
    const s = new DebugSession(trace, onOutput);
    await s.begin();
    return s;
  }

  /** The current point in time: the next event to replay, and the pc. */
  async point(): Promise<{ event: number; pc: bigint }> {
    return { event: this.next, pc: this.state === 'stopped' ? getReg(await this.user(), 'rip') : 0n };
  }

  get eventIndex(): number {
    return this.next;
  }

  /** The process can be inspected (stopped, or at the end of a history that stops early). */
  get alive(): boolean {
    return (this.state === 'stopped' || this.state === 'ended') && this.pid !== 0;
  }

  /** The recorded siginfo when stopped by a signal (qXfer:siginfo:read). */
  siginfo(): Buffer | undefined {
    return this.lastSiginfo;
  }

  get stopEvent(): StopEvent {
    return this.lastStop;
  }

  private async begin(): Promise<void> {
    const n = native();
    this.pid = await startReplayProcess(this.trace, this.snapshot);
    try {
      this.avx = hasAvx(await n.getXState(this.pid));
    } catch (e) {
      await this.close();
      throw e;
    }
    this.next = 1;
    this.state = 'stopped';
    this.lastStop = { kind: 'stopped', signal: 5, reason: 'start' };
    this.endMessage = undefined;
    this.installedSw = new Set();
    this.installedSlots = [null, null, null, null];
    const pc = getReg(await native().getRegs(this.pid), 'rip');
    await native().debugSetPosition(this.pid, 1, true, pc, 1);
    this.countBase = { e: 1, base: 0 };
    this.cur = { kind: 'mark', mark: { e: 1, base: 0, pc, n: 1, steps: 0 } };
    this.boundaryPcs.set(1, pc);
    await this.takeCheckpoint(true);
  }

  /** Starts the replay again from the beginning, keeping breakpoints and watchpoints. */
  async restart(): Promise<StopEvent> {
    await this.close();
    this.memUndo.clear();
    this.savedUser = this.savedX = this.xstateCache = undefined;
    await this.begin();
    for (const addr of this.sw.keys()) this.sw.set(addr, await native().insertBreakpoint(this.pid, addr));
    this.installedSw = new Set(this.sw.keys());
    if (this.slots.length) await this.applySlots();
    return this.lastStop;
  }

  /** Ends the replay: the replayed process and every checkpoint. */
  async close(): Promise<void> {
    await this.leaveScratch();
    if (this.pid) {
      const pid = this.pid;
      this.pid = 0;
      await this.killProcess(pid);
    }
    await this.store.clear();
    this.runSlices = [];
    this.boundaryPcs.clear();
  }

  private async killProcess(pid: number): Promise<void> {
    await native().kill(pid).catch(() => undefined);
    await native().debugForget(pid).catch(() => undefined);
  }

  private requireProcess(): void {
    if ((this.state !== 'stopped' && this.state !== 'ended') || !this.pid) throw new EngineError('no-process', 'the replayed process is not running');
  }

  // ---------------------------------------------------------------- registers

  private async user(): Promise<Buffer> {
    this.requireProcess();
    return native().getRegs(this.pid);
  }

  private async xstate(): Promise<Buffer> {
    this.requireProcess();
    if (!this.xstateCache) this.xstateCache = await native().getXState(this.pid);
    return this.xstateCache;
  }

  async readRegisters(): Promise<Buffer> {
    return readAllRegisters(this.avx, await this.user(), await this.xstate());
  }

  async readRegister(regno: number): Promise<Buffer> {
    const info = registerLayout({ avx: this.avx })[regno];
    if (!info) throw new EngineError('bad-register', `no register ${regno}`);
    return readRegister(info, await this.user(), await this.xstate());
  }

  /** Expedited registers for stop replies: rbp, rsp, rip. */
  async expedite(): Promise<{ regno: number; bytes: Buffer }[]> {
    const user = await this.user();
    return [6, 7, 16].map((regno) => ({ regno, bytes: readRegister(registerLayout({ avx: false })[regno], user, Buffer.alloc(0)) }));
  }

  async writeRegister(regno: number, value: Buffer): Promise<void> {
    const layout = registerLayout({ avx: this.avx });
    const info = layout[regno];
    if (!info) throw new EngineError('bad-register', `no register ${regno}`);
    const user = Buffer.from(await this.user());
    const x = Buffer.from(await this.xstate());
    if (regno === 57) return; // orig_rax: gdb writes -1 with every pc change; the replay keeps its own
    this.savedUser ??= Buffer.from(user);
    this.savedX ??= Buffer.from(x);
    if (writeRegister(info, value, user, x) === 'user') await native().setRegs(this.pid, user);
    else {
      await native().setXState(this.pid, x);
      this.xstateCache = x;
    }
  }

  async writeRegisters(data: Buffer): Promise<void> {
    const layout = registerLayout({ avx: this.avx });
    for (const r of layout) {
      if (r.offset + r.bytes > data.length) break;
      const v = data.subarray(r.offset, r.offset + r.bytes);
      const cur = await this.readRegister(r.regno);
      if (!cur.equals(v)) await this.writeRegister(r.regno, v);
    }
  }

  // ---------------------------------------------------------------- memory

  /** The dynamic linker's list of loaded objects, as gdb's libraries-svr4 document. */
  async librariesSvr4(): Promise<string> {
    if (!this.alive) return librariesSvr4Xml([]);
    return librariesSvr4Xml(await readLinkMap((addr, length) => this.readMemory(addr, length).catch(() => Buffer.alloc(0)), this.snapshot));
  }

  /** Memory as the program sees it: breakpoint bytes replaced by the originals. */
  async readMemory(addr: bigint, length: number): Promise<Buffer> {
    this.requireProcess();
    const data = await native().readMemory(this.pid, addr, length);
    for (const [a, orig] of this.sw) if (a >= addr && a < addr + BigInt(data.length)) data[Number(a - addr)] = orig;
    return data;
  }

  async writeMemory(addr: bigint, data: Buffer): Promise<void> {
    this.requireProcess();
    const before = await this.readMemory(addr, data.length);
    if (before.length < data.length) throw new EngineError('bad-address', `cannot write ${data.length} bytes at 0x${addr.toString(16)}`);
    for (let i = 0; i < data.length; i++) {
      const a = addr + BigInt(i);
      if (!this.memUndo.has(a)) this.memUndo.set(a, before[i]);
    }
    await native().writeMemory(this.pid, addr, data);
    // keep breakpoints inserted under the new bytes
    for (const a of this.sw.keys()) {
      if (a >= addr && a < addr + BigInt(data.length)) {
        this.sw.set(a, data[Number(a - addr)]);
        await native().writeMemory(this.pid, a, Buffer.from([0xcc]));
      }
    }
  }

  /** Puts back the recorded state gdb changed (registers, memory) before the replay goes on. */
  private async undoWrites(): Promise<void> {
    const n = native();
    if (this.savedUser) await n.setRegs(this.pid, this.savedUser);
    if (this.savedX) await n.setXState(this.pid, this.savedX);
    this.savedUser = this.savedX = undefined;
    for (const [a, b] of this.memUndo) {
      if (this.sw.has(a)) this.sw.set(a, b);
      else await n.writeMemory(this.pid, a, Buffer.from([b]));
    }
    this.memUndo.clear();
    this.xstateCache = undefined;
  }

  // ---------------------------------------------------------------- breakpoints

  async insertBreakpoint(kind: 0 | HwKind, addr: bigint, length: number): Promise<void> {
    this.requireProcess();
    if (kind === 0) {
      if (this.sw.has(addr)) return;
      try {
        const orig = await native().insertBreakpoint(this.pid, addr);
        this.installedSw.add(addr);
        this.sw.set(addr, this.memUndo.get(addr) ?? orig);
      } catch (e) {
        throw new EngineError('bad-address', (e as Error).message);
      }
      return;
    }
    if (this.hw.some((p) => p.kind === kind && p.addr === addr && p.length === length)) return;
    const candidate = [...this.hw, { kind, addr, length: kind === 1 ? 1 : length }];
    const slots = this.assign(candidate);
    if (!slots) throw new EngineError('too-many', 'out of debug registers (4)');
    this.hw = candidate;
    this.slots = slots;
    await this.applySlots();
  }

  async removeBreakpoint(kind: 0 | HwKind, addr: bigint, length: number): Promise<void> {
    this.requireProcess();
    if (kind === 0) {
      if (!this.sw.has(addr)) return;
      const orig = this.sw.get(addr)!;
      this.sw.delete(addr);
      await native().removeBreakpoint(this.pid, addr);
      this.installedSw.delete(addr);
      // a gdb write under the breakpoint changed the byte to restore
      const now = await native().readMemory(this.pid, addr, 1);
      if (now.length === 1 && now[0] !== orig) await native().writeMemory(this.pid, addr, Buffer.from([orig]));
      return;
    }
    const len = kind === 1 ? 1 : length;
    this.hw = this.hw.filter((p) => !(p.kind === kind && p.addr === addr && p.length === len));
    this.slots = this.assign(this.hw) ?? [];
    await this.applySlots();
  }

  private assign(points: HwPoint[]): Slot[] | undefined {
    const slots: Slot[] = [];
    for (const p of points) {
      if (p.kind === 1) slots.push({ addr: p.addr, type: 0, len: 1, owner: p });
      else for (const piece of alignedPieces(p.addr, p.length)) slots.push({ ...piece, type: p.kind === 2 ? 1 : 3, owner: p });
    }
    return slots.length <= 4 ? slots : undefined;
  }

  private gdbSlots(): SlotSpec[] {
    return [0, 1, 2, 3].map((i) => (this.slots[i] ? { addr: this.slots[i].addr, type: this.slots[i].type, len: this.slots[i].len } : null));
  }

  private async applySlots(): Promise<void> {
    const regs = this.gdbSlots();
    await native().setDebugRegs(this.pid, regs);
    this.installedSlots = regs;
  }

  /** Puts exactly these traps into the current process. */
  private async installTraps(sw: Iterable<bigint>, slots: SlotSpec[]): Promise<void> {
    const n = native();
    const want = new Set(sw);
    for (const a of [...this.installedSw]) {
      if (!want.has(a)) {
        await n.removeBreakpoint(this.pid, a);
        this.installedSw.delete(a);
      }
    }
    for (const a of want) {
      if (!this.installedSw.has(a)) {
        // not mapped yet at an earlier point (a library loaded later): a search from
        // here cannot see hits there before the mapping, documented in docs/timeline.md
        if (await n.insertBreakpoint(this.pid, a).then(() => true, () => false)) this.installedSw.add(a);
      }
    }
    const same = slots.length === 4 && slots.every((s, i) => {
      const o = this.installedSlots[i];
      return s === o || (s !== null && o !== null && s.addr === o.addr && s.type === o.type && s.len === o.len);
    });
    if (!same) {
      const regs = [0, 1, 2, 3].map((i) => slots[i] ?? null);
      await n.setDebugRegs(this.pid, regs);
      this.installedSlots = regs;
    }
  }

  private installGdbTraps(): Promise<void> {
    return this.installTraps(this.sw.keys(), this.gdbSlots());
  }

  // ---------------------------------------------------------------- running

  get isRunning(): boolean {
    return this.running;
  }

  /** Asks a running resume to stop (it then reports 'interrupted'). */
  interrupt(): void {
    this.interruptRequested = true;
    if (this.running && this.pid) native().interrupt(this.pid);
  }

  async resume(req: ResumeRequest): Promise<StopEvent> {
    if (this.state !== 'stopped') return this.lastStop;
    this.interruptRequested = false;
    if (await this.pcMoved()) return this.runScratch(req);
    await this.leaveScratch();
    const slots = this.gdbSlots();
    const extra: RunExtra = { stopSignals: this.stopSignals };
    if (req.action === 'continue') extra.slices = periodic(FORWARD_SLICE_NS, FORWARD_SLICES);
    const stop = await this.runTo(req, Infinity, extra);
    this.cur = this.userInterrupted ? await this.afterInterrupt() : await this.positionAfter(stop, slots);
    await this.checkpointHere();
    return stop;
  }

  /**
   * An interrupted continue stops anywhere. The loop left a copy there; the stop
   * moves a few instructions on, so that it is named by steps from that copy and
   * going back over those steps is cheap.
   */
  private async afterInterrupt(): Promise<Pos | undefined> {
    const here = this.runSlices[this.runSlices.length - 1];
    const pc = this.info?.at as bigint | undefined;
    if (!here || here.mark.pc !== pc || here.mark.e !== this.next || this.state !== 'stopped') return this.positionAfter(this.lastStop, []);
    const e = this.next;
    const interrupted = this.lastStop;
    this.countBase = { e, base: here.id };
    const stop = await this.runTo({ action: 'step' }, e + 1, { steps: AFTER_INTERRUPT_STEPS });
    const steps = Number(this.info?.steps ?? 0);
    this.lastStop = interrupted;
    this.userInterrupted = true;
    if (stop.kind !== 'stopped' || this.next !== e) return this.positionAfter(stop, []);
    return { kind: 'mark', mark: { e, base: here.id, pc: here.mark.pc, n: 1, steps } };
  }

  /** The name of the stop a forward run ended at (relative to the latest copy it left before it). */
  private async positionAfter(stop: StopEvent, slots: SlotSpec[]): Promise<Pos | undefined> {
    if (stop.kind !== 'stopped' || !this.pid || !this.info || this.info.at === undefined) return undefined;
    const pc = this.info.at as bigint;
    const n = Number(this.info.n);
    const e = this.next;
    const base = this.baseFor(e);
    const exact = Number(this.info.exact) && n > 0;
    let pos: Pos;
    if (stop.watch && !exact) pos = { kind: 'watch', e, base, k: Number(this.info.watchHits), slots, pc };
    else if (exact) pos = { kind: 'mark', mark: { e, base, pc, n, steps: 0 } };
    else pos = { kind: 'mark', mark: { e, base, pc, n: 0, steps: 0, fp: await native().fingerprint(this.pid) } };
    return this.afterSlices(pos, Infinity);
  }

  /** pos renamed relative to the latest copy the last run left before it (search hit `seq`). */
  private afterSlices(pos: Pos, seq: number): Pos {
    const e = pos.kind === 'mark' ? pos.mark.e : pos.e;
    for (let i = this.runSlices.length - 1; i >= 0; i--) {
      const s = this.runSlices[i];
      if (s.mark.e !== e || (s.slice?.seq ?? Infinity) >= seq) continue;
      if (pos.kind === 'mark') {
        const r = rename(pos.mark, s, (id) => this.store.get(id));
        if (r && !(r.n === 1 && r.pc === s.mark.pc)) return { kind: 'mark', mark: r };
      } else if (s.watchHits !== undefined && s.mark.base === pos.base && pos.k > s.watchHits) {
        return { ...pos, base: s.id, k: pos.k - s.watchHits };
      }
    }
    return pos;
  }

  /** Replays forward to just after event `event` (restarting first if it is behind). */
  async seek(event: number): Promise<StopEvent> {
    if (event + 1 < this.next || this.state !== 'stopped') {
      if (this.state === 'ended') await this.restart();
      else await this.switchTo(this.latestBefore(event + 1));
    }
    if (event + 1 <= this.next) return this.lastStop;
    await this.installTraps([], [null, null, null, null]);
    let stop: StopEvent;
    try {
      stop = await this.runTo({ action: 'continue' }, event + 1);
      this.cur = await this.positionAfter(stop, []);
    } finally {
      if (this.state === 'stopped') await this.installGdbTraps();
    }
    await this.checkpointHere();
    return stop;
  }

  private async runTo(req: ResumeRequest, untilEvent: number, extra: RunExtra = {}): Promise<StopEvent> {
    if (!TRACE_RUNS) return this.runToInner(req, untilEvent, extra);
    const t = Date.now();
    const from = this.cur?.kind === 'mark' ? describeMark(this.cur.mark) : this.cur?.kind;
    const show = (v: unknown) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : k === 'fp' ? 'fp' : k === 'slices' ? x.length : x));
    process.stderr.write(`rewind: run ${req.action} from ${from} (countBase ${JSON.stringify(this.countBase)}) ${show(extra)} traps ${show([...this.installedSw])} starts\n`);
    const stop = await this.runToInner(req, untilEvent, extra);
    process.stderr.write(`rewind: run ${req.action} from ${from} ${show(extra)} -> ${show(stop)} in ${Date.now() - t} ms, ${this.runSlices.length} slices, ${show(this.info)}\n`);
    return stop;
  }

  private async runToInner(req: ResumeRequest, untilEvent: number, extra: RunExtra = {}): Promise<StopEvent> {
    const n = native();
    await this.undoWrites();
    this.running = true;
    this.userInterrupted = false;
    this.info = undefined;
    this.runSlices = [];
    this.runStartT = this.curT;
    let fresh = true;
    let last: NativeStopInfo | undefined;
    this.stats.forwardRuns++;
    const started = Date.now();
    try {
      for (;;) {
        if (this.next >= untilEvent) return this.stopped({ kind: 'stopped', signal: 5, reason: 'interrupted' });
        if (this.next >= this.trace.eventCount) return this.ended(endOfTraceMessage(this.trace));
        if (!extra.search && !fresh && (Date.now() - Math.max(this.lastCheckpointAt, started) > CHECKPOINT_EVERY_MS || this.next - this.lastCheckpointEvent >= CHECKPOINT_EVERY_EVENTS)) {
          await this.checkpointAtBoundary();
        }
        const chunk = this.trace.readChunk(this.trace.chunkIndexOf(this.next));
        const offset = chunk.offsets[this.next - chunk.firstRecord];
        const max = Math.min(untilEvent === Infinity ? 0xffffffff : untilEvent - this.next, 64);
        const opts: DebugRunOptions = req.action === 'range'
          ? { mode: MODE.range, start: req.start, end: req.end, fresh, event: this.next, ...extra }
          : { mode: MODE[req.action], fresh, event: this.next, ...extra };
        if (!fresh) {
          opts.startCandidate = false;
          delete opts.slices;
        }
        opts.forkAt = STUB_SYSCALL;
        const startedAt = this.next;
        const r: NativeLoopResult = await n.debugRun(this.pid, this.table, chunk.data, offset, max, opts);
        this.curT = this.runStartT + Number(r.stop.ranNs ?? 0);
        await this.keepSlices(r.slices);
        if (!extra.search && startedAt >= this.shownUpTo && r.echo.length) {
          for (const e of r.echo) this.onOutput?.(e.fd, e.data);
        }
        if (!extra.search) this.shownUpTo = Math.max(this.shownUpTo, startedAt + r.count);
        if (extra.steps !== undefined) extra = { ...extra, steps: Math.max(1, extra.steps - Number(r.stop.steps ?? 0)) };
        this.stats.steps += Number(r.stop.steps ?? 0);
        if (r.stop.lastReason !== undefined) last = r.stop;
        this.info = r.stop;
        if (last && last !== r.stop) {
          for (const k of ['lastEvent', 'lastReason', 'lastPc', 'lastN', 'lastExact', 'lastWatch', 'lastSlot', 'lastSeq', 'lastSteps']) this.info[k] = last[k];
        }
        fresh = false;
        this.advance(r.count);
        const stop = r.stop;
        switch (stop.reason) {
          case 'end-of-buffer':
          case 'batch':
            continue;
          case 'exited':
            this.pid = 0;
            this.state = 'exited';
            return (this.lastStop = { kind: 'exited', code: Number(stop.code) });
          case 'killed':
            this.pid = 0;
            this.state = 'killed';
            return (this.lastStop = { kind: 'killed', signal: Number(stop.signal) });
          case 'divergence':
            return this.ended(divergenceMessage(this.next, stop.expected, stop.actual));
          case 'exec':
            await replayExec(this.pid, this.trace, this.next);
            this.advance(1);
            continue;
          case 'need-js': {
            const why = await applyJsEvent(this.pid, this.trace, this.next);
            if (why) return this.ended(`the recording stops here: ${why}`);
            this.advance(1);
            continue;
          }
          case 'interrupted':
            this.userInterrupted = true;
            return this.stopped({ kind: 'stopped', signal: 2, reason: 'interrupted' });
          case 'swbreak':
          case 'hwbreak':
          case 'step':
          case 'target':
            return this.stopped({ kind: 'stopped', signal: 5, reason: stop.reason });
          case 'watch': {
            const slot = this.slots[Number(stop.slot)];
            const kind: WatchKind = slot?.owner.kind === 3 ? 'rwatch' : slot?.owner.kind === 4 ? 'awatch' : 'watch';
            return this.stopped({ kind: 'stopped', signal: 5, watch: { kind, addr: slot?.owner.addr ?? 0n } });
          }
          case 'signal': {
            const ev = decodeEvent(this.trace.record(this.next - 1));
            if (ev.kind === 'signal') this.lastSiginfo = Buffer.from(ev.siginfo);
            return this.stopped({ kind: 'stopped', signal: Number(stop.signal), reason: 'signal' });
          }
          default:
            return this.ended(`the native replay loop stopped for an unknown reason: ${stop.reason}`);
        }
      }
    } catch (e) {
      return this.ended(`replay failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  /** Events replayed: the native counters now start at the new interval. */
  private advance(events: number): void {
    if (events <= 0) return;
    this.next += events;
    this.countBase = { e: this.next, base: 0 };
  }

  /** The copies a run left: checkpoints named relative to the run's counting base. */
  private async keepSlices(slices: NativeSlice[]): Promise<void> {
    for (const s of slices) {
      const counts = countsOf(s);
      const base = this.baseFor(s.event);
      const k = counts.get(s.pc);
      const mark: Mark = k !== undefined
        ? { e: s.event, base, pc: s.pc, n: k + 1, steps: 0 }
        : { e: s.event, base, pc: s.pc, n: 0, steps: 0, fp: await native().fingerprint(s.pid) };
      const cp = this.store.add(s.pid, mark, false, this.runStartT + s.ranNs, counts, s.watchHits,
        { run: this.stats.forwardRuns, ran: s.ranNs, seq: s.seq });
      this.runSlices.push(cp);
      this.stats.checkpointsTaken++;
    }
  }

  // ---------------------------------------------------------------- code gdb runs

  /**
   * gdb moved the pc or the stack away from where the replay stands (a function
   * call, jump), and has not put them back yet.
   */
  private async pcMoved(): Promise<boolean> {
    const recorded = this.parked ? [this.parked.pc, this.parked.sp] : this.savedUser ? [getReg(this.savedUser, 'rip'), getReg(this.savedUser, 'rsp')] : undefined;
    if (!recorded) return false;
    const now = await native().getRegs(this.pid);
    return getReg(now, 'rip') !== recorded[0] || getReg(now, 'rsp') !== recorded[1];
  }

  /**
   * Runs from gdb's changed state in a fork of the replayed process, with real
   * syscalls and gdb's breakpoints (the fork has them in its memory), until a
   * breakpoint (gdb's dummy frame), a signal or an interrupt. The replayed
   * process itself goes back to the recorded state and waits.
   */
  private async runScratch(req: ResumeRequest): Promise<StopEvent> {
    const n = native();
    if (!this.parked) {
      const copy = await n.forkProcess(this.pid, STUB_SYSCALL);
      const pc = getReg(this.savedUser!, 'rip');
      const sp = getReg(this.savedUser!, 'rsp');
      await this.undoWrites();
      this.parked = { pid: this.pid, pc, sp, sw: new Set(this.installedSw), slots: [...this.installedSlots] };
      this.pid = copy;
      this.installedSlots = [null, null, null, null];
      await this.installGdbTraps();
    }
    // in the copy, gdb's changes are the point: nothing to undo
    this.savedUser = this.savedX = this.xstateCache = undefined;
    this.memUndo.clear();
    this.running = true;
    try {
      for (;;) {
        const before = getReg(await n.getRegs(this.pid), 'rip');
        const st = await n.resumeAndWait(this.pid, req.action === 'continue' ? 'cont' : 'step', 0);
        if (st.kind === 'exited' || st.kind === 'killed') {
          // the code ended the copy (exit, a fatal signal): the replay is still there
          await this.leaveScratch(false);
          return this.stopped({ kind: 'stopped', signal: st.kind === 'killed' ? st.signal : 9, reason: 'signal' });
        }
        if (st.kind !== 'signal') continue; // fork events of the copy's own children
        if (st.signal === 19 /* SIGSTOP */) return this.stopped({ kind: 'stopped', signal: 2, reason: 'interrupted' });
        if (st.signal !== 5) return this.stopped({ kind: 'stopped', signal: st.signal, reason: 'signal' });
        const regs = await n.getRegs(this.pid);
        const pc = getReg(regs, 'rip');
        if (this.sw.has(pc - 1n)) {
          setReg(regs, 'rip', pc - 1n);
          await n.setRegs(this.pid, regs);
          return this.stopped({ kind: 'stopped', signal: 5, reason: 'swbreak' });
        }
        if (req.action === 'range' && pc >= req.start && pc < req.end && pc !== before) continue;
        return this.stopped({ kind: 'stopped', signal: 5, reason: req.action === 'continue' ? 'hwbreak' : 'step' });
      }
    } finally {
      this.running = false;
    }
  }

  /** Back to the replayed process after gdb's own code ran (kills the copy). */
  private async leaveScratch(syncTraps = true): Promise<void> {
    if (!this.parked) return;
    const copy = this.pid;
    this.pid = this.parked.pid;
    this.installedSw = this.parked.sw;
    this.installedSlots = this.parked.slots;
    this.parked = undefined;
    this.savedUser = this.savedX = this.xstateCache = undefined;
    this.memUndo.clear();
    await this.killProcess(copy);
    if (syncTraps) await this.installGdbTraps();
  }

  // ---------------------------------------------------------------- checkpoints

  /** The base of the native counters in interval e. */
  private baseFor(e: number): number {
    return e === this.countBase.e ? this.countBase.base : 0;
  }

  /** The current process as a checkpoint at the current mark. */
  private async takeCheckpoint(boundary: boolean): Promise<Checkpoint | undefined> {
    if (this.cur?.kind !== 'mark' || this.state !== 'stopped' || !this.pid) return undefined;
    if (this.next < this.trace.eventCount && decodeEvent(this.trace.record(this.next)).kind === 'exit') return undefined;
    const pid = await native().forkProcess(this.pid, STUB_SYSCALL);
    const cp = this.store.add(pid, this.cur.mark, boundary, this.curT);
    this.stats.checkpointsTaken++;
    this.lastCheckpointAt = Date.now();
    if (boundary) this.lastCheckpointEvent = this.cur.mark.e;
    return cp;
  }

  private isBoundaryMark(m: Mark): boolean {
    return m.base === 0 && m.n === 1 && m.steps === 0 && this.boundaryPcs.get(m.e) === m.pc;
  }

  /** A checkpoint at the current mark, unless one exists. */
  private async checkpointHere(): Promise<void> {
    if (this.cur?.kind !== 'mark') return;
    const m = this.cur.mark;
    if (this.store.find((c) => sameMark(c.mark, m))) return;
    await this.takeCheckpoint(this.isBoundaryMark(m));
  }

  /** During a forward run, between two events: a periodic checkpoint. */
  private async checkpointAtBoundary(): Promise<void> {
    const pc = getReg(await native().getRegs(this.pid), 'rip');
    this.boundaryPcs.set(this.next, pc);
    const saved = this.cur;
    this.cur = { kind: 'mark', mark: { e: this.next, base: 0, pc, n: 1, steps: 0 } };
    try {
      if (!this.store.find((c) => c.boundary && c.mark.e === this.next)) await this.takeCheckpoint(true);
    } finally {
      this.cur = saved;
    }
    this.lastCheckpointAt = Date.now();
    this.lastCheckpointEvent = this.next;
  }

  /** The latest live checkpoint at or before the start of interval e (strictly before it: `strict`). */
  private latestBefore(e: number, strict = false): Checkpoint {
    let best = this.store.root!;
    const key = (c: Checkpoint) => c.mark.e * 4 + (c.boundary ? 0 : 2);
    for (const c of this.store.alive()) {
      const ok = strict ? c.mark.e < e : c.mark.e < e || (c.boundary && c.mark.e === e);
      if (ok && (key(c) > key(best) || (key(c) === key(best) && c.id > best.id))) best = c;
    }
    return best;
  }

  /** Makes a fresh copy of checkpoint `cp` the replayed process; counting starts there. */
  private async switchTo(cp: Checkpoint): Promise<void> {
    const n = native();
    this.store.touch(cp);
    const child = await n.forkProcess(cp.pid, STUB_SYSCALL);
    const old = this.pid;
    this.pid = child;
    if (old) await this.killProcess(old);
    this.stats.restores++;
    this.curT = cp.t;
    this.next = cp.mark.e;
    this.state = 'stopped';
    this.endMessage = undefined;
    this.memUndo.clear();
    this.savedUser = this.savedX = this.xstateCache = undefined;
    this.lastSiginfo = undefined;
    this.installedSw = new Set();
    this.installedSlots = [null, null, null, null];
    await n.debugSetPosition(child, cp.mark.e, true, cp.mark.pc, 1);
    this.countBase = { e: cp.mark.e, base: cp.boundary ? 0 : cp.id };
    this.cur = { kind: 'mark', mark: cp.mark };
  }

  // ---------------------------------------------------------------- positions

  /** The start of interval e: its pc (replaying there once if needed). */
  private async boundaryPc(e: number): Promise<bigint> {
    const known = this.boundaryPcs.get(e);
    if (known !== undefined) return known;
    await this.reachBoundary(e);
    return this.boundaryPcs.get(e)!;
  }

  private async reachBoundary(e: number): Promise<void> {
    await this.switchTo(this.latestBefore(e));
    if (this.next < e) {
      await this.installTraps([], [null, null, null, null]);
      const stop = await this.runTo({ action: 'continue' }, e);
      if (stop.kind !== 'stopped' || this.next !== e) throw new Error(`cannot replay to event ${e}`);
      const pc = getReg(await native().getRegs(this.pid), 'rip');
      this.boundaryPcs.set(e, pc);
      this.cur = { kind: 'mark', mark: { e, base: 0, pc, n: 1, steps: 0 } };
      await this.checkpointHere();
    }
  }

  /** Brings the process to the start of a window; counting starts there. */
  private async reachStart(s: Start): Promise<void> {
    if (!s.cp) return this.reachBoundary(s.e);
    if (s.cp.pid) return this.switchTo(s.cp);
    // a dropped copy: reach its state by its name, count from there, keep a copy again
    const cp = s.cp;
    await this.reachMark(cp.mark);
    await native().debugSetPosition(this.pid, cp.mark.e, true, cp.mark.pc, 1);
    this.countBase = { e: cp.mark.e, base: cp.boundary ? 0 : cp.id };
    this.store.revive(cp, await native().forkProcess(this.pid, STUB_SYSCALL));
  }

  private reachBase(e: number, base: number): Promise<void> {
    return this.reachStart(base ? { cp: this.store.get(base)!, e } : { cp: undefined, e });
  }

  /** m renamed, through its bases, relative to one whose copy still exists (when counts allow). */
  private liveName(m: Mark): Mark {
    for (;;) {
      const c = m.base ? this.store.get(m.base) : undefined;
      if (!c || c.pid) return m;
      const l = lower(m, c);
      if (!l || l.fp) return m; // a fingerprint is cheaper to look for from the closer base
      m = l;
    }
  }

  /** The pc of m's base state. */
  private async basePc(m: Mark): Promise<bigint> {
    return m.base ? this.store.get(m.base)!.mark.pc : this.boundaryPc(m.e);
  }

  /** m is the state its base stands at. */
  private async isBaseState(m: Mark): Promise<boolean> {
    return m.steps === 0 && m.n === 1 && m.pc === (await this.basePc(m));
  }

  /** Runs from the current state (m's base, or later) to m's arrival. */
  private async runToArrival(m: Mark, counters: bigint[]): Promise<void> {
    if (m.n === 0 && getReg(await native().getRegs(this.pid), 'rip') === m.pc && (await native().fingerprint(this.pid)).equals(m.fp!)) return;
    const stop = await this.runTo({ action: 'continue' }, m.e + 1, { silent: [m.pc, ...counters], target: targetOf(m) });
    if (stop.kind !== 'stopped' || stop.reason !== 'target') throw new Error(`cannot reach ${m.n ? `arrival ${m.n}` : 'the fingerprinted state'} at 0x${m.pc.toString(16)} in interval ${m.e}`);
  }

  private async stepN(steps: number, counters: bigint[], e: number): Promise<void> {
    if (steps <= 0) return;
    const stop = await this.runTo({ action: 'step' }, e + 1, { steps, silent: counters });
    if (stop.kind !== 'stopped' || stop.reason !== 'step') throw new Error('cannot replay the steps of a position');
  }

  /**
   * Brings the process to mark m. `counters`: breakpoints that count arrivals from
   * m's base on, so that their counts are exact at m (then the run starts at the base).
   */
  private async reachMark(m: Mark, counters: bigint[] = []): Promise<void> {
    m = this.liveName(m);
    if (!counters.length) {
      if (this.cur?.kind === 'mark' && sameMark(this.cur.mark, m) && this.state === 'stopped' && this.pid) return;
      const exact = this.store.find((c) => sameMark(c.mark, m));
      if (exact) return this.switchTo(exact);
      // the same pc with fewer arrivals since the same base
      let near: Checkpoint | undefined;
      if (m.n) {
        for (const c of this.store.alive()) {
          const k = c.mark;
          if (k.e !== m.e || k.base !== m.base || k.pc !== m.pc || !k.n || k.n > m.n || (k.n === m.n ? k.steps > m.steps : k.steps !== 0)) continue;
          if (!near || k.n > near.mark.n || (k.n === near.mark.n && k.steps > near.mark.steps)) near = c;
        }
      }
      if (near) {
        await this.switchTo(near);
        if (near.mark.n !== m.n) await this.runToArrival({ ...m, base: near.id, n: m.n - near.mark.n + 1, steps: 0 }, []);
        await this.stepN(m.steps - (near.mark.n === m.n ? near.mark.steps : 0), [], m.e);
        this.cur = { kind: 'mark', mark: m };
        return;
      }
    }
    await this.reachBase(m.e, m.base);
    if (!(await this.isBaseState({ ...m, steps: 0 }))) await this.runToArrival(m, counters);
    await this.stepN(m.steps, counters, m.e);
    this.cur = { kind: 'mark', mark: m };
  }

  /** Brings the process to position p (see reachMark for counters). */
  private async reach(p: Pos, counters: bigint[] = []): Promise<void> {
    if (p.kind === 'mark') return this.reachMark(p.mark, counters);
    await this.reachBase(p.e, p.base);
    await this.installTraps([], p.slots);
    const stop = await this.runTo({ action: 'continue' }, p.e + 1, { silent: counters, target: { kind: 1, event: p.e, n: p.k } });
    if (stop.kind !== 'stopped' || stop.reason !== 'target') throw new Error(`cannot reach watchpoint trigger ${p.k} of interval ${p.e} again`);
    this.cur = p;
  }

  /** The mark of the current position (a watch trigger is counted from its base once). */
  private async canon(): Promise<Mark | undefined> {
    const p = this.cur;
    if (!p) return undefined;
    if (p.kind === 'mark') return p.mark;
    await this.reach(p, [p.pc]);
    const info = this.info;
    if (!info || !Number(info.exact) || !Number(info.n)) return undefined;
    const mark: Mark = { e: this.next, base: p.base, pc: p.pc, n: Number(info.n), steps: 0 };
    this.cur = { kind: 'mark', mark };
    return mark;
  }

  /** Where gdb stands, for `monitor position` and the tests. */
  async position(): Promise<Mark | undefined> {
    return this.cur?.kind === 'mark' ? this.cur.mark : undefined;
  }

  checkpoints(): Checkpoint[] {
    return this.store.alive();
  }

  // ---------------------------------------------------------------- reverse execution

  /** gdb's `bs` and `bc`. */
  async reverse(kind: 'step' | 'continue'): Promise<StopEvent> {
    if (this.state !== 'stopped') return this.lastStop;
    this.interruptRequested = false;
    await this.leaveScratch();
    await this.undoWrites();
    const start = this.cur;
    const gdbSw = [...this.sw.keys()];
    const gdbSlots = this.gdbSlots();
    try {
      let now = await this.canon();
      if (!now) {
        this.endMessage = 'rewind: this point cannot be found again; step or continue first';
        return (this.lastStop = { kind: 'stopped', signal: 5, reason: 'begin' });
      }
      if (!now.fp && now.steps === 0) {
        now = { ...now, fp: await native().fingerprint(this.pid) };
        this.cur = { kind: 'mark', mark: now };
      }
      const stop = kind === 'step' ? await this.reverseStep(now) : await this.reverseContinue(now, gdbSw, gdbSlots);
      await this.installGdbTraps();
      await this.checkpointHere();
      return this.stopped(stop);
    } catch (e) {
      if (e instanceof Interrupted) {
        // go back to where the command started
        if (start) await this.reach(start).catch(() => undefined);
        await this.installGdbTraps();
        return this.stopped({ kind: 'stopped', signal: 2, reason: 'interrupted' });
      }
      throw e;
    }
  }

  private checkInterrupt(): void {
    if (this.interruptRequested || this.userInterrupted) {
      this.interruptRequested = false;
      throw new Interrupted();
    }
  }

  private atBegin(): StopEvent {
    return { kind: 'stopped', signal: 5, reason: 'begin' };
  }

  private async reverseStep(now: Mark): Promise<StopEvent> {
    const prev = await this.predecessor(now);
    if (prev === 'begin') {
      await this.reachMark(now);
      return this.atBegin();
    }
    await this.reachMark(prev);
    this.checkInterrupt();
    return { kind: 'stopped', signal: 5, reason: 'step' };
  }

  /** The state one instruction before m. */
  private async predecessor(m: Mark): Promise<Mark | 'begin'> {
    trace(() => `predecessor of ${describeMark(m)}`);
    if (m.steps > 0) return { ...m, steps: m.steps - 1 };
    if (await this.isBaseState(m)) {
      if (m.base) return this.predecessor(this.store.get(m.base)!.mark);
      const last = await this.lastOfInterval(m.e - 1, m.pc);
      // a signal's delivery state is the same machine state as the start of the next interval
      if (last !== 'begin' && m.e >= 2 && decodeEvent(this.trace.record(m.e - 1)).kind === 'signal') return this.predecessor(last);
      return last;
    }
    // Q: the previous arrival at the same pc (if a few thousand steps reach m from
    // there), else the latest of that arrival and the last call from a call site on
    // m's stack (one search run from m's base), else m's base
    if (m.n >= 2) {
      const found = await this.stepFrom({ e: m.e, base: m.base, pc: m.pc, n: m.n - 1, steps: 0 }, m, STEP_BUDGET);
      if (found) return found;
    }
    const q = (await this.closeStart(m)) ?? { e: m.e, base: m.base, pc: await this.basePc(m), n: 1, steps: 0 };
    const found = await this.stepFrom(q, m, Infinity);
    if (!found) throw new Error(`lost the way back from 0x${m.pc.toString(16)}`);
    return found;
  }

  /** Single-steps from q until m (at most `budget` steps): the state before m. q and m share a base. */
  private async stepFrom(q: Mark, m: Mark, budget: number): Promise<Mark | undefined> {
    // m's pc is counted from the base so that the target is exact
    await this.reachMark(q, m.n && q.pc !== m.pc ? [m.pc] : []);
    this.checkInterrupt();
    await this.checkpointHere();
    let steps = 0;
    while (steps < budget) {
      const stop = await this.runTo({ action: 'step' }, m.e + 1, { steps: STEP_CHUNK, target: targetOf(m) });
      this.checkInterrupt();
      if (stop.kind !== 'stopped') throw new Error(`lost the way back from 0x${m.pc.toString(16)} (${stop.kind})`);
      steps += Number(this.info?.steps ?? 0);
      if (stop.reason === 'target') {
        this.cur = { kind: 'mark', mark: m }; // standing at m now
        if (steps < 1) throw new Error('no instruction before a point');
        return { ...q, steps: steps - 1 };
      }
      if (stop.reason !== 'step') throw new Error(`lost the way back from 0x${m.pc.toString(16)} (${stop.reason})`);
      this.cur = { kind: 'mark', mark: { ...q, steps } };
      await this.checkpointHere();
    }
    return undefined;
  }

  /**
   * The last execution, before m, of a call instruction whose return address is on
   * m's stack ([rsp], or [rbp+8] after a frame setup), or of m's own pc: a close
   * start for stepping. One search run from m's base.
   */
  private async closeStart(m: Mark): Promise<Mark | undefined> {
    await this.reachMark(m);
    const n = native();
    const regs = await n.getRegs(this.pid);
    const rsp = getReg(regs, 'rsp');
    const rbp = getReg(regs, 'rbp');
    const sites = new Set<bigint>();
    for (const at of [rsp, rbp + 8n]) {
      const word = await n.readMemory(this.pid, at, 8);
      if (word.length < 8) continue;
      const ret = word.readBigUInt64LE(0);
      const code = await n.readMemory(this.pid, ret - 7n, 7);
      if (code.length < 7) continue;
      const b = (back: number) => code[7 - back];
      if (b(5) === 0xe8) sites.add(ret - 5n); // call rel32
      else if (b(2) === 0xff && (b(1) & 0xf8) === 0xd0) sites.add(ret - 2n); // call *%reg
      else if (b(6) === 0xff && (b(5) === 0x15 || (b(5) & 0xf8) === 0x90)) sites.add(ret - 6n); // call *disp32(...)
      else if (b(3) === 0xff && (b(2) & 0xf8) === 0x50) sites.add(ret - 3n); // call *disp8(%reg)
    }
    if (!sites.size && m.n < 2) return undefined;
    sites.add(m.pc); // its previous arrival, if later than the calls
    await this.reachBase(m.e, m.base);
    await this.installTraps(sites, [null, null, null, null]);
    const stop = await this.runTo({ action: 'continue' }, m.e + 1, { search: true, startCandidate: true, target: targetOf(m) });
    this.checkInterrupt();
    const info = this.info;
    if (stop.kind !== 'stopped' || stop.reason !== 'target' || !info || info.lastReason === undefined || Number(info.lastEvent) !== m.e) return undefined;
    this.cur = { kind: 'mark', mark: m };
    return { e: m.e, base: m.base, pc: info.lastPc as bigint, n: Number(info.lastN), steps: 0 };
  }

  /** The last state of interval e, whose next event starts interval e+1 at pc bpc. */
  private async lastOfInterval(e: number, bpc: bigint): Promise<Mark | 'begin'> {
    if (e < 1) return 'begin';
    const ev = decodeEvent(this.trace.record(e));
    let pc: bigint;
    if (ev.kind === 'syscall') pc = bpc - 2n;
    else if (ev.kind === 'rdtsc') pc = bpc - BigInt(ev.insnLen);
    else if (ev.kind === 'cpuid') pc = bpc - 2n; // a CPUID (or its ud2 patch) is 2 bytes
    else if (ev.kind === 'signal') pc = bpc;
    else if (ev.kind === 'map-file') return this.lastOfInterval(e - 1, bpc);
    else return 'begin';
    // any state of interval e comes before its last one
    const inside = this.store.find((c) => c.mark.e === e && !c.boundary);
    const start: Start = inside ? { cp: inside, e } : { cp: undefined, e };
    await this.reachStart(start);
    await this.installTraps([pc], [null, null, null, null]);
    await this.runTo({ action: 'continue' }, e + 1, { search: true, startCandidate: true });
    this.checkInterrupt();
    const info = this.info;
    const base = start.cp ? start.cp.id : 0;
    if (!info || info.lastReason === undefined || Number(info.lastEvent) !== e) {
      return { e, base, pc: start.cp ? start.cp.mark.pc : await this.boundaryPc(e), n: 1, steps: 0 };
    }
    return { e, base, pc, n: Number(info.lastN), steps: 0 };
  }

  /** Copies left by the same run as c, before it, latest first. */
  private earlierSiblings(c: Checkpoint): Checkpoint[] {
    const own = c.slice;
    if (!own) return [];
    return this.store.alive()
      .filter((x) => x !== c && x.slice?.run === own.run && x.slice.ran < own.ran)
      .sort((a, b) => b.slice!.ran - a.slice!.ran);
  }

  /**
   * Where windows that end at `end` can start, latest first, down to the start of
   * the replay: end's base and the bases below it, the copies their runs left
   * before them, and the latest checkpoints before each interval start passed.
   */
  private async startsBefore(end: Mark): Promise<Start[]> {
    const out: Start[] = [];
    const seen = new Set<number>();
    const push = (x: Start) => {
      const key = x.cp ? x.cp.id : -x.e;
      if (seen.has(key)) return;
      seen.add(key);
      if (!x.cp || x.cp.pid) out.push(x);
    };
    let m = end;
    for (let guard = 0; guard < 100000; guard++) {
      const here = await this.isBaseState(m);
      if (m.base) {
        const c = this.store.get(m.base)!;
        if (!here) push({ cp: c, e: m.e });
        for (const x of this.earlierSiblings(c)) push({ cp: x, e: x.mark.e });
        m = c.mark;
        continue;
      }
      if (!here) push({ cp: undefined, e: m.e });
      if (m.e <= 1) break;
      const c = this.latestBefore(m.e, true);
      push({ cp: c, e: c.mark.e });
      if (c === this.store.root) break;
      for (const x of this.earlierSiblings(c)) push({ cp: x, e: x.mark.e });
      m = c.mark;
    }
    return out;
  }

  /** end named relative to the start of a window (undefined: it cannot be named from there). */
  private endFrom(end: Mark, s: Start): Mark | undefined {
    const get = (id: number) => this.store.get(id);
    if (s.e !== end.e) return rename(end, 0, get);
    return rename(end, s.cp && !s.cp.boundary ? s.cp : 0, get);
  }

  /**
   * The last stop of gdb's traps before `now`: windows that end at now and start
   * ever further back. The first is narrowed first: runs without traps leave copies
   * ever closer to now (densify), and windows from the closest of them are searched
   * first, each about twice as long as the last.
   */
  private async reverseContinue(now: Mark, sw: bigint[], slots: SlotSpec[]): Promise<StopEvent> {
    const endT = this.curT;
    let end = now;
    if (end.steps > 0) {
      const found = await this.searchSteps(end, sw, slots);
      if (found) return this.stopAt(found.pos, found.reason, found.slot);
      end = { ...end, steps: 0 };
    }
    // the process stands at end's arrival: its fingerprint names it from any earlier base
    if (!end.fp) end = { ...end, fp: await native().fingerprint(this.pid) };
    const starts = await this.startsBefore(end);
    trace(() => `reverse-continue to ${describeMark(end)}: ${starts.length} starts`);
    const windows: Start[] = [];
    if (starts.length) {
      // (narrowing runs stop at end by counting arrivals at its pc: not when that pc is hot)
      const hot = end.n > 4096;
      const anchors = hot ? [] : await this.densify(starts[0], end);
      let last = 0;
      for (let i = anchors.length - 1; i >= 0; i--) {
        const a = anchors[i];
        if (a.dist > 0 && (!windows.length || a.dist >= 1.7 * last)) {
          windows.push({ cp: a.cp, e: a.cp.mark.e });
          last = a.dist;
        }
      }
      // then the known earlier starts, each window about twice as long as the last
      for (let i = 0; i < starts.length; i++) {
        const x = starts[i];
        const dist = x.cp ? endT - x.cp.t : Infinity;
        if (i === 0 || i === starts.length - 1 || dist >= 1.8 * last) {
          windows.push(x);
          last = Math.max(last, dist);
        }
      }
    }
    trace(() => `windows from ${windows.map((w) => (w.cp ? `#${w.cp.id} (${((endT - w.cp.t) / 1e6).toFixed(3)} ms)` : `interval ${w.e}`)).join(', ')}`);
    for (const s of windows) {
      const found = await this.searchWindow(s, end, sw, slots, s.cp ? endT - s.cp.t : Infinity);
      if (found) return this.stopAt(found.pos, found.reason, found.slot);
    }
    await this.switchTo(this.store.root!);
    return this.atBegin();
  }

  /**
   * The steps after end's arrival: each landing on a trap is a stop, and a data
   * trigger makes the step before it one; the latest wins. One native run (search
   * mode) over all but the last step, then the last step (there only a data trigger
   * counts: landing on a breakpoint is end itself). The process is left at the arrival.
   */
  private async searchSteps(end: Mark, sw: bigint[], slots: SlotSpec[]): Promise<Found | undefined> {
    const arrival = { ...end, steps: 0 };
    await this.reachMark(arrival);
    await this.installTraps(sw, slots);
    let found: Found | undefined;
    if (end.steps > 1) {
      const stop = await this.runTo({ action: 'step' }, end.e + 1, { steps: end.steps - 1, search: true });
      this.checkInterrupt();
      if (stop.kind !== 'stopped' || stop.reason !== 'step') throw new Error(`cannot replay the steps after ${describeMark(arrival)}`);
      this.cur = { kind: 'mark', mark: { ...end, steps: end.steps - 1 } };
      const info = this.info!;
      if (info.lastReason !== undefined) {
        const k = Number(info.lastSteps);
        const reason = info.lastReason as 'swbreak' | 'hwbreak' | 'watch';
        found = reason === 'watch'
          ? { pos: { kind: 'mark', mark: { ...end, steps: k - 1 } }, reason, slot: Number(info.lastSlot) }
          : { pos: { kind: 'mark', mark: { ...end, steps: k } }, reason: sw.includes(info.lastPc as bigint) ? 'swbreak' : reason, slot: -1 };
      }
    }
    const stop = await this.runTo({ action: 'step' }, end.e + 1, { steps: 1 });
    this.cur = { kind: 'mark', mark: end };
    this.checkInterrupt();
    if (stop.kind === 'stopped' && stop.watch) {
      found = { pos: { kind: 'mark', mark: { ...end, steps: end.steps - 1 } }, reason: 'watch', slot: this.slots.findIndex((x) => x.addr === stop.watch!.addr) };
    }
    if (!found && (sw.includes(end.pc) || slots.some((x) => x?.type === 0 && x.addr === end.pc))) {
      // no trap after the arrival: the arrival itself, when it is at a breakpoint
      found = { pos: { kind: 'mark', mark: arrival }, reason: sw.includes(end.pc) ? 'swbreak' : 'hwbreak', slot: -1 };
    }
    await this.reachMark(arrival);
    return found;
  }

  /** The last trap hit in the window [s, end), or undefined. */
  private async searchWindow(s: Start, end: Mark, sw: bigint[], slots: SlotSpec[], dist: number): Promise<Found | undefined> {
    if (s.cp && !s.cp.pid) return undefined; // dropped meanwhile: a wider window covers it
    const target = this.endFrom(end, s);
    if (!target) throw new Error(`cannot name ${describeMark(end)} from an earlier checkpoint`);
    if (s.cp && this.isAt(s.cp, end)) return undefined; // the copy stands at end
    await this.reachStart(s);
    await this.installTraps(sw, slots);
    const stop = await this.runTo({ action: 'continue' }, end.e + 1, {
      // copies on the way, for what comes next (a reverse-stepi close to the hit)
      search: true, startCandidate: true, target: targetOf(target), silent: [target.pc],
      slices: periodic(Number.isFinite(dist) && dist > 160e6 ? dist / 16 : 10e6, 1000),
    });
    this.checkInterrupt();
    if (stop.kind !== 'stopped' || stop.reason !== 'target') throw new Error(`lost the way back (${stop.kind === 'stopped' ? stop.reason : stop.kind})`);
    const info = this.info!;
    // keep the copies just before the last hit (or the end), drop the rest
    const seqAt = info.lastReason === undefined ? Infinity : Number(info.lastSeq);
    const before = this.runSlices.filter((c) => (c.slice?.seq ?? Infinity) < seqAt);
    for (const c of this.runSlices) if (!before.slice(-8).includes(c)) this.store.release(c);
    if (info.lastReason === undefined) return undefined;
    const e = Number(info.lastEvent);
    const base = e === s.e && s.cp && !s.cp.boundary ? s.cp.id : 0;
    const reason = info.lastReason as 'swbreak' | 'hwbreak' | 'watch';
    const pos: Pos = reason === 'watch'
      ? { kind: 'watch', e, base, k: Number(info.lastWatch), slots, pc: info.lastPc as bigint }
      : { kind: 'mark', mark: { e, base, pc: info.lastPc as bigint, n: Number(info.lastN), steps: 0 } };
    return { pos: this.afterSlices(pos, Number(info.lastSeq)), reason, slot: Number(info.lastSlot) };
  }

  /**
   * Copies between start and end, ever closer to end: a run without traps (only the
   * target end) leaves copies at 1, 2, 4, ... ms, which measures the window; then,
   * from the last copy, runs leave copies at 1/2, 3/4, 7/8, ... of what is left, down
   * to the timer's precision. Returns them in order with their distance to end (ns).
   */
  private async densify(start: Start, end: Mark): Promise<{ cp: Checkpoint; dist: number }[]> {
    const out: { cp: Checkpoint; dist: number }[] = [];
    let from = start;
    let schedule = Array.from({ length: 17 }, (_, k) => 2 ** k * 1e6);
    // run times vary by some percent from run to run: each level gets about that
    // much closer, and the levels stop when one does not
    // each copy also adds some run time that is not progress (the stop, the fork, the
    // faults of copy-on-write after it): measured from one level to the next and
    // added to the offsets of the copies that follow it
    let cost = 30e3;
    let expected = 0;
    let left = Infinity;
    for (let level = 0; level < 12; level++) {
      if (from.cp && !from.cp.pid) break;
      const target = this.endFrom(end, from);
      if (!target) break;
      await this.reachStart(from);
      await this.installTraps([], [null, null, null, null]);
      const stop = await this.runTo({ action: 'continue' }, end.e + 1, { search: true, target: targetOf(target), silent: [target.pc], slices: schedule });
      this.checkInterrupt();
      if (stop.kind !== 'stopped' || stop.reason !== 'target') throw new Error(`lost the way back (${stop.kind === 'stopped' ? stop.reason : stop.kind})`);
      const total = Number(this.info?.ranNs ?? 0);
      const made = this.runSlices.filter((c) => !this.isAt(c, end));
      for (const c of made) out.push({ cp: c, dist: Math.max(0, total - (c.slice?.ran ?? 0)) });
      trace(() => `densify level ${level}: ${(total / 1e6).toFixed(3)} ms to the end, copies at ${made.map((c) => ((total - (c.slice?.ran ?? 0)) / 1e6).toFixed(3)).join(', ')} ms before it`);
      if (made.length && expected) cost = Math.max(0, Math.min(500e3, (total - expected) / made.length));
      const closest = made.length ? out[out.length - 1] : undefined;
      if (closest && closest.dist < left) {
        left = closest.dist;
        from = { cp: closest.cp, e: closest.cp.mark.e };
      } else if (Number.isFinite(left)) {
        left = Math.min(left, total) / 2; // no closer (the end came sooner than planned): aim closer from the same copy
      } else break;
      if (left < 2 * FINE_NS) break;
      schedule = [];
      for (let k = 1; k <= 12 && left / 2 ** k >= FINE_NS / 2; k++) schedule.push(left - left / 2 ** k + (k - 1) * cost);
      expected = left;
    }
    return out;
  }

  /** Checkpoint c stands at end's arrival. */
  private isAt(c: Checkpoint, end: Mark): boolean {
    if (c.mark.e !== end.e || c.mark.pc !== end.pc) return false;
    if (!end.n) return !!(c.mark.fp && end.fp && c.mark.fp.equals(end.fp));
    const r = rename(end, c, (id) => this.store.get(id));
    return r !== undefined && r.n === 1;
  }

  /** Goes to a stop found by a search and says why gdb stops there. */
  private async stopAt(p: Pos, reason: 'swbreak' | 'hwbreak' | 'watch', slot: number): Promise<StopEvent> {
    const owner = slot >= 0 ? this.slots[slot]?.owner : undefined;
    if (reason !== 'watch') {
      await this.reach(p);
      return { kind: 'stopped', signal: 5, reason };
    }
    const watch = { kind: (owner?.kind === 3 ? 'rwatch' : owner?.kind === 4 ? 'awatch' : 'watch') as WatchKind, addr: owner?.addr ?? 0n };
    let writer: Mark | 'begin';
    if (p.kind === 'mark') writer = p.mark; // found while stepping: already the writing instruction
    else {
      // the trap comes after the writing instruction: one instruction back
      await this.reach(p, [p.pc]);
      const info = this.info!;
      const after: Mark = { e: this.next, base: p.base, pc: info.at as bigint, n: Number(info.n), steps: 0 };
      writer = await this.predecessor(after);
    }
    if (writer === 'begin') return this.atBegin();
    await this.reachMark(writer);
    return { kind: 'stopped', signal: 5, watch };
  }

  private stopped(s: StopEvent): StopEvent {
    this.xstateCache = undefined;
    if (!(s.kind === 'stopped' && s.reason === 'signal')) this.lastSiginfo = undefined;
    return (this.lastStop = s);
  }

  private async ended(message: string): Promise<StopEvent> {
    this.state = 'ended';
    this.endMessage = message;
    this.xstateCache = undefined;
    return (this.lastStop = { kind: 'end', message });
  }
}
