// The memory operands of the loop around a pc (docs/preemption.md, "F2"): part of
// a point's name. A point named by its registers alone is ambiguous in the hard
// case (`while (!stop) count++` with count in memory: every arrival has the same
// registers); the values of the memory the code near pc reads tell the arrivals
// apart at native speed, in the replay's filter (filter-stub.ts). The exact-state
// hash decides in the end; these values only make the filter trap rarely.
//
// Decoded with iced-x86 from pc on, through the fall-through of conditional
// branches and past calls (treating the caller-saved registers as changed by the
// callee, so a loop around a call keeps the operands after it), up to 32
// instructions; then, when a backward branch closes a loop around pc, the loop's
// part before pc. An operand counts only where the registers of its address hold,
// at pc, the values they have when it is read: not written before it on the way
// from pc, and (for the part before pc) written nowhere in the loop. Pure: the
// caller reads the code and the values (record-point.ts).
import { Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, MemorySizeExt, Mnemonic, OpAccess, Register, RegisterExt } from 'iced-x86';
import { getReg, type UserReg } from '../arch/registers.js';

/** How far back a loop head may be, and how many instructions one run decodes. */
export const LOOP_REACH = 4096;
const RUN_LENGTH = 32;
/** operands kept at most (the filter compares each at every arrival) */
export const MAX_LOOP_OPERANDS = 16;

/** One memory operand, its address as the code computes it. */
export interface LoopOperand {
  base: Register;
  index: Register;
  scale: number;
  /** absolute for a rip-relative operand (base None then) */
  displacement: bigint;
  segment: Register;
  /** bytes: 1, 2, 4 or 8 */
  size: number;
}

/** The value of one operand at a point. */
export interface LoopValue {
  addr: bigint;
  size: number;
  value: bigint;
}

/** Code bytes of the program starting at address `at` (whatever could be read). */
export interface CodeWindow {
  at: bigint;
  bytes: Uint8Array;
}

const GPR_NAMES = new Map<Register, UserReg>([
  [Register.RAX, 'rax'], [Register.RBX, 'rbx'], [Register.RCX, 'rcx'], [Register.RDX, 'rdx'],
  [Register.RSI, 'rsi'], [Register.RDI, 'rdi'], [Register.RBP, 'rbp'], [Register.RSP, 'rsp'],
  [Register.R8, 'r8'], [Register.R9, 'r9'], [Register.R10, 'r10'], [Register.R11, 'r11'],
  [Register.R12, 'r12'], [Register.R13, 'r13'], [Register.R14, 'r14'], [Register.R15, 'r15'],
]);
/** what a callee may change (System V): a loop around a call cannot rely on them after it */
const CALLER_SAVED = [Register.RAX, Register.RCX, Register.RDX, Register.RSI, Register.RDI, Register.R8, Register.R9, Register.R10, Register.R11];
const WRITES = new Set([OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);

interface Found extends LoopOperand {
  /** its address registers hold their values at pc */
  validHere: boolean;
}

function addressable(r: Register): boolean {
  return r === Register.None || GPR_NAMES.has(r);
}

/**
 * Decodes one run from `start` (at most to `end`) and adds its memory operands to
 * `out`; `written` collects the registers it writes. Returns the nearest branch
 * target at or before pc within LOOP_REACH (the innermost loop head), or undefined.
 */
function decodeRun(code: CodeWindow, start: bigint, end: bigint, pc: bigint, written: Set<Register>, out: Found[]): bigint | undefined {
  const from = Number(start - code.at);
  if (from < 0 || from >= code.bytes.length) return undefined;
  const decoder = new Decoder(64, code.bytes.subarray(from), DecoderOptions.None);
  decoder.ip = start;
  const factory = new InstructionInfoFactory();
  const insn = new Instruction();
  let head: bigint | undefined;
  try {
    for (let i = 0; i < RUN_LENGTH && decoder.canDecode; i++) {
      decoder.decodeOut(insn);
      if (insn.ip >= end || insn.code === Code.INVALID) break;
      const flow = insn.flowControl;
      if (flow === FlowControl.ConditionalBranch || flow === FlowControl.UnconditionalBranch) {
        const t = insn.nearBranchTarget;
        if (t !== 0n && t <= pc && pc - t < BigInt(LOOP_REACH) && (head === undefined || t > head)) head = t;
      }
      const info = factory.info(insn);
      if (insn.mnemonic !== Mnemonic.Lea && insn.mnemonic !== Mnemonic.Nop) {
        for (const m of info.usedMemory()) {
          if (m.access === OpAccess.NoMemAccess) continue;
          const rip = m.base === Register.RIP;
          const base = rip ? Register.None : m.base;
          if (!addressable(base) || !addressable(m.index)) continue;
          const size = MemorySizeExt.size(m.memorySize);
          if (size !== 1 && size !== 2 && size !== 4 && size !== 8) continue;
          // iced gives a rip-relative operand's absolute address as its displacement
          const validHere = start === pc && !written.has(base) && !written.has(m.index);
          out.push({ base, index: m.index, scale: m.scale, displacement: BigInt.asUintN(64, m.displacement), segment: m.segment, size, validHere });
        }
      }
      for (const u of info.usedRegisters()) if (WRITES.has(u.access)) written.add(RegisterExt.fullRegister(u.register));
      info.free();
      if (flow === FlowControl.Call || flow === FlowControl.IndirectCall) {
        for (const r of CALLER_SAVED) written.add(r);
        continue;
      }
      if (flow !== FlowControl.Next && flow !== FlowControl.ConditionalBranch) break;
    }
  } finally {
    insn.free();
    factory.free();
    decoder.free();
  }
  return head;
}

/** The operands of the loop around pc whose addresses the registers at pc determine. */
export function loopOperands(code: CodeWindow, pc: bigint): LoopOperand[] {
  const found: Found[] = [];
  const written = new Set<Register>();
  const head = decodeRun(code, pc, 2n ** 64n, pc, written, found);
  if (head !== undefined && head < pc) {
    const from = found.length;
    decodeRun(code, head, pc, pc, written, found);
    for (const op of found.slice(from)) op.validHere = !written.has(op.base) && !written.has(op.index);
  }
  return found.filter((op) => op.validHere).map(({ validHere: _, ...op }) => op);
}

/**
 * The general registers the code around pc writes: the run from pc and, when a
 * backward branch closes a loop around pc, the loop's part before pc. What changes
 * from one arrival at pc to the next is among them (filter-key.ts).
 */
export function loopWrittenRegisters(code: CodeWindow, pc: bigint): UserReg[] {
  const written = new Set<Register>();
  const head = decodeRun(code, pc, 2n ** 64n, pc, written, []);
  if (head !== undefined && head < pc) decodeRun(code, head, pc, pc, written, []);
  return [...GPR_NAMES].filter(([r]) => written.has(r)).map(([, name]) => name);
}

/** The operand's address with the registers `regs` (a user_regs_struct). */
export function operandAddress(op: LoopOperand, regs: Buffer): bigint {
  const reg = (r: Register) => (r === Register.None ? 0n : getReg(regs, GPR_NAMES.get(r)!));
  let a = op.displacement + reg(op.base) + reg(op.index) * BigInt(op.scale || 1);
  if (op.segment === Register.FS) a += getReg(regs, 'fs_base');
  if (op.segment === Register.GS) a += getReg(regs, 'gs_base');
  return BigInt.asUintN(64, a);
}

/**
 * The values of the loop's operands at a point: distinct (address, size) pairs
 * that could be read, at most MAX_LOOP_OPERANDS. `read` reads the process.
 */
export async function loopValues(ops: LoopOperand[], regs: Buffer, read: (addr: bigint, len: number) => Promise<Buffer>): Promise<LoopValue[]> {
  const out: LoopValue[] = [];
  for (const op of ops) {
    if (out.length >= MAX_LOOP_OPERANDS) break;
    const addr = operandAddress(op, regs);
    if (out.some((v) => v.addr === addr && v.size === op.size)) continue;
    const bytes = await read(addr, op.size);
    if (bytes.length !== op.size) continue;
    out.push({ addr, size: op.size, value: readUnsigned(bytes) });
  }
  return out;
}

function readUnsigned(b: Buffer): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}
