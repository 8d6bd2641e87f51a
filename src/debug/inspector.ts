// Registers and memory of the replayed process as gdb sees them: breakpoint bytes
// hidden, the XSAVE area read once per stop, and gdb's own writes (registers,
// memory) kept aside so that they are undone before the replay goes on: the
// replay continues from the recorded state, whatever gdb changed to look around.
import { getReg } from '../arch/registers.js';
import { registerLayout } from '../arch/register-layout.js';
import { hasAvx, readAllRegisters, readRegister, writeRegister } from '../arch/register-file.js';
import { native } from '../native/addon.js';
import type { ReplayedProcess } from './forward.js';
import { EngineError } from './target.js';
import type { Traps } from './traps.js';

/** gdb writes orig_rax (57) with every pc change; the replay keeps its own. */
const ORIG_RAX = 57;
/** gdb's numbers of rsp and rip: a thread whose pc or stack gdb writes is where gdb runs its code */
const RSP = 7;
const RIP = 16;

/** What gdb wrote since the last stop (Inspector.takeWrites): registers by thread pid, bytes by address. */
export interface GdbWrites {
  regs: Map<number, { user: Buffer; x: Buffer }>;
  mem: Map<bigint, number>;
}

export class Inspector {
  /** thread (pid) -> its registers before gdb's first write there since the last stop */
  private readonly saved = new Map<number, { user: Buffer; x: Buffer }>();
  /** address -> the byte before gdb's first write there since the last stop */
  private readonly memUndo = new Map<bigint, number>();
  /** threads (pids) whose pc or stack gdb wrote since the last undo, the latest last */
  private readonly pcSpWrites: number[] = [];
  private xstateCache: Buffer | undefined;
  /** the thread xstateCache is of */
  private xstatePid = 0;

  constructor(private readonly proc: ReplayedProcess, private readonly traps: Traps) {
    proc.onSwitch(() => this.forget());
  }

  /** Whether the process has AVX state (read once, at the start of the replay). */
  async detectAvx(): Promise<boolean> {
    return hasAvx(await native().getXState(this.proc.pid));
  }

  /** Drops what was kept of the current process (another one stands for the replay now). */
  forget(): void {
    this.memUndo.clear();
    this.saved.clear();
    this.pcSpWrites.length = 0;
    this.xstateCache = undefined;
  }

  /** gdb changed registers or memory since the last stop. */
  get changed(): boolean {
    return this.saved.size > 0 || this.memUndo.size > 0;
  }

  /** The threads (pids) whose pc or stack gdb wrote since the last call (or undo), the latest last: a call's or a jump's thread. */
  takePcSpWritten(): number[] {
    return this.pcSpWrites.splice(0);
  }

  /**
   * A thread (pid) whose pc or stack gdb moved away from the recorded state (a call,
   * a jump), with the recorded pc and sp; `prefer` first (gdb's selected thread).
   */
  async movedThread(prefer: number): Promise<{ pid: number; pc: bigint; sp: bigint } | undefined> {
    const pids = [...this.saved.keys()].sort((a, b) => Number(b === prefer) - Number(a === prefer));
    for (const pid of pids) {
      const { user } = this.saved.get(pid)!;
      const now = await native().getRegs(pid);
      const [pc, sp] = [getReg(user, 'rip'), getReg(user, 'rsp')];
      if (getReg(now, 'rip') !== pc || getReg(now, 'rsp') !== sp) return { pid, pc, sp };
    }
    return undefined;
  }

  /**
   * gdb's writes since the last stop as they stand now (each written thread's
   * registers, each written byte), then undone: the replayed process is back at the
   * recorded state, and a copy of it can be given gdb's state (diversion.ts).
   */
  async takeWrites(): Promise<GdbWrites> {
    const regs = new Map<number, { user: Buffer; x: Buffer }>();
    for (const pid of this.saved.keys()) regs.set(pid, { user: await native().getRegs(pid), x: await native().getXState(pid) });
    const mem = new Map<bigint, number>();
    // read in runs of adjacent bytes (gdb writes a call's arguments and return address in blocks)
    const addrs = [...this.memUndo.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 0; i < addrs.length;) {
      let j = i + 1;
      while (j < addrs.length && addrs[j] === addrs[j - 1] + 1n) j++;
      const bytes = await this.readMemory(addrs[i], j - i); // gdb's bytes, under a breakpoint too
      for (let k = 0; k < bytes.length; k++) mem.set(addrs[i] + BigInt(k), bytes[k]);
      i = j;
    }
    await this.undoWrites();
    return { regs, mem };
  }

  /** the registers of the thread gdb looks at (Hg; the process's only thread, or the one that stopped) */
  async user(): Promise<Buffer> {
    this.proc.requireProcess();
    return native().getRegs(this.proc.regsPid);
  }

  private async xstate(): Promise<Buffer> {
    this.proc.requireProcess();
    const pid = this.proc.regsPid;
    if (!this.xstateCache || this.xstatePid !== pid) {
      this.xstateCache = await native().getXState(pid);
      this.xstatePid = pid;
    }
    return this.xstateCache;
  }

  /** The register state changes when the process runs: read it again after a stop. */
  invalidate(): void {
    this.xstateCache = undefined;
  }

  async readRegisters(avx: boolean): Promise<Buffer> {
    return readAllRegisters(avx, await this.user(), await this.xstate());
  }

  async readRegister(avx: boolean, regno: number): Promise<Buffer> {
    const info = registerLayout({ avx })[regno];
    if (!info) throw new EngineError('bad-register', `no register ${regno}`);
    return readRegister(info, await this.user(), await this.xstate());
  }

  /** Expedited registers for stop replies: rbp, rsp, rip. */
  async expedite(): Promise<{ regno: number; bytes: Buffer }[]> {
    const user = await this.user();
    return [6, 7, 16].map((regno) => ({ regno, bytes: readRegister(registerLayout({ avx: false })[regno], user, Buffer.alloc(0)) }));
  }

  /** Writes one register; a value the kernel refuses changes nothing. */
  async writeRegister(avx: boolean, regno: number, value: Buffer): Promise<void> {
    const info = registerLayout({ avx })[regno];
    if (!info) throw new EngineError('bad-register', `no register ${regno}`);
    if (regno === ORIG_RAX) return;
    const user = Buffer.from(await this.user());
    const x = Buffer.from(await this.xstate());
    const before = { user: Buffer.from(user), x: Buffer.from(x) };
    const part = writeRegister(info, value, user, x);
    const pid = this.proc.regsPid;
    try {
      if (part === 'user') await native().setRegs(pid, user);
      else await native().setXState(pid, x);
    } catch (e) {
      throw new EngineError('bad-register', `the kernel refuses that value of register ${regno}: ${(e as Error).message}`);
    }
    if (!this.saved.has(pid)) this.saved.set(pid, before);
    if (regno === RIP || regno === RSP) {
      const at = this.pcSpWrites.indexOf(pid);
      if (at >= 0) this.pcSpWrites.splice(at, 1);
      this.pcSpWrites.push(pid);
    }
    if (part !== 'user') {
      this.xstateCache = x;
      this.xstatePid = pid;
    }
  }

  /** gdb's `G`: the registers that differ, written one by one; all or nothing. */
  async writeRegisters(avx: boolean, data: Buffer): Promise<void> {
    const user = Buffer.from(await this.user());
    const x = Buffer.from(await this.xstate());
    const pid = this.proc.regsPid;
    const hadSaved = this.saved.has(pid);
    try {
      for (const r of registerLayout({ avx })) {
        if (r.offset + r.bytes > data.length) break;
        const v = data.subarray(r.offset, r.offset + r.bytes);
        if (!(await this.readRegister(avx, r.regno)).equals(v)) await this.writeRegister(avx, r.regno, v);
      }
    } catch (e) {
      // put back what this packet wrote before the refused value
      await native().setRegs(pid, user).catch(() => undefined);
      await native().setXState(pid, x).catch(() => undefined);
      this.xstateCache = undefined;
      if (!hadSaved) this.saved.delete(pid);
      throw e;
    }
  }

  /** Memory as the program sees it: breakpoint bytes replaced by the originals. */
  async readMemory(addr: bigint, length: number): Promise<Buffer> {
    this.proc.requireProcess();
    const data = await this.proc.tracee.readMemory(addr, length);
    for (const [a, orig] of this.traps.sw) if (a >= addr && a < addr + BigInt(data.length)) data[Number(a - addr)] = orig;
    return data;
  }

  /** The byte the program had at addr before gdb wrote there (for a breakpoint inserted after a write). */
  originalByte(addr: bigint): number | undefined {
    return this.memUndo.get(addr);
  }

  async writeMemory(addr: bigint, data: Buffer): Promise<void> {
    this.proc.requireProcess();
    const tracee = this.proc.tracee;
    const before = await this.readMemory(addr, data.length);
    if (before.length < data.length) throw new EngineError('bad-address', `cannot write ${data.length} bytes at 0x${addr.toString(16)}`);
    try {
      await tracee.writeMemory(addr, data);
    } catch (e) {
      throw new EngineError('bad-address', `cannot write ${data.length} bytes at 0x${addr.toString(16)}: ${(e as Error).message}`);
    }
    for (let i = 0; i < data.length; i++) {
      const a = addr + BigInt(i);
      if (!this.memUndo.has(a)) this.memUndo.set(a, before[i]);
    }
    // keep breakpoints inserted under the new bytes
    for (const a of this.traps.sw.keys()) {
      if (a >= addr && a < addr + BigInt(data.length)) {
        this.traps.sw.set(a, data[Number(a - addr)]);
        await tracee.writeMemory(a, Buffer.from([0xcc]));
      }
    }
  }

  /** Puts back the recorded state gdb changed (registers, memory) before the replay goes on. */
  async undoWrites(): Promise<void> {
    const n = native();
    for (const [pid, { user, x }] of this.saved) {
      await n.setRegs(pid, user);
      await n.setXState(pid, x);
    }
    this.saved.clear();
    this.pcSpWrites.length = 0;
    for (const [a, b] of this.memUndo) {
      if (this.traps.sw.has(a)) this.traps.sw.set(a, b);
      else await this.proc.tracee.writeMemory(a, Buffer.from([b]));
    }
    this.memUndo.clear();
    this.xstateCache = undefined;
  }
}
