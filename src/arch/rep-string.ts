// Whether an instruction is a string instruction with a rep prefix (`rep stos`,
// `rep movs`, `repe cmps`...). Such an instruction is interruptible: a stop (a
// checkpoint's SIGSTOP, a slice, a signal) can leave the thread at its address with
// rcx, rsi and rdi part way through, a state that no later run arrives at again (an
// arrival is the instruction's start, a trap or a counter stub's jump before it
// runs). The reverse search keeps such a copy's state from being a window's end
// (docs/timeline.md, "Counting across mapping events", Status); the recorder finishes
// such an instruction before it names a thread's point (src/points). Decoded with
// iced-x86, the decoder the rest of the code patching uses, so that both sides
// agree on what a rep-string instruction is.
import { Decoder, DecoderOptions, Instruction } from 'iced-x86';

/** The length of the rep-prefixed string instruction `code` (bytes at `pc`, up to 15) starts with, else 0. */
export function repStringLength(code: Uint8Array, pc = 0n): number {
  const d = new Decoder(64, code, DecoderOptions.None);
  d.ip = pc;
  const insn = new Instruction();
  try {
    if (!d.canDecode) return 0;
    d.decodeOut(insn);
    if (insn.isInvalid) return 0;
    return insn.isStringInstruction && (insn.hasRepPrefix || insn.hasRepePrefix || insn.hasRepnePrefix) ? insn.length : 0;
  } finally {
    insn.free();
    d.free();
  }
}

/** `code` starts with a rep-prefixed string instruction. */
export function isRepString(code: Uint8Array): boolean {
  return repStringLength(code) > 0;
}
