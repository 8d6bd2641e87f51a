// The in-process filter of a replay (docs/preemption.md): the code at a named
// point's pc jumps to a stub that compares, at native speed, the registers and the
// values of the loop's memory operands (loop-operands.ts) with the recorded ones,
// and traps (int3) only when all are equal; the tracer then decides with the
// exact-state hash (addon/replay_points.cc). A miss runs the displaced instructions
// (relocated) and jumps back. So finding the point costs a few instructions per
// arrival instead of a ptrace stop per arrival. Pure: no process is touched here.
//
// The stub touches no stack (so no red zone to respect, and the state hash sees
// memory exactly as the program left it): it keeps rax and the arithmetic flags in
// its own data page (lahf + seto; restored by `add al,0x7f` + sahf, which rebuilds
// OF from seto's byte). Its page pair (code, then data) is mapped by the caller
// within a rel32 jump of pc, and is left out of the state hash.
//
//   mov [save_rax],rax; lahf; seto al; mov [save_flags],ax; inc qword [arrivals]
//   cmp ax,[rec_flags]; jne miss
//   mov rax,[save_rax]; cmp rax,[rec_rax]; jne miss
//   cmp rbx,[rec_rbx]; jne miss ... (the 15 other general registers)
//   mov al/ax/eax/rax,[operand]; cmp al..,[rec_value]; jne miss   (each loop value)
//   <restore rax and flags>; int3            ; a candidate: the tracer decides
// miss:
//   <restore rax and flags>
//   <the displaced instructions, relocated>; jmp pc+displaced
//
// With a key register (filter-key.ts), the stub starts with a check that leaves the
// flags alone, so that the arrivals that cannot be the point cost a few instructions
// (in a hot loop every iteration is an arrival):
//   mov [save_rcx],rcx; [count: mov rcx,[arrivals]; lea rcx,[rcx+1]; mov [arrivals],rcx]
//   mov rcx,-rec_key; lea rcx,[key+rcx]; jrcxz equal; mov rcx,[save_rcx]; jmp moved
//   equal: mov rcx,[save_rcx]; <the comparison above, without its inc>
// (key rcx: lea rcx,[rcx-rec]; jrcxz equal; lea rcx,[rcx+rec]; jmp moved; equal: lea
// rcx,[rcx+rec]: nothing saved). A replay that needs no count of arrivals
// (countArrivals false: replay --check) leaves the count out, a store per arrival.
//
// Where the arithmetic flags are dead at pc (dead-flags.ts) and no count is kept, the
// key is checked with the flags instead, and a miss falls straight into the moved
// instructions (in a hot loop the check above cost ~1.3x the loop, this ~1.05x):
//   cmp key,[rec_key]; je equal; <the displaced instructions>; jmp pc+displaced
//   equal: <the comparison above, without the flags'>; int3
//   miss: <restore rax and flags>; jmp <the displaced instructions>
// The flags at a candidate are then the check's: the tracer gives the point the
// recorded ones, which the code from pc on overwrites before it reads any.
//
// Where the loop around pc also has a counter (loop-laps.ts: a register stepped by a
// constant once a time round), the stub starts with a check of the counter's range and
// runs the loop unrolled in its own copy while the point cannot be among the next laps;
// the exact check above takes over within them (the data page holds the bounds).
//
// The displaced window and its relocation are src/arch/displaced-code.ts, shared
// with the hit counter: whole instructions covering 5 bytes, no call, return,
// syscall or instruction the replay emulates by its address, no branch into the
// window from the code around; iced-x86's BlockEncoder moves them.
import { BlockEncoder, BlockEncoderOptions, Code, Decoder, DecoderOptions, Instruction, MemoryOperand, Mnemonic, Register } from 'iced-x86';
import { branchesInto, displacedAt, displacedLength, jumpPatch, StubAddresses } from '../arch/displaced-code.js';
import { getReg, type UserReg } from '../arch/registers.js';
import type { LoopValue } from './loop-operands.js';
import { lapBounds, lapsPrefix, loopLaps, type LoopLaps } from './loop-laps.js';

/** the filter's pages: code, then data */
export const FILTER_SIZE = 8192n;
const DATA = 4096n;
/**
 * Where in the pages the filter counts every arrival at pc (a u64, zero in the
 * image): a debug run that finds the point itself names it by its arrival count
 * (addon/debugger_point.cc).
 */
export const FILTER_ARRIVALS = FILTER_SIZE - 8n;
/** where the key's check keeps rcx */
const SAVE_RCX = FILTER_SIZE - 16n;
/** the laps' bounds of the counter (loop-laps.ts: lapBounds) */
const LAPS_LO = FILTER_SIZE - 32n, LAPS_HI = FILTER_SIZE - 24n;

/** What a filter does besides finding candidates. */
export interface FilterOptions {
  /** count every arrival at FILTER_ARRIVALS (the debugger names points by the count) */
  countArrivals: boolean;
  /** the register compared first, flags untouched (filter-key.ts); rcx only when filterKey allows it */
  key?: UserReg;
  /** the arithmetic flags are dead at pc (dead-flags.ts): the key may be compared with them */
  flagsDead?: boolean;
  /** run the loop around pc as laps where it can (loop-laps.ts; only with the dead flags' key) */
  laps?: boolean;
}

export interface FilterPlan {
  /** where the pages are mapped */
  base: bigint;
  /** both pages' bytes (code at base, data at base + 4096) */
  image: Buffer;
  /** written at pc: a jump to the stub, then int3 fill over the rest of the window */
  patch: Buffer;
  /** the program's bytes the patch covers, as they were planned from */
  original: Buffer;
  /** rip after the int3 of a candidate */
  trapAfter: bigint;
  /** where a rejected candidate goes on (rax and flags restored, then the displaced code) */
  miss: bigint;
  /** the key was compared with the flags (dead at pc): a candidate's arithmetic flags are the filter's */
  flagsDead: boolean;
  /** the loop runs as laps: its counter's bounds go in the data page (filterData) */
  laps?: LoopLaps;
}

export type FilterRefusal = { refused: string };

/** The general registers the stub compares besides rax, with their user_regs_struct names. */
const COMPARED: [Register, UserReg][] = [
  [Register.RBX, 'rbx'], [Register.RCX, 'rcx'], [Register.RDX, 'rdx'], [Register.RSI, 'rsi'], [Register.RDI, 'rdi'],
  [Register.RBP, 'rbp'], [Register.RSP, 'rsp'], [Register.R8, 'r8'], [Register.R9, 'r9'], [Register.R10, 'r10'],
  [Register.R11, 'r11'], [Register.R12, 'r12'], [Register.R13, 'r13'], [Register.R14, 'r14'], [Register.R15, 'r15'],
];

const GPR_OF = new Map<UserReg, Register>([
  ['rax', Register.RAX], ...COMPARED.map(([reg, name]): [UserReg, Register] => [name, reg]),
]);

/** [rip + (addr - next ip)], given by its absolute address (the encoder resolves it); the operand's size is in the Code */
function ripMem(addr: bigint): MemoryOperand {
  return MemoryOperand.new64(Register.RIP, Register.None, 1, addr, 8, false, Register.None);
}

/**
 * The filter for a point at pc, its pages at `base`: `code` holds the program's
 * bytes at pc (32 or more), `around` the code near it (at address aroundAt) to
 * check that no branch lands inside the patch.
 */
export function planFilter(base: bigint, pc: bigint, code: Uint8Array, around: { at: bigint; bytes: Uint8Array }, regs: Buffer, values: LoopValue[], options: FilterOptions = { countArrivals: true }): FilterPlan | FilterRefusal {
  const moved = displacedAt(code, pc);
  if ('refused' in moved) return moved;
  const window = displacedLength(moved);
  const into = branchesInto(around.bytes, around.at, pc, window);
  if (into.length) {
    for (const i of moved) i.free();
    return { refused: `a branch at 0x${into[0].toString(16)} lands inside the patch` };
  }
  const data = base + DATA;
  const saveRax = data, saveFlags = data + 8n, recFlags = data + 16n, recRax = data + 24n, recRegs = data + 32n;
  const recValues = recRegs + 8n * BigInt(COMPARED.length + 1);
  // the key compared with the flags: only without a count, whose store would cost what it saves
  const flagsKey = options.key !== undefined && !!options.flagsDead && !options.countArrivals;
  const laps = flagsKey && options.laps ? loopLaps(around, pc, window) : undefined;
  const dataBytes = filterData(regs, values, laps);

  // Every instruction of the stub, the moved ones too, has a made-up address
  // (src/arch/displaced-code.ts): a loop of five bytes or fewer back to pc goes
  // through the filter at every arrival, not round the moved copy.
  const addresses = new StubAddresses();
  const own = <T extends Instruction>(i: T) => addresses.own(i);
  const restore = () => [
    own(Instruction.createRegMem(Code.Mov_r16_rm16, Register.AX, ripMem(saveFlags))),
    own(Instruction.createRegI32(Code.Add_rm8_imm8, Register.AL, 0x7f)),
    own(Instruction.create(Code.Sahf)),
    own(Instruction.createRegMem(Code.Mov_r64_rm64, Register.RAX, ripMem(saveRax))),
  ];
  const missList = restore();
  const missAt = missList[0].ip;
  const jne = () => own(Instruction.createBranch(Code.Jne_rel32_64, missAt));
  // the moved instructions' first address, known before they are owned
  const keyCheck = options.key && !flagsKey ? keyPrefix(options.key, getReg(regs, options.key), base, options.countArrivals, own) : undefined;
  const compare: Instruction[] = [
    own(Instruction.createMemReg(Code.Mov_rm64_r64, ripMem(saveRax), Register.RAX)),
    own(Instruction.create(Code.Lahf)),
    own(Instruction.createReg(Code.Seto_rm8, Register.AL)),
    own(Instruction.createMemReg(Code.Mov_rm16_r16, ripMem(saveFlags), Register.AX)),
    // one more arrival at pc (the flags are saved: inc may change them), unless the key's check counted it
    ...(options.countArrivals && !keyCheck ? [own(Instruction.createMem(Code.Inc_rm64, ripMem(base + FILTER_ARRIVALS)))] : []),
    // (flags the key's cmp set are not the program's: left to the tracer)
    ...(flagsKey ? [] : [own(Instruction.createRegMem(Code.Cmp_r16_rm16, Register.AX, ripMem(recFlags))), jne()]),
    own(Instruction.createRegMem(Code.Mov_r64_rm64, Register.RAX, ripMem(saveRax))),
    own(Instruction.createRegMem(Code.Cmp_r64_rm64, Register.RAX, ripMem(recRax))), jne(),
  ];
  COMPARED.forEach(([reg], i) => {
    compare.push(own(Instruction.createRegMem(Code.Cmp_r64_rm64, reg, ripMem(recRegs + 8n * BigInt(i)))), jne());
  });
  const acc: Record<number, [Register, Code, Code]> = {
    1: [Register.AL, Code.Mov_r8_rm8, Code.Cmp_r8_rm8], 2: [Register.AX, Code.Mov_r16_rm16, Code.Cmp_r16_rm16],
    4: [Register.EAX, Code.Mov_r32_rm32, Code.Cmp_r32_rm32], 8: [Register.RAX, Code.Mov_r64_rm64, Code.Cmp_r64_rm64],
  };
  values.forEach((v, k) => {
    const [a, mov, cmp] = acc[v.size];
    const far = v.addr - base + 0x7fff0000n > 0xffff0000n;  // out of a rip-relative operand's reach: through rax
    if (far) {
      compare.push(own(Instruction.createRegU64(Code.Mov_r64_imm64, Register.RAX, v.addr)));
      compare.push(own(Instruction.createRegMem(mov, a, MemoryOperand.new64(Register.RAX, Register.None, 1, 0n, 0, false, Register.None))));
    } else {
      compare.push(own(Instruction.createRegMem(mov, a, ripMem(v.addr))));
    }
    compare.push(own(Instruction.createRegMem(cmp, a, ripMem(recValues + 8n * BigInt(k)))), jne());
  });
  const trap = own(Instruction.create(Code.Int3));
  for (const i of moved) own(i);
  if (keyCheck) keyCheck.toMoved.nearBranch64 = moved[0].ip;
  const back = own(Instruction.createBranch(Code.Jmp_rel32_64, pc + BigInt(window)));
  let list: Instruction[];
  if (flagsKey) {
    const keyReg = GPR_OF.get(options.key!)!;
    const recKey = keyReg === Register.RAX ? recRax : recRegs + 8n * BigInt(COMPARED.findIndex(([r]) => r === keyReg));
    list = [
      own(Instruction.createRegMem(Code.Cmp_r64_rm64, keyReg, ripMem(recKey))),
      own(Instruction.createBranch(Code.Je_rel32_64, compare[0].ip)),
      ...moved, back, ...compare, ...restore(), trap, ...missList,
      own(Instruction.createBranch(Code.Jmp_rel32_64, moved[0].ip)),
    ];
    if (laps) list = [...lapsPrefix(laps, around, pc, base + LAPS_LO, base + LAPS_HI, list[0].ip, own), ...list];
  } else {
    list = [...(keyCheck?.list ?? []), ...compare, ...restore(), trap, ...missList, ...moved, back];
  }
  const enc = new BlockEncoder(64, BlockEncoderOptions.None);
  let bytes: Uint8Array;
  try {
    for (const i of list) enc.add(i);
    bytes = enc.encode(base);
  } catch (e) {
    return { refused: `the filter cannot be encoded: ${(e as Error).message ?? String(e)}` };
  } finally {
    enc.free();
    for (const i of list) i.free();
  }
  if (bytes.length > Number(DATA)) return { refused: `the filter takes ${bytes.length} bytes` };
  const trapAt = firstInt3(bytes, base);
  const patch = jumpPatch(pc, base, window);
  if ('refused' in patch) return patch;
  const image = Buffer.concat([Buffer.from(bytes), Buffer.alloc(Number(DATA) - bytes.length, 0xcc), dataBytes]);
  // the miss path starts right after the int3, so a candidate's rip already is `miss`
  return { base, image, patch, original: Buffer.from(code.subarray(0, window)), trapAfter: trapAt + 1n, miss: trapAt + 1n, flagsDead: flagsKey, laps };
}

/**
 * The filter's data page: the recorded flags (as lahf and seto leave them), registers
 * and loop values the stub compares with. With the dead flags' key, the stub's code
 * reads every recorded value from here, so a plan for the same code, place and loop
 * values takes another point's registers with this page alone (plan-cache.ts).
 */
export function filterData(regs: Buffer, values: LoopValue[], laps?: LoopLaps): Buffer {
  const dataBytes = Buffer.alloc(Number(DATA));
  const eflags = getReg(regs, 'eflags');
  // what lahf (AH: SF ZF 0 AF 0 PF 1 CF) and seto (AL: OF) leave in ax
  dataBytes.writeUInt16LE(Number((((eflags & 0xd5n) | 2n) << 8n) | ((eflags >> 11n) & 1n)), 16);
  dataBytes.writeBigUInt64LE(getReg(regs, 'rax'), 24);
  COMPARED.forEach(([, name], i) => dataBytes.writeBigUInt64LE(getReg(regs, name), 32 + 8 * i));
  const recValues = 32 + 8 * (COMPARED.length + 1);
  values.forEach((v, k) => dataBytes.writeBigUInt64LE(v.value, recValues + 8 * k));
  if (laps) {
    const [lo, hi] = lapBounds(laps, getReg(regs, laps.reg));
    dataBytes.writeBigUInt64LE(lo, Number(LAPS_LO - DATA));
    dataBytes.writeBigUInt64LE(hi, Number(LAPS_HI - DATA));
  }
  return dataBytes;
}

/**
 * The key's check at the stub's start: an arrival whose key differs from `recorded`
 * goes to the moved instructions (`toMoved`, whose target the caller sets) with every
 * register and flag as it came; one whose key matches falls through to the full
 * comparison.
 */
function keyPrefix(key: UserReg, recorded: bigint, base: bigint, count: boolean, own: <T extends Instruction>(i: T) => T): { list: Instruction[]; toMoved: Instruction } {
  const keyReg = GPR_OF.get(key)!;
  const rcxMem = (disp: bigint) => MemoryOperand.new64(Register.RCX, Register.None, 1, disp, 1, false, Register.None);
  const save = () => own(Instruction.createMemReg(Code.Mov_rm64_r64, ripMem(base + SAVE_RCX), Register.RCX));
  const reload = () => own(Instruction.createRegMem(Code.Mov_r64_rm64, Register.RCX, ripMem(base + SAVE_RCX)));
  const rec = BigInt.asIntN(64, recorded);
  const list: Instruction[] = [];
  const saved = keyReg !== Register.RCX || count;
  if (saved) list.push(save());
  if (count) {
    list.push(
      own(Instruction.createRegMem(Code.Mov_r64_rm64, Register.RCX, ripMem(base + FILTER_ARRIVALS))),
      own(Instruction.createRegMem(Code.Lea_r64_m, Register.RCX, rcxMem(1n))),
      own(Instruction.createMemReg(Code.Mov_rm64_r64, ripMem(base + FILTER_ARRIVALS), Register.RCX)),
    );
    if (keyReg === Register.RCX) list.push(reload());
  }
  if (keyReg === Register.RCX) {
    list.push(own(Instruction.createRegMem(Code.Lea_r64_m, Register.RCX, rcxMem(-rec))));
  } else {
    list.push(
      own(Instruction.createRegU64(Code.Mov_r64_imm64, Register.RCX, BigInt.asUintN(64, -rec))),
      own(Instruction.createRegMem(Code.Lea_r64_m, Register.RCX, MemoryOperand.new64(keyReg, Register.RCX, 1, 0n, 0, false, Register.None))),
    );
  }
  // rcx is back as the program had it on both ways out: reloaded, or the lea undone
  const back = () => (saved ? reload() : own(Instruction.createRegMem(Code.Lea_r64_m, Register.RCX, rcxMem(rec))));
  const jrcxz = own(Instruction.createBranch(Code.Jrcxz_rel8_64, 0n));
  const missBack = back();
  const toMoved = own(Instruction.createBranch(Code.Jmp_rel32_64, 0n));
  const equalBack = back();
  jrcxz.nearBranch64 = equalBack.ip;
  list.push(jrcxz, missBack, toMoved, equalBack);
  return { list, toMoved };
}

/** The address of the stub's int3 (the encoder chose the branches' sizes; none of the moved instructions is one). */
function firstInt3(bytes: Uint8Array, at: bigint): bigint {
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  decoder.ip = at;
  const insn = new Instruction();
  try {
    while (decoder.canDecode) {
      decoder.decodeOut(insn);
      if (insn.mnemonic === Mnemonic.Int3) return insn.ip;
    }
  } finally {
    insn.free();
    decoder.free();
  }
  throw new Error('the filter has no int3');
}
