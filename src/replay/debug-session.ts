// The debugging engine: one replay of a trace under a debugger's control. It knows
// the current point (the next event to replay; a stop can fall between two events,
// the event in progress not yet consumed), the registers and memory there,
// breakpoints and watchpoints, and runs forwards: continue, step, range step,
// interrupt, restart, seek. It knows nothing of the wire protocol.
//
// Points in time: `point()` gives { event, pc }. Reverse execution (next issue)
// will add checkpoints and re-run to earlier points; everything here goes through
// `runTo` so that a "run until point P" can be layered on top.
import { TraceReader } from '../history/index.js';
import { decodeEvent, type ExecSnapshot } from '../history/events.js';
import { native, type NativeLoopResult } from '../native.js';
import { registerLayout } from '../rsp/target-xml.js';
import { getReg } from './registers.js';
import { hasAvx, readAllRegisters, readRegister, writeRegister } from './register-file.js';
import { encodeSyscallTable } from './syscall-table.js';
import { applyJsEvent, divergenceMessage, endOfTraceMessage, firstExec, replayExec, startReplayProcess } from './replay-process.js';

export type WatchKind = 'watch' | 'rwatch' | 'awatch';

export type StopEvent =
  | {
      kind: 'stopped';
      /** signal to report (5 = SIGTRAP for breakpoints and steps) */
      signal: number;
      reason?: 'swbreak' | 'hwbreak' | 'step' | 'interrupted' | 'start' | 'signal';
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

  private constructor(readonly trace: TraceReader) {
    ({ snapshot: this.snapshot, tid: this.tid } = firstExec(trace));
  }

  static async start(trace: TraceReader): Promise<DebugSession> {
    const s = new DebugSession(trace);
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
  }

  /** Starts the replay again from the beginning, keeping breakpoints and watchpoints. */
  async restart(): Promise<StopEvent> {
    await this.close();
    this.memUndo.clear();
    this.savedUser = this.savedX = this.xstateCache = undefined;
    await this.begin();
    for (const addr of this.sw.keys()) this.sw.set(addr, await native().insertBreakpoint(this.pid, addr));
    if (this.slots.length) await this.applySlots();
    return this.lastStop;
  }

  async close(): Promise<void> {
    if (this.pid) {
      const pid = this.pid;
      this.pid = 0;
      await native().kill(pid).catch(() => undefined);
      await native().debugForget(pid).catch(() => undefined);
    }
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
    if (regno === 16 && !readRegister(info, user, x).equals(value.subarray(0, 8))) {
      throw new EngineError('refused', 'changing the pc of a replay (jump, return, calling a function) is not supported');
    }
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

  private async applySlots(): Promise<void> {
    const regs = [0, 1, 2, 3].map((i) => (this.slots[i] ? { addr: this.slots[i].addr, type: this.slots[i].type, len: this.slots[i].len } : null));
    await native().setDebugRegs(this.pid, regs);
  }

  // ---------------------------------------------------------------- running

  get isRunning(): boolean {
    return this.running;
  }

  /** Asks a running resume to stop (it then reports 'interrupted'). */
  interrupt(): void {
    if (this.running && this.pid) native().interrupt(this.pid);
  }

  async resume(req: ResumeRequest): Promise<StopEvent> {
    if (this.state !== 'stopped') return this.lastStop;
    return this.runTo(req, Infinity);
  }

  /** Replays forward to just after event `event` (restarting first if it is behind). */
  async seek(event: number): Promise<StopEvent> {
    if (event + 1 < this.next || this.state !== 'stopped') await this.restart();
    if (event + 1 <= this.next) return this.lastStop;
    const saved = { sw: [...this.sw.keys()], slots: this.slots };
    // breakpoints do not stop a seek
    for (const a of saved.sw) await native().removeBreakpoint(this.pid, a);
    if (this.slots.length) await native().setDebugRegs(this.pid, [null, null, null, null]);
    let stop: StopEvent;
    try {
      stop = await this.runTo({ action: 'continue' }, event + 1);
    } finally {
      if (this.state === 'stopped') {
        for (const a of saved.sw) this.sw.set(a, await native().insertBreakpoint(this.pid, a));
        if (this.slots.length) await this.applySlots();
      }
    }
    return stop;
  }

  private async runTo(req: ResumeRequest, untilEvent: number): Promise<StopEvent> {
    const n = native();
    await this.undoWrites();
    this.running = true;
    let fresh = true;
    try {
      for (;;) {
        if (this.next >= untilEvent) return this.stopped({ kind: 'stopped', signal: 5, reason: 'interrupted' });
        if (this.next >= this.trace.eventCount) return this.ended(endOfTraceMessage(this.trace));
        const chunk = this.trace.readChunk(this.trace.chunkIndexOf(this.next));
        const offset = chunk.offsets[this.next - chunk.firstRecord];
        const max = untilEvent === Infinity ? 0xffffffff : untilEvent - this.next;
        const opts = req.action === 'range'
          ? { mode: MODE.range, start: req.start, end: req.end, fresh }
          : { mode: MODE[req.action], fresh };
        const r: NativeLoopResult = await n.debugRun(this.pid, this.table, chunk.data, offset, max, opts);
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
          case 'swbreak':
          case 'hwbreak':
          case 'step':
          case 'interrupted':
            return this.stopped({ kind: 'stopped', signal: stop.reason === 'interrupted' ? 2 : 5, reason: stop.reason });
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
