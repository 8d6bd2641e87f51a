// Whether an instruction is a string instruction with a rep prefix (`rep stos`,
// `rep movs`, `repe cmps`...). Such an instruction is interruptible: a stop (a
// checkpoint's SIGSTOP, a slice) can leave the thread at its address with rcx, rsi
// and rdi part way through, a state that no later run arrives at again (an arrival
// is the instruction's start, a trap or a counter stub's jump before it runs). The
// reverse search uses it to keep such a copy's state from being a window's end
// (docs/timeline.md, "Counting across mapping events", Status). A prefix walk over
// the raw bytes is enough here: the string opcodes take no ModRM.

/** legacy prefixes other than rep/repne (operand and address size, segments, lock) */
const OTHER_PREFIXES = new Set([0x66, 0x67, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0xf0]);
/** ins, outs, movs, cmps, stos, lods, scas (byte and word/dword/qword forms) */
const STRING_OPCODES = new Set([0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf]);

/** `code` (the bytes at an instruction's address, up to 15) starts with a rep-prefixed string instruction. */
export function isRepString(code: Uint8Array): boolean {
  let rep = false;
  let k = 0;
  for (; k < code.length && k < 15; k++) {
    const b = code[k];
    if (b === 0xf2 || b === 0xf3) rep = true;
    else if (!OTHER_PREFIXES.has(b)) break;
  }
  // a REX prefix comes last, right before the opcode
  if (k < code.length && (code[k] & 0xf0) === 0x40) k++;
  return rep && k < code.length && STRING_OPCODES.has(code[k]);
}
