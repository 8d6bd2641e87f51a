// DAP's disassemble request over gdb's -data-disassemble. DAP asks for exactly COUNT
// instructions starting INSTRUCTIONOFFSET instructions away from an address, possibly
// before it; x86 instructions have no fixed length, so the ones before an address are
// found by decoding from a little further back and keeping a decoding that lands on
// the address itself. Where memory cannot be read, placeholder entries keep the count.
import { Source } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as path from 'node:path';
import type { Gdb } from '../mi/gdb.js';
import type { MiInstruction } from '../mi/mi-records.js';

/** the longest x86 instruction */
const MAX_INSN = 15n;

export async function disassemble(gdb: Gdb, args: DebugProtocol.DisassembleArguments): Promise<DebugProtocol.DisassembledInstruction[]> {
  const base = BigInt(args.memoryReference) + BigInt(args.offset ?? 0);
  const skip = args.instructionOffset ?? 0;
  const count = args.instructionCount;
  const out: DebugProtocol.DisassembledInstruction[] = [];
  if (skip < 0) {
    const before = await instructionsBefore(gdb, base, -skip);
    const lowest = before.length ? BigInt(before[0].address) : base;
    for (let i = before.length; i < -skip; i++) out.push(invalid(lowest - BigInt(-skip - i)));
    out.push(...before.map(toDap));
  }
  const forwardSkip = Math.max(0, skip);
  const need = count - out.length;
  if (need > 0) {
    const after = await instructionsFrom(gdb, base, forwardSkip + need);
    const wanted = after.slice(forwardSkip, forwardSkip + need);
    out.push(...wanted.map(toDap));
    let next = wanted.length ? BigInt(wanted[wanted.length - 1].address) + 1n : base;
    while (out.length < count) out.push(invalid(next++));
  }
  return out.slice(0, count);
}

/** Up to N instructions from ADDR on. */
async function instructionsFrom(gdb: Gdb, addr: bigint, n: number): Promise<MiInstruction[]> {
  try {
    return (await gdb.disassemble(addr, addr + BigInt(n) * MAX_INSN)).filter((i) => BigInt(i.address) >= addr).slice(0, n);
  } catch {
    return [];
  }
}

/** The N instructions that end at ADDR, from a decoding that lands on ADDR exactly. */
async function instructionsBefore(gdb: Gdb, addr: bigint, n: number): Promise<MiInstruction[]> {
  const span = BigInt(n) * MAX_INSN;
  for (let shift = 0n; shift < MAX_INSN; shift++) {
    const start = addr > span + shift ? addr - span - shift : 0n;
    let insns: MiInstruction[];
    try {
      insns = await gdb.disassemble(start, addr);
    } catch {
      continue;
    }
    const last = insns[insns.length - 1];
    if (last && BigInt(last.address) + byteLength(last) === addr) return insns.slice(-n);
  }
  return [];
}

function byteLength(i: MiInstruction): bigint {
  return BigInt(i.opcodes ? i.opcodes.trim().split(/\s+/).length : 1);
}

function toDap(i: MiInstruction): DebugProtocol.DisassembledInstruction {
  const d: DebugProtocol.DisassembledInstruction = {
    address: i.address,
    instruction: i.inst,
    instructionBytes: i.opcodes,
    symbol: i.funcName !== undefined ? `${i.funcName}+${i.offset ?? 0}` : undefined,
  };
  if (i.fullname) {
    d.location = new Source(path.basename(i.fullname), i.fullname);
    d.line = i.line;
  }
  return d;
}

function invalid(addr: bigint): DebugProtocol.DisassembledInstruction {
  return { address: `0x${addr.toString(16)}`, instruction: '??', presentationHint: 'invalid' };
}
