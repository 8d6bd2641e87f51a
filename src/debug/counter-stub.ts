// The code of one in-process hit counter (docs/timeline.md, "Counting in the
// process"), as a pure function of the bytes at the counted pc: which instructions
// a 5-byte `jmp rel32` displaces, the stub they move to, and the patch written over
// them. No process is touched here (hit-counters.ts installs what this plans).
//
// The stub counts without touching the flags, so no pushf/popf (slow, and a
// trap-flag hazard): `lea` adds, and `jrcxz` tests the count still to go.
//
//   lea rsp, [rsp-128]       ; past the red zone, which the program may be using
//   push rcx
//   mov rcx,[count]; lea rcx,[rcx+1]; mov [count],rcx   ; one more arrival
//   mov rcx,[left];  lea rcx,[rcx-1]; mov [left],rcx    ; one fewer to the target
//   jrcxz trap
//   push rax                 ; the order of hits, in one sequence for every counter
//   mov rax,[abs seq]; lea rax,[rax+1]; mov [abs seq],rax; mov [last],rax
//   pop rax                  ; (absolute: the pages near two libraries are far apart)
//   pop rcx
//   lea rsp, [rsp+128]
//   <the displaced instructions, relocated>
//   jmp pc+displaced
// trap:
//   int3                     ; addon/debugger_counters.cc undoes the frame
//
// A stub whose target is a state named by its fingerprint jumps, after counting,
// to one comparison per register (mov rcx,[-expected]; lea rcx,[rcx+reg]; jrcxz
// next; jmp back), then an int3 and a jump back: only arrivals whose registers
// all match trap, and the tracer, which compares the whole fingerprint, lets a
// false match go on past the int3.
//
// Which instructions move, and how (iced-x86's BlockEncoder, with made-up
// addresses so that a short loop back to pc is counted on every iteration), is
// src/arch/displaced-code.ts, shared with the point filter. Instructions that
// cannot move are refused (the caller then traps with int3 as before).
import { BlockEncoder, BlockEncoderOptions, Code, Decoder, DecoderOptions, Instruction, MemoryOperand, Mnemonic, Register } from 'iced-x86';
import { branchesInto, displacedAt, displacedLength, JUMP_LENGTH, jumpPatch, StubAddresses, type Refusal } from '../arch/displaced-code.js';

export { JUMP_LENGTH, displacedAt, branchesInto, type Refusal };
/** below the stack pointer: the System V red zone, which the stub must not overwrite */
export const RED_ZONE = 128n;
/** the most bytes a stub takes (its instructions and up to four displaced ones, relocated) */
export const STUB_MAX = 160;

/** Where one counter's words are (absolute addresses, each a u64). */
export interface CounterWords {
  /** arrivals counted since the run began */
  count: bigint;
  /** arrivals still to go to the target: 0 means none (it wraps, and traps after 2^64) */
  left: bigint;
  /** the hit sequence number of the latest arrival (shared `seq` when it happened) */
  last: bigint;
  /** the sequence of hits shared by every counter of a run (addressed absolutely) */
  seq: bigint;
}

/**
 * A counter whose target is a state named only by its fingerprint (registers and
 * top of stack, addon/process_copy.cc): after counting, the stub compares these
 * registers with the fingerprint's, flag-free, and traps only when all match; the
 * tracer compares the whole fingerprint and, on a false match, lets the stub go
 * on past its int3. So a run to such a state at a pc passed on every iteration
 * stops at its few near-matches, not at every arrival.
 */
export interface FingerprintCompare {
  /** where the negated expected values are, one u64 per register of FP_REGISTERS */
  negatedAt: bigint;
}

/** the registers the stub compares, with their offsets in a fingerprint (a user_regs_struct) */
export const FP_REGISTERS: [Register, number][] = [
  [Register.RSP, 152], [Register.RBP, 32], [Register.RBX, 40], [Register.RAX, 80], [Register.RDX, 96], [Register.RSI, 104], [Register.RDI, 112],
  [Register.R8, 72], [Register.R9, 64], [Register.R10, 56], [Register.R11, 48], [Register.R12, 24], [Register.R13, 16], [Register.R14, 8], [Register.R15, 0],
];

/** The u64s a fingerprint stub compares with: minus each register's value in fp, in FP_REGISTERS order. */
export function negatedRegisters(fp: Buffer): Buffer {
  const out = Buffer.alloc(FP_REGISTERS.length * 8);
  FP_REGISTERS.forEach(([, off], i) => out.writeBigUInt64LE(BigInt.asUintN(64, -fp.readBigUInt64LE(off)), i * 8));
  return out;
}

export interface StubPlan {
  pc: bigint;
  /** the bytes the patch covers (whole instructions): JUMP_LENGTH or more */
  displaced: number;
  /** written at pc: the jump, then int3 fill up to `displaced` */
  patch: Buffer;
  /** the stub's code, to be written at codeAt */
  code: Buffer;
  codeAt: bigint;
  /** the address of the stub's int3 (the target's trap) */
  trapAt: bigint;
  /** a fingerprint stub's int3, where its registers all match (the run's target trap then) */
  fpTrapAt?: bigint;
}

function ripMem(addr: bigint): MemoryOperand {
  return MemoryOperand.new64(Register.RIP, Register.None, 1, addr, 8, false, Register.None);
}

function absMem(addr: bigint): MemoryOperand {
  return MemoryOperand.new64(Register.None, Register.None, 1, addr, 8, false, Register.None);
}

/**
 * The stub that counts arrivals at pc, placed at codeAt, using the counter words
 * `w`; or why pc cannot be counted (`code` holds the bytes at pc, 16 or more).
 */
export function planStub(code: Uint8Array, pc: bigint, codeAt: bigint, w: CounterWords, fp?: FingerprintCompare, maxBytes = STUB_MAX): StubPlan | Refusal {
  const moved = displacedAt(code, pc);
  if ('refused' in moved) return moved;
  const displaced = displacedLength(moved);
  // Every instruction of the stub, the moved ones too, has a made-up address
  // (src/arch/displaced-code.ts): a loop of five bytes or fewer back to pc then
  // goes through the patch and is counted on every iteration.
  const addresses = new StubAddresses();
  const own = <T extends Instruction>(i: T) => addresses.own(i);
  const trap = own(Instruction.create(Code.Int3));
  const rsp = (d: bigint) => own(Instruction.createRegMem(Code.Lea_r64_m, Register.RSP, MemoryOperand.new64(Register.RSP, Register.None, 1, d, 1, false, Register.None)));
  const rcxAdd = (d: bigint) => own(Instruction.createRegMem(Code.Lea_r64_m, Register.RCX, MemoryOperand.new64(Register.RCX, Register.None, 1, d, 1, false, Register.None)));
  const load = (a: bigint) => own(Instruction.createRegMem(Code.Mov_r64_rm64, Register.RCX, ripMem(a)));
  const store = (a: bigint) => own(Instruction.createMemReg(Code.Mov_rm64_r64, ripMem(a), Register.RCX));
  // a fingerprint stub jumps from `back` to its comparisons, which jump back on the first mismatch
  const back = own(Instruction.createRegMem(Code.Mov_r64_rm64, Register.RCX, ripMem(w.left)));
  const compare: Instruction[] = [];
  if (fp) {
    FP_REGISTERS.forEach(([reg, ], i) => {
      compare.push(load(fp.negatedAt + BigInt(i) * 8n));
      // rcx = reg - expected, without touching the flags (the stub's frame is below rsp: 128 + 8 bytes)
      compare.push(own(Instruction.createRegMem(Code.Lea_r64_m, Register.RCX, reg === Register.RSP
        ? MemoryOperand.new64(Register.RSP, Register.RCX, 1, RED_ZONE + 8n, 1, false, Register.None)
        : MemoryOperand.new64(Register.RCX, reg, 1, 0n, 0, false, Register.None))));
      const next = addresses.peek() + 0x20n; // the instruction after the jump back
      compare.push(own(Instruction.createBranch(Code.Jrcxz_rel8_64, next)));
      compare.push(own(Instruction.createBranch(Code.Jmp_rel32_64, back.ip)));
    });
    compare.push(own(Instruction.create(Code.Int3)));
    compare.push(own(Instruction.createBranch(Code.Jmp_rel32_64, back.ip)));
  }
  const list: Instruction[] = [
    rsp(-RED_ZONE),
    own(Instruction.createReg(Code.Push_r64, Register.RCX)),
    load(w.count), rcxAdd(1n), store(w.count),
    ...(fp ? [own(Instruction.createBranch(Code.Jmp_rel32_64, compare[0].ip))] : []),
    back, rcxAdd(-1n), store(w.left),
    own(Instruction.createBranch(Code.Jrcxz_rel8_64, trap.ip)),
    own(Instruction.createReg(Code.Push_r64, Register.RAX)),
    own(Instruction.createRegMem(Code.Mov_RAX_moffs64, Register.RAX, absMem(w.seq))),
    own(Instruction.createRegMem(Code.Lea_r64_m, Register.RAX, MemoryOperand.new64(Register.RAX, Register.None, 1, 1n, 1, false, Register.None))),
    own(Instruction.createMemReg(Code.Mov_moffs64_RAX, absMem(w.seq), Register.RAX)),
    own(Instruction.createMemReg(Code.Mov_rm64_r64, ripMem(w.last), Register.RAX)),
    own(Instruction.createReg(Code.Pop_r64, Register.RAX)),
    own(Instruction.createReg(Code.Pop_r64, Register.RCX)),
    rsp(RED_ZONE),
    ...moved.map(own),
    own(Instruction.createBranch(Code.Jmp_rel32_64, pc + BigInt(displaced))),
    trap,
    ...compare,
  ];
  const enc = new BlockEncoder(64, BlockEncoderOptions.None);
  let bytes: Uint8Array;
  try {
    for (const i of list) enc.add(i);
    bytes = enc.encode(codeAt);
  } catch (e) {
    const why = (e as Error).message ?? String(e);
    return { refused: /too far/i.test(why) ? 'the stub is out of a rip-relative operand\'s reach' : `the displaced instructions cannot be relocated: ${why}` };
  } finally {
    enc.free();
    for (const i of list) i.free();
  }
  if (bytes.length > maxBytes) return { refused: `the stub takes ${bytes.length} bytes` };
  const traps = int3sIn(bytes, codeAt);
  const patch = jumpPatch(pc, codeAt, displaced);
  if ('refused' in patch) return patch;
  return { pc, displaced, patch, code: Buffer.from(bytes), codeAt, trapAt: traps[0], fpTrapAt: fp ? traps[1] : undefined };
}

/** The addresses of the stub's own int3s, in order (the encoder chose the branches' sizes; none of the moved instructions is an int3). */
function int3sIn(bytes: Uint8Array, at: bigint): bigint[] {
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  decoder.ip = at;
  const out: bigint[] = [];
  const insn = new Instruction();
  try {
    while (decoder.canDecode) {
      decoder.decodeOut(insn);
      if (insn.mnemonic === Mnemonic.Int3) out.push(insn.ip);
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return out;
}
