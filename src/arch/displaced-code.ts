// Moving the instructions a 5-byte `jmp rel32` displaces into a stub, for every
// in-process stub that patches a program's pc (the hit counter,
// src/debug/counter-stub.ts, and the point filter, src/points/filter-stub.ts): which
// whole instructions the jump covers and whether they may move, whether a branch
// of the code around lands inside the patch, the addresses the stub's instructions
// are encoded under, and the patch itself. The relocation itself is iced-x86's
// BlockEncoder (it fixes rip-relative operands and relative branches for the new
// address and widens short branches); this file only decides what goes in.
//
// The one trap both stubs fell into: the encoder sends a branch whose target is
// the address of an instruction in the block to that instruction's copy. A loop
// of five bytes or fewer that jumps back to the patched pc would then run round
// the moved copy and never pass the stub's code again (a counter would count one
// arrival per entry into the loop, not one per iteration). So every instruction of
// a stub, the moved ones too, is given a made-up address (StubAddresses), and
// branches keep their absolute targets: a jump back to pc goes to the program's
// pc, through the patch, into the stub.
import { Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic } from 'iced-x86';

/** the bytes of the jump written at the patched pc */
export const JUMP_LENGTH = 5;

/** why a pc cannot be patched */
export type Refusal = { refused: string };

const MOVABLE_FLOW = new Set([FlowControl.Next, FlowControl.ConditionalBranch, FlowControl.UnconditionalBranch]);
/** instructions the replay traps and emulates by their address, or a syscall: never moved */
export const PINNED = new Set([Mnemonic.Syscall, Mnemonic.Sysenter, Mnemonic.Rdtsc, Mnemonic.Rdtscp, Mnemonic.Cpuid, Mnemonic.Ud2, Mnemonic.Int3, Mnemonic.Int, Mnemonic.Int1]);

/**
 * The instructions at pc that the jump displaces, or why they cannot move: calls
 * (the return address would be the stub's), returns and indirect jumps, syscalls
 * and what the replay emulates by its address, and anything after an
 * instruction that does not fall through. The caller frees them (or hands them
 * to a BlockEncoder list it frees).
 */
export function displacedAt(code: Uint8Array, pc: bigint): Instruction[] | Refusal {
  const decoder = new Decoder(64, code, DecoderOptions.None);
  decoder.ip = pc;
  const out: Instruction[] = [];
  let len = 0;
  const refuse = (why: string): Refusal => {
    for (const i of out) i.free();
    return { refused: why };
  };
  try {
    while (len < JUMP_LENGTH) {
      if (!decoder.canDecode) return refuse('the code ends inside the displaced bytes');
      const insn = decoder.decode();
      const at = `at 0x${insn.ip.toString(16)}`;
      if (insn.code === Code.INVALID) return refuse(`no valid instruction ${at}`);
      const name = Mnemonic[insn.mnemonic].toLowerCase();
      if (PINNED.has(insn.mnemonic)) return refuse(`a ${name} ${at} cannot move`);
      if (!MOVABLE_FLOW.has(insn.flowControl)) return refuse(`a ${name} ${at} cannot move (its control flow)`);
      out.push(insn);
      len += insn.length;
      if (insn.flowControl === FlowControl.UnconditionalBranch && len < JUMP_LENGTH) return refuse('a jump ends the code before five bytes');
    }
  } finally {
    decoder.free();
  }
  return out;
}

/** the bytes the displaced instructions cover */
export function displacedLength(moved: Instruction[]): number {
  return moved.reduce((n, i) => n + i.length, 0);
}

/**
 * The near-branch targets that land inside (pc, pc+len) among the instructions
 * decoded from `code` (at address `at`): a jump there would land in the patch.
 * Decoding from an arbitrary point falls into step with the real instructions
 * within a few, so this finds the branches of the surrounding function; an
 * indirect jump (a switch table) into the displaced bytes is not seen.
 */
export function branchesInto(code: Uint8Array, at: bigint, pc: bigint, len: number): bigint[] {
  const decoder = new Decoder(64, code, DecoderOptions.None);
  decoder.ip = at;
  const hits: bigint[] = [];
  const insn = new Instruction();
  try {
    while (decoder.canDecode) {
      decoder.decodeOut(insn);
      const f = insn.flowControl;
      if (f !== FlowControl.ConditionalBranch && f !== FlowControl.UnconditionalBranch && f !== FlowControl.Call) continue;
      const t = insn.nearBranchTarget;
      if (t > pc && t < pc + BigInt(len)) hits.push(insn.ip);
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return hits;
}

/**
 * Made-up addresses for a stub's instructions, 16 apart from 0x10: far from any
 * code the program has, so the encoder resolves a branch to one of them to that
 * instruction, and a branch to a program address (pc included) to the program.
 */
export class StubAddresses {
  private next = 0x10n;

  /** gives `i` the next made-up address, and returns it */
  own<T extends Instruction>(i: T): T {
    i.ip = this.next;
    this.next += 0x10n;
    return i;
  }

  /** the address the next `own` will give */
  peek(): bigint {
    return this.next;
  }
}

/** The bytes written at pc: a jump to `target`, then int3 over the rest of the `window` displaced bytes; or why it cannot reach. */
export function jumpPatch(pc: bigint, target: bigint, window: number): Buffer | Refusal {
  const rel = target - (pc + BigInt(JUMP_LENGTH));
  if (rel < -(2n ** 31n) || rel >= 2n ** 31n) return { refused: 'the stub is out of a jump\'s reach' };
  const patch = Buffer.alloc(window, 0xcc);
  patch[0] = 0xe9;
  patch.writeInt32LE(Number(rel), 1);
  return patch;
}
