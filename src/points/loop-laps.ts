// The filter's laps (docs/replay-speed.md, "threads_cpu: laps"): where the loop around
// a point's pc is one straight line closed by a conditional branch back, and one of
// its registers steps by a constant each time round (its counter: `add rdx,1`, or a
// 32-bit one, `add ecx,5`, whose lower half is what the check compares), the
// replay's filter (filter-stub.ts) runs a copy of the loop unrolled `count` times and
// checks only once per `count` laps, at the first, whether the counter is within
// `count` steps of its recorded value; only then does it go lap by lap through the
// exact check. In a hot loop every iteration is an arrival at pc, and one check per
// arrival cost ~1.05-1.09x of the loop; the laps cost a compare and a branch per
// `count` iterations, and the copy's closing branches fall through.
//
// Why this is exact: an arrival is the point only if every register has its recorded
// value, the counter too. The counter changes by `step` from one arrival to the next
// and nothing else in the loop writes it, so the `count` arrivals from one whose
// counter is c have c, c + step, ..., c + (count-1)*step; when the recorded value R
// is none of them (c outside the cyclic range between R - (count-1)*step and R), none
// of those arrivals can be the point, and they run without a check. A range that
// wraps round zero is never skipped (its bounds say so: lo 0, hi all ones). The copy
// runs the program's own instructions in the program's order (iced-x86's
// BlockEncoder moves their rip-relative operands); the loop's exit leaves the copy
// for the program's code after the loop, where the loop would have fallen through.
// The check's compare sets the flags, so laps are only planned where the flags are
// dead at pc (dead-flags.ts), as the key's compare already requires.
//
// Pure: decoding and planning only; what a process holds is the filter's business.
import { Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, MemoryOperand, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import { PINNED } from '../arch/displaced-code.js';
import type { UserReg } from '../arch/registers.js';
import { LOOP_REACH, type CodeWindow } from './loop-operands.js';

/** How the loop around a pc runs as laps. */
export interface LoopLaps {
  /** the counter: written once a lap, by a constant step */
  reg: UserReg;
  /** the counter's width: 64, or 32 (a 32-bit write clears the upper half, and the check compares the lower) */
  width: 32 | 64;
  /** what a lap adds to it (mod 2^width) */
  step: bigint;
  /** laps run between two checks */
  count: number;
  /** the closing branch's target, at or before pc */
  head: bigint;
  /** the address after the closing branch: where the loop falls through when it ends */
  exit: bigint;
}

/** bytes of unrolled copy at most, and laps at most between checks */
const LAPS_BYTES = 1024;
const MAX_LAPS = 16;
/** fewer laps than this are not worth a copy */
const MIN_LAPS = 4;
/** instructions in one lap at most */
const MAX_BODY = 64;

const COUNTERS = new Map<Register, UserReg>([
  [Register.RAX, 'rax'], [Register.RBX, 'rbx'], [Register.RCX, 'rcx'], [Register.RDX, 'rdx'],
  [Register.RSI, 'rsi'], [Register.RDI, 'rdi'], [Register.RBP, 'rbp'],
  [Register.R8, 'r8'], [Register.R9, 'r9'], [Register.R10, 'r10'], [Register.R11, 'r11'],
  [Register.R12, 'r12'], [Register.R13, 'r13'], [Register.R14, 'r14'], [Register.R15, 'r15'],
]);
/** each counter's 32-bit half, which a 32-bit counter steps and the check compares */
const LOWER = new Map<Register, Register>([
  [Register.RAX, Register.EAX], [Register.RBX, Register.EBX], [Register.RCX, Register.ECX], [Register.RDX, Register.EDX],
  [Register.RSI, Register.ESI], [Register.RDI, Register.EDI], [Register.RBP, Register.EBP],
  [Register.R8, Register.R8D], [Register.R9, Register.R9D], [Register.R10, Register.R10D], [Register.R11, Register.R11D],
  [Register.R12, Register.R12D], [Register.R13, Register.R13D], [Register.R14, Register.R14D], [Register.R15, Register.R15D],
]);
const WRITES = new Set([OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);

/** The straight line of instructions from `from` up to (not including) `to`, or the first that ends it; undefined if the bytes end first. */
function decodeLine(around: CodeWindow, from: bigint, to: bigint): Instruction[] | undefined {
  const offset = Number(from - around.at);
  if (offset < 0 || offset >= around.bytes.length) return undefined;
  const decoder = new Decoder(64, around.bytes.subarray(offset), DecoderOptions.None);
  decoder.ip = from;
  const out: Instruction[] = [];
  try {
    while (out.length < MAX_BODY && decoder.canDecode) {
      const insn = decoder.decode();
      if (insn.ip >= to) {
        insn.free();
        break;
      }
      out.push(insn);
      if (insn.code === Code.INVALID || insn.flowControl !== FlowControl.Next) break;
    }
  } finally {
    decoder.free();
  }
  return out;
}

const freeAll = (insns: Instruction[]) => {
  for (const i of insns) i.free();
};

/** A counter instruction: add/sub of an immediate, inc, dec, lea r,[r+disp]; its register (the full one), width and step. */
interface CounterStep {
  reg: Register;
  width: 32 | 64;
  step: bigint;
}

/** The constant a counter instruction adds to its register, if it is one (64- or 32-bit). */
function counterStep(insn: Instruction): CounterStep | undefined {
  const dest = insn.op0Kind === OpKind.Register ? insn.op0Register : Register.None;
  const width = RegisterExt.isGPR64(dest) ? 64 : RegisterExt.isGPR32(dest) ? 32 : 0;
  const reg = RegisterExt.fullRegister(dest);
  if (width === 0 || !COUNTERS.has(reg)) return undefined;
  const signed = (v: bigint) => BigInt.asIntN(width, v);
  switch (insn.mnemonic) {
    case Mnemonic.Add:
    case Mnemonic.Sub: {
      const k = insn.opCount === 2 ? insn.op1Kind : OpKind.Register;
      if (k !== OpKind.Immediate8to64 && k !== OpKind.Immediate32to64 && k !== OpKind.Immediate8to32 && k !== OpKind.Immediate32) return undefined;
      const imm = signed(insn.immediate(1));
      return { reg, width, step: insn.mnemonic === Mnemonic.Add ? imm : -imm };
    }
    case Mnemonic.Inc:
      return { reg, width, step: 1n };
    case Mnemonic.Dec:
      return { reg, width, step: -1n };
    case Mnemonic.Lea:
      // lea edx,[rdx+1] as well as lea rdx,[rdx+1]; a 32-bit address (addr32) is not a counter's
      if (insn.memoryBase !== reg || insn.memoryIndex !== Register.None) return undefined;
      return { reg, width, step: signed(insn.memoryDisplacementU64) };
    default:
      return undefined;
  }
}

/**
 * The loop around pc as laps, or undefined where it cannot run so: the code from pc
 * on must be a straight line up to a conditional branch back to a head at or before
 * pc, the head's line must reach pc, nothing in it may be what the replay emulates by
 * its address (PINNED), and one register must step by a constant once a lap and be
 * written nowhere else in it. `window`: the bytes the filter's jump covers at pc (the
 * loop's exit must not fall inside them).
 */
export function loopLaps(around: CodeWindow, pc: bigint, window: number): LoopLaps | undefined {
  const tail = decodeLine(around, pc, 2n ** 64n);
  if (!tail?.length) return undefined;
  const lead: Instruction[] = [];
  try {
    const branch = tail[tail.length - 1];
    if (!branch.isJccShortOrNear) return undefined;
    const head = branch.nearBranchTarget;
    const exit = branch.nextIP;
    if (head > pc || pc - head >= BigInt(LOOP_REACH) || exit < pc + BigInt(window)) return undefined;
    if (head < pc) {
      const line = decodeLine(around, head, pc);
      if (!line) return undefined;
      lead.push(...line);
      const last = lead[lead.length - 1];
      if (!last || last.nextIP !== pc || last.flowControl !== FlowControl.Next) return undefined;
    }
    const body = [...tail.slice(0, -1), ...lead];
    if (body.some((i) => i.code === Code.INVALID || i.flowControl !== FlowControl.Next || PINNED.has(i.mnemonic))) return undefined;
    const counter = lapCounter(body);
    if (!counter) return undefined;
    const bytes = Number(exit - head);
    const count = Math.min(MAX_LAPS, Math.floor(LAPS_BYTES / bytes));
    if (count < MIN_LAPS) return undefined;
    // the skipped range must not wrap mod 2^64 for the argument above to hold
    const size = counter.step < 0n ? -counter.step : counter.step;
    if (size * BigInt(count) >= 2n ** BigInt(counter.width - 2)) return undefined;
    return { reg: COUNTERS.get(counter.reg)!, width: counter.width, step: counter.step, count, head, exit };
  } finally {
    freeAll(tail);
    freeAll(lead);
  }
}

/** The register of `body` that one instruction steps by a constant and none other writes. */
function lapCounter(body: Instruction[]): CounterStep | undefined {
  const factory = new InstructionInfoFactory();
  const writes = new Map<Register, number>();
  try {
    for (const insn of body) {
      const info = factory.info(insn);
      const written = new Set<Register>();
      for (const u of info.usedRegisters()) if (WRITES.has(u.access)) written.add(RegisterExt.fullRegister(u.register));
      info.free();
      for (const r of written) writes.set(r, (writes.get(r) ?? 0) + 1);
    }
  } finally {
    factory.free();
  }
  for (const insn of body) {
    const c = counterStep(insn);
    if (c && c.step !== 0n && writes.get(c.reg) === 1) return c;
  }
  return undefined;
}

/**
 * The range of counter values at a check from which the next `count` laps may
 * hold the point (counter `recorded` there): [lo, hi], unsigned, of the counter's
 * width. A range that would wrap round zero is all values (never skipped); so is
 * every range of a 32-bit counter whose recorded value has upper bits set (an
 * arrival before the loop's first write could have them: it is always checked).
 * Why the lower half suffices for a 32-bit counter: the point's arrival has the
 * recorded value whole, so its lower half too, and the lower halves of the next
 * arrivals step by `step` mod 2^32 whatever the upper half was.
 */
export function lapBounds(laps: Pick<LoopLaps, 'step' | 'count' | 'width'>, recorded: bigint): [bigint, bigint] {
  const all: [bigint, bigint] = [0n, 2n ** BigInt(laps.width) - 1n];
  if (recorded > all[1]) return all;
  const span = (laps.step < 0n ? -laps.step : laps.step) * BigInt(laps.count - 1);
  const [lo, hi] = laps.step > 0n ? [recorded - span, recorded] : [recorded, recorded + span];
  if (lo < 0n || hi > all[1]) return all;
  return [lo, hi];
}

/** [rip + (addr - next ip)], given by its absolute address (the encoder resolves it) */
function ripMem(addr: bigint): MemoryOperand {
  return MemoryOperand.new64(Register.RIP, Register.None, 1, addr, 8, false, Register.None);
}

/**
 * The filter's start when the loop runs as laps: the check of the counter against
 * the bounds at `lo` and `hi` (lapBounds, in the filter's data page), `count` laps of
 * the loop when it is outside them and back to the check; inside them, on to
 * `exact` (the made-up address of the filter's exact check). `own` gives each
 * instruction its made-up address (src/arch/displaced-code.ts: StubAddresses).
 *
 *   check: cmp reg,[lo]; jae upper     (reg's lower half for a 32-bit counter)
 *   fast:  <lap> x count (each: from pc to the closing branch, which, inverted,
 *          leaves for the loop's exit; then from the head to pc)
 *          jmp check
 *   upper: cmp reg,[hi]; ja fast; jmp exact
 */
export function lapsPrefix(laps: LoopLaps, around: CodeWindow, pc: bigint, lo: bigint, hi: bigint, exact: bigint,
  own: <T extends Instruction>(i: T) => T): Instruction[] {
  const full = [...COUNTERS].find(([, name]) => name === laps.reg)![0];
  const [reg, cmp] = laps.width === 64 ? [full, Code.Cmp_r64_rm64] : [LOWER.get(full)!, Code.Cmp_r32_rm32];
  const check = own(Instruction.createRegMem(cmp, reg, ripMem(lo)));
  const toUpper = own(Instruction.createBranch(Code.Jae_rel32_64, 0n));
  const out: Instruction[] = [check, toUpper];
  for (let k = 0; k < laps.count; k++) {
    const tail = decodeLine(around, pc, 2n ** 64n)!;
    const branch = tail[tail.length - 1];
    branch.negateConditionCode();
    branch.nearBranch64 = laps.exit;
    out.push(...tail.map(own));
    if (laps.head < pc) out.push(...decodeLine(around, laps.head, pc)!.map(own));
  }
  const fastAt = out[2].ip;
  out.push(own(Instruction.createBranch(Code.Jmp_rel32_64, check.ip)));
  const upper = own(Instruction.createRegMem(cmp, reg, ripMem(hi)));
  toUpper.nearBranch64 = upper.ip;
  out.push(upper, own(Instruction.createBranch(Code.Ja_rel32_64, fastAt)), own(Instruction.createBranch(Code.Jmp_rel32_64, exact)));
  return out;
}
