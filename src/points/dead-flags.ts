// Whether the arithmetic flags are dead at a point's pc: every one of them is written
// by the code from pc on before any is read. The replay's filter (filter-stub.ts)
// then checks its key with one `cmp key,[recorded]` instead of saving a register and
// testing with jrcxz: in a hot loop, where every iteration is an arrival at pc, that
// is most of the filter's cost (docs/replay-speed.md, "Threads"). Flags that are
// dead cannot change what the program does next, so the tracer may give the point
// the recorded ones (addon/replay_points.cc) without making the name weaker.
//
// Conservative: only the straight line from pc is followed (a branch, a call or any
// other change of flow before the flags are all written says "live"), and only flags
// an instruction always writes count (a shift or rotate by cl leaves them when the
// count is 0; flags an instruction leaves undefined may be left as they were).
import { Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, RflagsBits } from 'iced-x86';

const ARITHMETIC = RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.CF | RflagsBits.PF;
/** instructions whose flag writes depend on their count */
const COUNTED = new Set([
  Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sal, Mnemonic.Sar, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl, Mnemonic.Rcr,
  Mnemonic.Shld, Mnemonic.Shrd,
]);
/** how far the straight line is followed */
const MAX_INSTRUCTIONS = 16;

/** `code`: the program's bytes from pc on (32 or more, as the filter is planned from). */
export function flagsDeadAt(code: Uint8Array, pc: bigint): boolean {
  const decoder = new Decoder(64, code, DecoderOptions.None);
  decoder.ip = pc;
  const insn = new Instruction();
  let live = ARITHMETIC;
  try {
    for (let k = 0; k < MAX_INSTRUCTIONS && decoder.canDecode; k++) {
      decoder.decodeOut(insn);
      if (insn.isInvalid || insn.rflagsRead & live) return false;
      if (!COUNTED.has(insn.mnemonic)) live &= ~(insn.rflagsWritten | insn.rflagsCleared | insn.rflagsSet);
      if (live === 0) return true;
      if (insn.flowControl !== FlowControl.Next) return false;
    }
    return false;
  } finally {
    insn.free();
    decoder.free();
  }
}
