// The debugging engine: one replay of a trace under a debugger's control. It knows
// the current point (the next event to replay; a stop can fall between two events,
// the event in progress not yet consumed), the registers and memory there,
// breakpoints and watchpoints, and runs forwards: continue, step, range step,
// interrupt, restart, seek. It knows nothing of the wire protocol.
//
// Reverse execution (docs/timeline.md): every stop has a position (Pos) that can be
// reached again: a Mark (event, pc, n, steps), the k-th data-watch trigger of an
// interval, or "action A from position P". Checkpoints are forked copies of the
// replayed process; reverse-continue searches forward from them with gdb's traps
// recorded, reverse-stepi single-steps forward from the nearest earlier known point.
import * as fs from 'node:fs';
import { LRUCache } from 'lru-cache';
import { TraceReader } from '../history/index.js';
import { decodeEvent, type ExecSnapshot } from '../history/events.js';
import { native, type DebugRunOptions, type NativeLoopResult, type NativeStopInfo } from '../native.js';
import { registerLayout } from './register-layout.js';
import { getReg, setReg } from './registers.js';
import { librariesSvr4Xml, readLinkMap } from './link-map.js';
import { hasAvx, readAllRegisters, readRegister, writeRegister } from './register-file.js';
import { encodeSyscallTable } from './syscall-table.js';
import { STUB_SYSCALL } from './stub.js';
import { applyJsEvent, divergenceMessage, endOfTraceMessage, firstExec, replayExec, startReplayProcess } from './replay-process.js';

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

/**
 * A point in time: the n-th arrival at pc in the interval before event `e` (the
 * interval's first state, just after event e-1, is arrival 1 at its pc), then
 * `steps` single-steps.
 */
export interface Mark {
  e: number;
  pc: bigint;
  n: number;
  steps: number;
}

type SlotSpec = { addr: bigint; type: 0 | 1 | 3; len: 1 | 2 | 4 | 8 } | null;

/** How to reach a stop again. */
type Pos =
  | { kind: 'mark'; mark: Mark }
  /** the k-th trigger of these data watchpoints in interval e */
  | { kind: 'watch'; e: number; k: number; slots: SlotSpec[]; pc: bigint }
  /** the first stop of resume `req` with these traps from position `from` */
  | { kind: 'after'; from: Pos; req: ResumeRequest; sw: bigint[]; slots: SlotSpec[]; pc: bigint }
  /** an interrupt: not reproducible */
  | { kind: 'unknown' };

export interface Checkpoint {
  id: number;
  pid: number;
  mark: Mark;
  /** the mark is the first state of its interval */
  boundary: boolean;
  /** resident size when taken (shared copy-on-write with the others) */
  bytes: number;
}

/** Options of runTo beyond the resume request. */
type RunExtra = Omit<DebugRunOptions, 'mode' | 'start' | 'end' | 'fresh' | 'event'>;

const MAX_CHECKPOINTS = 48;
const MAX_CHECKPOINT_BYTES = 8 * 1024 ** 3;
/** a periodic checkpoint at the next event boundary after this much replay time */
const CHECKPOINT_EVERY_MS = 100;
/** ... or after this many events */
const CHECKPOINT_EVERY_EVENTS = 200;
/** single-steps between checkpoints while searching for a predecessor */
const STEP_CHUNK = 256;
/** steps tried from the previous arrival before a search for a closer start */
const STEP_BUDGET = 4096;

function sameMark(a: Mark, b: Mark): boolean {
  return a.e === b.e && a.pc === b.pc && a.n === b.n && a.steps === b.steps;
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

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
  private cur: Pos = { kind: 'unknown' };
  /** the start of the replay: never evicted */
  private root: Checkpoint | undefined;
  private cpSeq = 0;
  private readonly cps = new LRUCache<number, Checkpoint>({
    max: MAX_CHECKPOINTS,
    maxSize: MAX_CHECKPOINT_BYTES,
    sizeCalculation: (c) => Math.max(1, c.bytes),
    dispose: (c) => void this.killProcess(c.pid),
  });
  /** traps in the current process (gdb's, or a search's) */
  private installedSw = new Set<bigint>();
  /**
   * While gdb runs code of its own choosing (`print f(3)`, `call`, `jump`): the
   * replayed process, parked at the recorded state, and the pc it stands at. The
   * code runs in a throwaway fork (this.pid) whose syscalls are real; the replay
   * resumes from the parked process as soon as gdb resumes at the recorded pc and stack.
   */
  /** Signals gdb wants reported before delivery: all but those QPassSignals passes. */
  private stopSignals = (1n << 64n) - 2n;

  /** gdb's QPassSignals: these are delivered without stopping. */
  setPassSignals(signals: number[]): void {
    let mask = (1n << 64n) - 2n;
    for (const s of signals) if (s > 0 && s < 64) mask &= ~(1n << BigInt(s));
    this.stopSignals = mask;
  }

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
    this.cur = { kind: 'mark', mark: { e: 1, pc, n: 1, steps: 0 } };
    this.boundaryPcs.set(1, pc);
    this.root = await this.takeCheckpoint(true);
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
    const all = [...this.cps.values()];
    this.cps.clear();
    for (const c of all) await this.killProcess(c.pid);
    if (this.root) await this.killProcess(this.root.pid);
    this.root = undefined;
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
    const from = this.cur;
    const sw = [...this.sw.keys()];
    const slots = this.gdbSlots();
    const stop = await this.runTo(req, Infinity, { stopSignals: this.stopSignals });
    this.cur = this.positionAfter(stop, from, req, sw, slots);
    await this.checkpointHere();
    return stop;
  }

  /** The position of a stop a forward run from `from` ended at. */
  private positionAfter(stop: StopEvent, from: Pos, req: ResumeRequest, sw: bigint[], slots: SlotSpec[]): Pos {
    if (stop.kind !== 'stopped' || this.userInterrupted || !this.info || this.info.at === undefined) return { kind: 'unknown' };
    const pc = this.info.at as bigint;
    const n = Number(this.info.n);
    if (Number(this.info.exact) && n > 0) return { kind: 'mark', mark: { e: this.next, pc, n, steps: 0 } };
    if (stop.watch && from.kind !== 'unknown') {
      return { kind: 'after', from, req, sw, slots, pc };
    }
    return from.kind === 'unknown' ? { kind: 'unknown' } : { kind: 'after', from, req, sw, slots, pc };
  }

  /** Replays forward to just after event `event` (restarting first if it is behind). */
  async seek(event: number): Promise<StopEvent> {
    if (event + 1 < this.next || this.state !== 'stopped') {
      const cp = this.boundaryCheckpoint(event + 1);
      if (this.state === 'stopped' || this.state === 'exited' || this.state === 'killed') await this.switchTo(cp);
      else await this.restart();
    }
    if (event + 1 <= this.next) return this.lastStop;
    await this.installTraps([], [null, null, null, null]);
    let stop: StopEvent;
    try {
      stop = await this.runTo({ action: 'continue' }, event + 1);
      this.cur = this.positionAfter(stop, { kind: 'unknown' }, { action: 'continue' }, [], []);
    } finally {
      if (this.state === 'stopped') await this.installGdbTraps();
    }
    await this.checkpointHere();
    return stop;
  }

  private async runTo(req: ResumeRequest, untilEvent: number, extra: RunExtra = {}): Promise<StopEvent> {
    const n = native();
    await this.undoWrites();
    this.running = true;
    this.userInterrupted = false;
    this.info = undefined;
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
        if (!fresh) opts.startCandidate = false;
        const startedAt = this.next;
        const r: NativeLoopResult = await n.debugRun(this.pid, this.table, chunk.data, offset, max, opts);
        if (!extra.search && startedAt >= this.shownUpTo && r.echo.length) {
          for (const e of r.echo) this.onOutput?.(e.fd, e.data);
        }
        if (!extra.search) this.shownUpTo = Math.max(this.shownUpTo, startedAt + r.count);
        if (extra.steps !== undefined) extra = { ...extra, steps: Math.max(1, extra.steps - Number(r.stop.steps ?? 0)) };
        this.stats.steps += Number(r.stop.steps ?? 0);
        if (r.stop.lastReason !== undefined) last = r.stop;
        this.info = r.stop;
        if (last && last !== r.stop) {
          for (const k of ['lastEvent', 'lastReason', 'lastPc', 'lastN', 'lastExact', 'lastWatch', 'lastSlot']) this.info[k] = last[k];
        }
        fresh = false;
        this.next += r.count;
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
            this.next++;
            continue;
          case 'need-js': {
            const why = await applyJsEvent(this.pid, this.trace, this.next);
            if (why) return this.ended(`the recording stops here: ${why}`);
            this.next++;
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

  /** The current process as a checkpoint at the current mark. */
  private async takeCheckpoint(boundary: boolean): Promise<Checkpoint | undefined> {
    if (this.cur.kind !== 'mark' || this.state !== 'stopped' || !this.pid) return undefined;
    if (this.next < this.trace.eventCount && decodeEvent(this.trace.record(this.next)).kind === 'exit') return undefined;
    const mark = this.cur.mark;
    const pid = await native().forkProcess(this.pid, STUB_SYSCALL);
    const cp: Checkpoint = { id: ++this.cpSeq, pid, mark, boundary, bytes: rssBytes(pid) };
    this.stats.checkpointsTaken++;
    this.lastCheckpointAt = Date.now();
    if (boundary) this.lastCheckpointEvent = mark.e;
    if (this.root) this.cps.set(cp.id, cp);
    return cp;
  }

  private findCheckpoint(pred: (c: Checkpoint) => boolean): Checkpoint | undefined {
    let best: Checkpoint | undefined;
    for (const c of this.cps.values()) if (pred(c) && (!best || c.id > best.id)) best = c;
    return best;
  }

  /** A checkpoint at the current mark, unless one exists. */
  private async checkpointHere(): Promise<void> {
    if (this.cur.kind !== 'mark') return;
    const m = this.cur.mark;
    if (this.findCheckpoint((c) => sameMark(c.mark, m)) || (this.root && sameMark(this.root.mark, m))) return;
    const boundary = m.steps === 0 && m.n === 1 && this.boundaryPcs.get(m.e) === m.pc;
    await this.takeCheckpoint(boundary);
  }

  /** During a forward run, between two events: a periodic checkpoint. */
  private async checkpointAtBoundary(): Promise<void> {
    const pc = getReg(await native().getRegs(this.pid), 'rip');
    this.boundaryPcs.set(this.next, pc);
    const saved = this.cur;
    this.cur = { kind: 'mark', mark: { e: this.next, pc, n: 1, steps: 0 } };
    try {
      if (!this.findCheckpoint((c) => c.boundary && c.mark.e === this.next)) await this.takeCheckpoint(true);
    } finally {
      this.cur = saved;
    }
    this.lastCheckpointAt = Date.now();
    this.lastCheckpointEvent = this.next;
  }

  /** The latest checkpoint at the start of an interval e' <= e. */
  private boundaryCheckpoint(e: number): Checkpoint {
    const c = this.findCheckpoint((x) => x.boundary && x.mark.e <= e);
    let best = this.root!;
    for (const x of this.cps.values()) if (x.boundary && x.mark.e <= e && x.mark.e > best.mark.e) best = x;
    return c && c.mark.e > best.mark.e ? c : best;
  }

  /** Makes a fresh copy of checkpoint `cp` the replayed process. */
  private async switchTo(cp: Checkpoint): Promise<void> {
    const n = native();
    if (cp !== this.root) this.cps.get(cp.id); // recently used
    const child = await n.forkProcess(cp.pid, STUB_SYSCALL);
    const old = this.pid;
    this.pid = child;
    if (old) await this.killProcess(old);
    this.stats.restores++;
    this.next = cp.mark.e;
    this.state = 'stopped';
    this.endMessage = undefined;
    this.memUndo.clear();
    this.savedUser = this.savedX = this.xstateCache = undefined;
    this.lastSiginfo = undefined;
    this.installedSw = new Set();
    this.installedSlots = [null, null, null, null];
    await n.debugSetPosition(child, cp.mark.e, cp.boundary, cp.mark.pc, cp.mark.steps ? 0 : cp.mark.n);
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
    const cp = this.boundaryCheckpoint(e);
    await this.switchTo(cp);
    if (this.next < e) {
      await this.installTraps([], [null, null, null, null]);
      const stop = await this.runTo({ action: 'continue' }, e);
      if (stop.kind !== 'stopped' || this.next !== e) throw new Error(`cannot replay to event ${e}`);
      const pc = getReg(await native().getRegs(this.pid), 'rip');
      this.boundaryPcs.set(e, pc);
      this.cur = { kind: 'mark', mark: { e, pc, n: 1, steps: 0 } };
      await this.checkpointHere();
    }
  }

  /**
   * Brings the process to mark m. `counters`: breakpoints that count arrivals from
   * the start of m's interval on, so that their counts are exact at m.
   */
  private async reachMark(m: Mark, counters: bigint[] = []): Promise<void> {
    if (!counters.length) {
      if (this.cur.kind === 'mark' && sameMark(this.cur.mark, m) && this.state === 'stopped') return;
      const exact = this.findCheckpoint((c) => sameMark(c.mark, m));
      if (exact) return this.switchTo(exact);
    }
    // the nearest checkpoint on the way: same pc with fewer arrivals, or the same base with fewer steps
    const near = counters.length ? undefined : this.findCheckpoint((c) =>
      c.mark.e === m.e && c.mark.pc === m.pc && (c.mark.steps === 0 ? c.mark.n <= m.n : c.mark.n === m.n && c.mark.steps <= m.steps));
    let best = near;
    if (near) {
      for (const c of this.cps.values()) {
        if (c.mark.e === m.e && c.mark.pc === m.pc && c.mark.n <= m.n && (c.mark.n === m.n ? c.mark.steps <= m.steps : c.mark.steps === 0)) {
          if (c.mark.n > best!.mark.n || (c.mark.n === best!.mark.n && c.mark.steps > best!.mark.steps)) best = c;
        }
      }
    }
    if (best) await this.switchTo(best);
    else await this.reachBoundary(m.e);
    await this.installTraps([], [null, null, null, null]);
    const here = this.cur.kind === 'mark' ? this.cur.mark : undefined;
    if (!here || here.e !== m.e) throw new Error(`cannot reach event ${m.e}`);
    if (!(here.pc === m.pc && here.n === m.n)) {
      const stop = await this.runTo({ action: 'continue' }, m.e + 1, {
        silent: [m.pc, ...counters], target: { kind: 0, event: m.e, pc: m.pc, n: m.n },
      });
      if (stop.kind !== 'stopped' || stop.reason !== 'target') throw new Error(`cannot reach arrival ${m.n} at 0x${m.pc.toString(16)} in interval ${m.e}`);
      this.cur = { kind: 'mark', mark: { ...m, steps: 0 } };
    }
    const done = this.cur.kind === 'mark' ? this.cur.mark.steps : 0;
    if (m.steps > done) {
      const stop = await this.runTo({ action: 'step' }, m.e + 1, { steps: m.steps - done, silent: counters });
      if (stop.kind !== 'stopped' || stop.reason !== 'step') throw new Error('cannot replay the steps of a position');
    }
    this.cur = { kind: 'mark', mark: m };
  }

  /** Brings the process to position p (see reachMark for counters). */
  private async reach(p: Pos, counters: bigint[] = []): Promise<void> {
    switch (p.kind) {
      case 'mark':
        return this.reachMark(p.mark, counters);
      case 'watch': {
        await this.reachBoundary(p.e);
        if (this.cur.kind === 'mark' && this.cur.mark.e === p.e && this.cur.mark.steps === 0 && this.cur.mark.n !== 1) {
          await this.switchTo(this.boundaryCheckpoint(p.e));
        }
        await this.installTraps([], p.slots);
        const stop = await this.runTo({ action: 'continue' }, p.e + 1, { silent: counters, target: { kind: 1, event: p.e, n: p.k } });
        if (stop.kind !== 'stopped' || stop.reason !== 'target') throw new Error(`cannot reach watchpoint trigger ${p.k} of interval ${p.e} again (${stop.kind} ${stop.kind === 'stopped' ? stop.reason : ''} ${JSON.stringify(this.info, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))})`);
        this.cur = p;
        return;
      }
      case 'after': {
        await this.reach(p.from, counters);
        await this.installTraps(p.sw, p.slots);
        const stop = await this.runTo(p.req, Infinity, { silent: counters });
        if (stop.kind !== 'stopped') throw new Error('cannot repeat a resume');
        this.cur = p;
        return;
      }
      case 'unknown':
        throw new Error('this point (reached by an interrupt) cannot be found again');
    }
  }

  /** The mark of the current position (replays from its interval's start if needed). */
  private async canon(): Promise<Mark | undefined> {
    const p = this.cur;
    if (p.kind === 'mark') return p.mark;
    if (p.kind === 'unknown') return undefined;
    await this.reach(p, [p.pc]);
    const info = this.info;
    if (!info || !Number(info.exact) || !Number(info.n)) return undefined;
    const mark = { e: this.next, pc: p.pc, n: Number(info.n), steps: 0 };
    this.cur = { kind: 'mark', mark };
    return mark;
  }

  /** Where gdb stands, for `monitor when` and the tests. */
  async position(): Promise<Mark | undefined> {
    return this.cur.kind === 'mark' ? this.cur.mark : undefined;
  }

  checkpoints(): Checkpoint[] {
    return [...(this.root ? [this.root] : []), ...[...this.cps.values()].sort((a, b) => a.id - b.id)];
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
      const now = await this.canon();
      if (!now) {
        this.endMessage = 'rewind: cannot go back from a point reached by an interrupt; step or continue first';
        return (this.lastStop = { kind: 'stopped', signal: 5, reason: 'begin' });
      }
      const stop = kind === 'step' ? await this.reverseStep(now) : await this.reverseContinue(now, gdbSw, gdbSlots);
      await this.installGdbTraps();
      await this.checkpointHere();
      return this.stopped(stop);
    } catch (e) {
      if (e instanceof Interrupted) {
        // go back to where the command started
        await this.reach(start).catch(() => undefined);
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
    if (m.steps > 0) return { ...m, steps: m.steps - 1 };
    const bpc = await this.boundaryPc(m.e);
    if (m.n === 1 && m.pc === bpc) return this.lastOfInterval(m.e - 1, bpc);
    // Q: the previous arrival at the same pc (if a few thousand steps reach m from
    // there), else the latest of that arrival and the last call from a call site on
    // m's stack (one search run), else the start of the interval
    if (m.n >= 2) {
      const found = await this.stepFrom({ e: m.e, pc: m.pc, n: m.n - 1, steps: 0 }, m, STEP_BUDGET);
      if (found) return found;
    }
    const q = (await this.closeStart(m)) ?? { e: m.e, pc: bpc, n: 1, steps: 0 };
    const found = await this.stepFrom(q, m, Infinity);
    if (!found) throw new Error(`lost the way back from 0x${m.pc.toString(16)}`);
    return found;
  }

  /** Single-steps from q until m (at most `budget` steps): the state before m. */
  private async stepFrom(q: Mark, m: Mark, budget: number): Promise<Mark | undefined> {
    // m's pc is counted from the interval's start so that the target is exact
    await this.reachMark(q, q.pc !== m.pc ? [m.pc] : []);
    this.checkInterrupt();
    await this.checkpointHere();
    let steps = 0;
    while (steps < budget) {
      const stop = await this.runTo({ action: 'step' }, m.e + 1, { steps: STEP_CHUNK, target: { kind: 0, event: m.e, pc: m.pc, n: m.n } });
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
   * m's stack ([rsp], or [rbp+8] after a frame setup): a close start for stepping.
   * One search run from the interval's start.
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
    await this.reachBoundary(m.e);
    await this.installTraps(sites, [null, null, null, null]);
    const stop = await this.runTo({ action: 'continue' }, m.e + 1, {
      search: true, startCandidate: true, target: { kind: 0, event: m.e, pc: m.pc, n: m.n },
    });
    this.checkInterrupt();
    const info = this.info;
    if (stop.kind !== 'stopped' || stop.reason !== 'target' || !info || info.lastReason === undefined || Number(info.lastEvent) !== m.e) return undefined;
    this.cur = { kind: 'mark', mark: m };
    return { e: m.e, pc: info.lastPc as bigint, n: Number(info.lastN), steps: 0 };
  }

  /** The last state of interval e, whose next event starts interval e+1 at pc bpc. */
  private async lastOfInterval(e: number, bpc: bigint): Promise<Mark | 'begin'> {
    if (e < 1) return 'begin';
    const ev = decodeEvent(this.trace.record(e));
    let pc: bigint;
    if (ev.kind === 'syscall') pc = bpc - 2n;
    else if (ev.kind === 'rdtsc') pc = bpc - BigInt(ev.insnLen);
    else if (ev.kind === 'signal') pc = bpc;
    else if (ev.kind === 'map-file') return this.lastOfInterval(e - 1, bpc);
    else return 'begin';
    const cp = this.boundaryCheckpoint(e);
    if (cp.mark.e !== e) await this.reachBoundary(e);
    else await this.switchTo(cp);
    await this.installTraps([pc], [null, null, null, null]);
    await this.runTo({ action: 'continue' }, e + 1, { search: true, startCandidate: true });
    this.checkInterrupt();
    const info = this.info;
    if (!info || info.lastReason === undefined || Number(info.lastEvent) !== e) {
      const b = await this.boundaryPc(e);
      return { e, pc: b, n: 1, steps: 0 };
    }
    return { e, pc, n: Number(info.lastN), steps: 0 };
  }

  /** The last stop of gdb's traps before `now`. */
  private async reverseContinue(now: Mark, sw: bigint[], slots: SlotSpec[]): Promise<StopEvent> {
    let hi: Mark | undefined = now;
    let hiEvent = now.e;
    for (;;) {
      let cp = this.boundaryCheckpoint(hiEvent);
      if (!hi && cp.mark.e >= hiEvent) cp = this.boundaryCheckpoint(hiEvent - 1);
      await this.switchTo(cp);
      await this.installTraps(sw, slots);
      let found: Pos | undefined;
      let foundReason: 'swbreak' | 'hwbreak' | 'watch' = 'swbreak';
      let foundSlot = -1;
      const atBase = hi && cp.mark.e === hi.e && cp.mark.pc === hi.pc && hi.n === 1;
      if (!atBase) {
        const stop = await this.runTo({ action: 'continue' }, hi ? hi.e + 1 : hiEvent, {
          search: true, startCandidate: true,
          ...(hi ? { target: { kind: 0 as const, event: hi.e, pc: hi.pc, n: hi.n }, silent: [hi.pc] } : {}),
        });
        this.checkInterrupt();
        if (stop.kind !== 'stopped') throw new Error(`lost the way back (${stop.kind})`);
        const info = this.info!;
        if (info.lastReason !== undefined) {
          const e = Number(info.lastEvent);
          foundReason = info.lastReason as 'swbreak' | 'hwbreak' | 'watch';
          foundSlot = Number(info.lastSlot);
          if (foundReason === 'watch') {
            found = { kind: 'watch', e, k: Number(info.lastWatch), slots, pc: info.lastPc as bigint };
          } else {
            found = { kind: 'mark', mark: { e, pc: info.lastPc as bigint, n: Number(info.lastN), steps: 0 } };
          }
        }
      }
      if (hi && hi.steps > 0) {
        // the steps after the base: each landing on a trap is a stop
        this.cur = { kind: 'mark', mark: { ...hi, steps: 0 } };
        for (let i = 1; i <= hi.steps; i++) {
          const stop = await this.runTo({ action: 'step' }, hi.e + 1, { steps: 1 });
          this.checkInterrupt();
          if (stop.kind !== 'stopped') break;
          const pc = getReg(await native().getRegs(this.pid), 'rip');
          if (stop.watch) {
            found = { kind: 'mark', mark: { ...hi, steps: i - 1 } };
            foundReason = 'watch';
            foundSlot = this.slots.findIndex((s) => s.addr === stop.watch!.addr);
            break;
          }
          if (i < hi.steps && (sw.includes(pc) || slots.some((s) => s?.type === 0 && s.addr === pc))) {
            found = { kind: 'mark', mark: { ...hi, steps: i } };
            foundReason = sw.includes(pc) ? 'swbreak' : 'hwbreak';
          }
        }
      }
      if (found) return this.stopAt(found, foundReason, foundSlot);
      if (cp === this.root || cp.mark.e <= 1) {
        await this.switchTo(this.root!);
        return this.atBegin();
      }
      hi = undefined;
      hiEvent = cp.mark.e;
    }
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
      await this.reach(p, [p.kind === 'watch' ? p.pc : 0n]);
      const info = this.info!;
      const after: Mark = { e: this.next, pc: info.at as bigint, n: Number(info.n), steps: 0 };
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
