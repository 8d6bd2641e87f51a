// Typed views of the MI records the debug layer uses: frames, breakpoints, threads,
// variables, variable objects, disassembled instructions and the `*stopped` record.
// Each converter takes the raw tuple gdb printed and keeps only what it understood,
// so a field gdb leaves out is undefined rather than a crash.
import type { MiTuple, MiValue } from './mi-parser.js';

export interface MiFrame {
  level: number;
  /** hex, as gdb prints it */
  addr: string;
  func?: string;
  file?: string;
  /** the absolute source path gdb found */
  fullname?: string;
  line?: number;
  /** the library the pc is in, when there is no line information */
  from?: string;
}

export interface MiBreakpoint {
  number: string;
  type: string;
  addr?: string;
  func?: string;
  file?: string;
  fullname?: string;
  line?: number;
  /** the location gdb will resolve when a library that has it loads */
  pending?: string;
  times: number;
  /** one per address for a breakpoint with several */
  locations: MiBreakpoint[];
}

export interface MiWatchpoint {
  number: string;
  exp: string;
}

export interface MiThread {
  id: number;
  targetId: string;
  name?: string;
  /** the target's extra text: a replay's thread absent where it stands says "not made yet here" or "ended here" */
  details?: string;
  state?: string;
  frame?: MiFrame;
}

export interface MiVariable {
  name: string;
  /** absent for aggregates with --simple-values */
  value?: string;
  type?: string;
  isArg: boolean;
}

export interface MiVarObj {
  /** gdb's name for the variable object (var1, var1.x) */
  name: string;
  /** the expression, or for a child its field name or index */
  exp: string;
  numchild: number;
  value: string;
  type?: string;
}

export interface MiInstruction {
  address: string;
  funcName?: string;
  offset?: number;
  opcodes?: string;
  inst: string;
  fullname?: string;
  line?: number;
}

/** A `*stopped` record. */
export interface MiStop {
  /** breakpoint-hit, end-stepping-range, watchpoint-trigger, no-history, exited, signal-received, ... */
  reason?: string;
  frame?: MiFrame;
  threadId?: number;
  bkptno?: string;
  exitCode?: number;
  signalName?: string;
  signalMeaning?: string;
  /** the watchpoint that triggered and its values */
  watchpoint?: { number: string; exp: string; old?: string; new?: string; value?: string };
}

export function str(v: MiValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function int(v: MiValue | undefined): number | undefined {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) return undefined;
  return Number(v);
}

export function tuple(v: MiValue | undefined): MiTuple | undefined {
  return v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

export function list(v: MiValue | undefined): MiValue[] {
  return Array.isArray(v) ? v : [];
}

export function toFrame(t: MiTuple | undefined): MiFrame | undefined {
  if (!t) return undefined;
  return {
    level: int(t.level) ?? 0,
    addr: str(t.addr) ?? '0x0',
    func: str(t.func),
    file: str(t.file),
    fullname: str(t.fullname),
    line: int(t.line),
    from: str(t.from),
  };
}

export function toBreakpoint(t: MiTuple): MiBreakpoint {
  return {
    number: str(t.number) ?? '',
    type: str(t.type) ?? 'breakpoint',
    addr: str(t.addr),
    func: str(t.func),
    file: str(t.file),
    fullname: str(t.fullname),
    line: int(t.line),
    pending: str(t.pending),
    times: int(t.times) ?? 0,
    locations: list(t.locations).map(tuple).filter((x): x is MiTuple => !!x).map(toBreakpoint),
  };
}

export function toThread(t: MiTuple): MiThread {
  return { id: int(t.id) ?? 0, targetId: str(t['target-id']) ?? '', name: str(t.name), details: str(t.details), state: str(t.state), frame: toFrame(tuple(t.frame)) };
}

export function toVariable(t: MiTuple): MiVariable {
  return { name: str(t.name) ?? '', value: str(t.value), type: str(t.type), isArg: str(t.arg) === '1' };
}

export function toVarObj(t: MiTuple): MiVarObj {
  return { name: str(t.name) ?? '', exp: str(t.exp) ?? str(t.name) ?? '', numchild: int(t.numchild) ?? 0, value: str(t.value) ?? '', type: str(t.type) };
}

function toInstruction(t: MiTuple, src?: { fullname?: string; line?: number }): MiInstruction {
  return {
    address: str(t.address) ?? '0x0',
    funcName: str(t['func-name']),
    offset: int(t.offset),
    opcodes: str(t.opcodes),
    inst: str(t.inst) ?? '',
    fullname: src?.fullname,
    line: src?.line,
  };
}

/** `-data-disassemble` output in plain (0, 2) or source-centric (4, 5) mode, flattened in address order. */
export function toInstructions(insns: MiValue | undefined): MiInstruction[] {
  const out: MiInstruction[] = [];
  for (const item of list(insns)) {
    const t = tuple(item);
    if (!t) continue;
    if ('line_asm_insn' in t) {
      const src = { fullname: str(t.fullname), line: int(t.line) };
      for (const i of list(t.line_asm_insn)) {
        const it = tuple(i);
        if (it) out.push(toInstruction(it, src));
      }
    } else {
      out.push(toInstruction(t));
    }
  }
  return out.sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : BigInt(a.address) > BigInt(b.address) ? 1 : 0));
}

export function toStop(t: MiTuple): MiStop {
  const wpt = tuple(t.wpt) ?? tuple(t.hw_awpt) ?? tuple(t.hw_rwpt);
  const value = tuple(t.value);
  return {
    reason: str(t.reason),
    frame: toFrame(tuple(t.frame)),
    threadId: int(t['thread-id']),
    bkptno: str(t.bkptno),
    exitCode: str(t['exit-code']) !== undefined ? parseInt(str(t['exit-code'])!, 8) : undefined,
    signalName: str(t['signal-name']),
    signalMeaning: str(t['signal-meaning']),
    watchpoint: wpt ? { number: str(wpt.number) ?? '', exp: str(wpt.exp) ?? '', old: str(value?.old), new: str(value?.new), value: str(value?.value) } : undefined,
  };
}
