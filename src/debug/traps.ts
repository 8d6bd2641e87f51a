// Breakpoints and watchpoints: gdb's software breakpoints (int3, with the bytes
// they cover), its hardware breakpoints and watchpoints assigned to the four
// debug-register slots, and the traps actually installed in the current process
// (gdb's, or a search's). A request the CPU or the process refuses changes nothing.
import { native } from '../native/addon.js';
import type { ReplayedProcess } from './forward.js';
import { EngineError, type HwKind, type WatchKind } from './target.js';

/** One debug register: execute (0), write (1) or read/write (3), 1-8 aligned bytes. */
export interface SlotSpec {
  addr: bigint;
  type: 0 | 1 | 3;
  len: 1 | 2 | 4 | 8;
}

/** The four debug registers as installed: null where unused. */
export type SlotSet = (SlotSpec | null)[];

export const NO_SLOTS: SlotSet = [null, null, null, null];

interface HwPoint {
  kind: HwKind;
  addr: bigint;
  length: number;
}

interface Slot extends SlotSpec {
  owner: HwPoint;
}

/** Aligned pieces (1, 2, 4 or 8 bytes) covering [addr, addr+length). */
export function alignedPieces(addr: bigint, length: number): { addr: bigint; len: 1 | 2 | 4 | 8 }[] {
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

/** Four debug registers of at most 8 bytes each cover at most this many bytes. */
const MAX_WATCHED_BYTES = 4 * 8;

/** gdb's hardware points spread over debug-register slots; undefined when they need more than four. */
function assignSlots(points: HwPoint[]): Slot[] | undefined {
  const slots: Slot[] = [];
  for (const p of points) {
    // a longer region cannot fit: not split at all (a Z2 of length 0xffffffff would be half a billion pieces)
    if (p.length > MAX_WATCHED_BYTES) return undefined;
    if (p.kind === 1) slots.push({ addr: p.addr, type: 0, len: 1, owner: p });
    else for (const piece of alignedPieces(p.addr, p.length)) slots.push({ ...piece, type: p.kind === 2 ? 1 : 3, owner: p });
  }
  return slots.length <= 4 ? slots : undefined;
}

function specsOf(slots: Slot[]): SlotSet {
  return [0, 1, 2, 3].map((i) => (slots[i] ? { addr: slots[i].addr, type: slots[i].type, len: slots[i].len } : null));
}

function sameSlots(a: SlotSet, b: SlotSet): boolean {
  return a.length === b.length && a.every((s, i) => {
    const o = b[i];
    return s === o || (s !== null && o !== null && s.addr === o.addr && s.type === o.type && s.len === o.len);
  });
}

/** What is installed in one process (saved while gdb's own code runs in a copy). */
export interface InstalledTraps {
  sw: Set<bigint>;
  slots: SlotSet;
  /** the software breakpoints asked for, installed or waiting for their memory to be mapped (default: sw) */
  wanted?: Set<bigint>;
}

/** What Traps keeps of the current process. */
type Installed = Required<InstalledTraps>;

export class Traps {
  /** gdb's software breakpoints: address -> the program's byte under the int3 */
  readonly sw = new Map<bigint, number>();
  private hw: HwPoint[] = [];
  private slots: Slot[] = [];
  private installed: Installed = { sw: new Set(), slots: NO_SLOTS, wanted: new Set() };

  constructor(private readonly proc: ReplayedProcess) {
    proc.onSwitch(() => (this.installed = { sw: new Set(), slots: NO_SLOTS, wanted: new Set() }));
  }

  /** gdb's hardware points as debug-register slots. */
  gdbSlots(): SlotSet {
    return specsOf(this.slots);
  }

  /** The data watchpoint behind a debug-register slot. */
  watchOf(slot: number): { kind: WatchKind; addr: bigint } {
    const owner = this.slots[slot]?.owner;
    return { kind: owner?.kind === 3 ? 'rwatch' : owner?.kind === 4 ? 'awatch' : 'watch', addr: owner?.addr ?? 0n };
  }

  /** The slot of gdb's watchpoint piece at addr (-1: none). */
  slotAt(addr: bigint): number {
    return this.slots.findIndex((x) => x.addr === addr);
  }

  /** Inserts one of gdb's breakpoints or watchpoints (kind 0: software) into the current process. */
  async insert(kind: 0 | HwKind, addr: bigint, length: number, originalByte?: (addr: bigint) => number | undefined): Promise<void> {
    this.proc.requireProcess();
    const d = this.proc.debugger;
    if (kind === 0) {
      if (this.sw.has(addr)) return;
      let orig: number;
      try {
        orig = await d.insertBreakpoint(addr);
      } catch (e) {
        throw new EngineError('bad-address', `cannot insert a breakpoint at 0x${addr.toString(16)}: ${(e as Error).message}`);
      }
      this.installed.sw.add(addr);
      this.installed.wanted.add(addr);
      this.sw.set(addr, originalByte?.(addr) ?? orig);
      return;
    }
    const point: HwPoint = { kind, addr, length: kind === 1 ? 1 : length };
    if (this.hw.some((p) => p.kind === point.kind && p.addr === addr && p.length === point.length)) return;
    const candidate = [...this.hw, point];
    const slots = assignSlots(candidate);
    if (!slots) throw new EngineError('too-many', 'out of debug registers (4)');
    const regs = specsOf(slots);
    try {
      await d.setDebugRegs(regs);
    } catch (e) {
      // the CPU refused the address: put back the slots that were there
      await d.setDebugRegs(this.installed.slots).catch(() => undefined);
      throw new EngineError('bad-address', `cannot watch 0x${addr.toString(16)}: ${(e as Error).message}`);
    }
    this.hw = candidate;
    this.slots = slots;
    this.installed.slots = regs;
  }

  /** Removes one of gdb's breakpoints or watchpoints; `currentByte` is what gdb wrote under a software one. */
  async remove(kind: 0 | HwKind, addr: bigint, length: number): Promise<void> {
    this.proc.requireProcess();
    if (kind === 0) {
      if (!this.sw.has(addr)) return;
      const orig = this.sw.get(addr)!;
      this.sw.delete(addr);
      this.installed.wanted.delete(addr);
      if (this.installed.sw.delete(addr)) await this.proc.debugger.removeBreakpoint(addr).catch(() => undefined);
      // a gdb write under the breakpoint changed the byte to restore
      const now = await this.proc.tracee.readMemory(addr, 1);
      if (now.length === 1 && now[0] !== orig) await this.proc.tracee.writeMemory(addr, Buffer.from([orig]));
      return;
    }
    const len = kind === 1 ? 1 : length;
    this.hw = this.hw.filter((p) => !(p.kind === kind && p.addr === addr && p.length === len));
    this.slots = assignSlots(this.hw) ?? [];
    await this.installSlots(this.gdbSlots());
  }

  /** Puts exactly these traps into the current process. */
  async install(sw: Iterable<bigint>, slots: SlotSet): Promise<void> {
    const d = this.proc.debugger;
    const want = new Set(sw);
    this.installed.wanted = want;
    // All asked of the tracer at once: it runs them in order, and JS waits once instead
    // of once a breakpoint (each wait a wake-up that other load delays: docs/load.md).
    const removed = [...this.installed.sw].filter((a) => !want.has(a)).map(async (a) => {
      await d.removeBreakpoint(a);
      this.installed.sw.delete(a);
    });
    // one not mapped yet at an earlier point (a library loaded later) is armed when a
    // run maps it (afterMapping)
    const inserted = [...want].filter((a) => !this.installed.sw.has(a)).map((a) => d.insertBreakpoint(a).then(() => {
      this.installed.sw.add(a);
    }, () => undefined));
    await Promise.all([...removed, ...inserted, this.installSlots(slots)]);
  }

  /**
   * A run is about to map [start, end) over what was there (a library's image written
   * in by JS, docs/timeline.md): the breakpoints installed there come out first, or
   * their bytes would be the old mapping's and the new one would have no int3.
   */
  async beforeMapping(start: bigint, end: bigint): Promise<void> {
    for (const a of [...this.installed.sw]) {
      if (a < start || a >= end) continue;
      await this.proc.debugger.removeBreakpoint(a).catch(() => undefined);
      this.installed.sw.delete(a);
    }
  }

  /**
   * [start, end) is mapped now: the breakpoints wanted there go in. A search that
   * starts before a library is loaded (at the start of the replay) thus sees the hits
   * in it, as gdb's own breakpoints are inserted when it learns of a new library.
   */
  async afterMapping(start: bigint, end: bigint): Promise<void> {
    for (const a of this.installed.wanted) {
      if (a < start || a >= end || this.installed.sw.has(a)) continue;
      if (await this.proc.debugger.insertBreakpoint(a).then(() => true, () => false)) this.installed.sw.add(a);
    }
  }

  private async installSlots(slots: SlotSet): Promise<void> {
    const regs = [0, 1, 2, 3].map((i) => slots[i] ?? null);
    if (sameSlots(regs, this.installed.slots)) return;
    await this.proc.debugger.setDebugRegs(regs);
    this.installed.slots = regs;
  }

  /** gdb's own traps into the current process. */
  installGdb(): Promise<void> {
    return this.install(this.sw.keys(), this.gdbSlots());
  }

  /** gdb's traps into a new replay of the same program (restart): the bytes under them are read again. */
  async reinstallAfterRestart(): Promise<void> {
    const d = this.proc.debugger;
    for (const addr of [...this.sw.keys()]) {
      try {
        this.sw.set(addr, await d.insertBreakpoint(addr));
        this.installed.sw.add(addr);
      } catch {
        this.sw.delete(addr); // not mapped at the start: gdb inserts it again when it resumes
      }
    }
    await this.installSlots(this.gdbSlots()).catch(() => {
      this.hw = [];
      this.slots = [];
    });
  }

  /** What is installed in the current process (for the diversion, which swaps processes). */
  saveInstalled(): InstalledTraps {
    return { sw: new Set(this.installed.sw), slots: [...this.installed.slots], wanted: new Set(this.installed.wanted) };
  }

  restoreInstalled(t: InstalledTraps): void {
    this.installed = { ...t, wanted: t.wanted ?? new Set(t.sw) };
  }
}
