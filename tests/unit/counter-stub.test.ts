// The in-process counter's code (src/debug/counter-stub.ts), decoded back with
// iced-x86: the displaced instructions keep their meaning at the stub's address
// (rip-relative operands reach the same data, relative branches the same
// targets), the stub counts without touching the flags, and what cannot move is
// refused with a reason. Running it for real is tests/integration/gdb-counting.test.ts.
import { Code, FlowControl, Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import { decodeAll } from '../x86-decode.js';
import { describe, expect, it } from 'vitest';
import { branchesInto, displacedAt, FP_REGISTERS, JUMP_LENGTH, negatedRegisters, planStub, RED_ZONE, STUB_MAX, type CounterWords, type StubPlan } from '../../src/debug/counter-stub.js';

const PC = 0x555555555190n;
const STUB = 0x555555550000n + 0x1000n;
const WORDS: CounterWords = { count: 0x555555550040n, left: 0x555555550048n, last: 0x555555550050n, seq: 0x555555550000n };

function plan(hex: string, pc = PC, at = STUB): StubPlan {
  const p = planStub(Buffer.from(hex.replace(/ /g, ''), 'hex'), pc, at, WORDS);
  if ('refused' in p) throw new Error(p.refused);
  return p;
}

/** The stub's instructions after its counting part: the relocated ones and the jump back. */
function relocated(p: StubPlan): Instruction[] {
  const all = decodeAll(p.code, p.codeAt);
  const restore = all.findIndex((i) => i.mnemonic === Mnemonic.Lea && i.op0Register === Register.RSP && i.memoryDisplacementU64 === RED_ZONE);
  expect(restore).toBeGreaterThan(0);
  return all.slice(restore + 1);
}

describe('the counting stub', () => {
  it('moves a rip-relative load so that it reads the same address', () => {
    // mov rdx,[rip+0x2e89] (gcc -O0's `g = g * 31 + i`), then mov rax,rdx
    const p = plan('488b15892e0000 4889d0 48c1e005');
    expect(p.displaced).toBe(7);
    const [moved, jumpBack] = relocated(p);
    expect(moved.code).toBe(Code.Mov_r64_rm64);
    expect(moved.isIpRelMemoryOperand).toBe(true);
    expect(moved.ipRelMemoryAddress).toBe(PC + 7n + 0x2e89n);
    expect(jumpBack.flowControl).toBe(FlowControl.UnconditionalBranch);
    expect(jumpBack.nearBranchTarget).toBe(PC + 7n);
    // the patch: a jump to the stub, int3 over the rest of the displaced bytes
    const [jump] = decodeAll(p.patch, PC);
    expect(jump.code).toBe(Code.Jmp_rel32_64);
    expect(jump.nearBranchTarget).toBe(STUB);
    expect([...p.patch.subarray(JUMP_LENGTH)]).toEqual([0xcc, 0xcc]);
  });

  it('moves a short conditional branch and what follows it to the same targets', () => {
    // jz +8 (over the add), add qword [rip+0x100],1: ten bytes displaced
    const p = plan('7408 48830500010000 01 90');
    expect(p.displaced).toBe(10);
    const [jz, add, jumpBack] = relocated(p);
    expect(jz.mnemonic).toBe(Mnemonic.Je);
    expect(jz.nearBranchTarget).toBe(PC + 2n + 8n);
    expect(add.ipRelMemoryAddress).toBe(PC + 10n + 0x100n);
    expect(jumpBack.nearBranchTarget).toBe(PC + 10n);
  });

  it('a loop of five bytes back to pc goes through the stub at every iteration, not round the moved copy', () => {
    // pc: add eax,1; jne pc (the whole loop is displaced), then ret
    const p = plan('83c001 75fb c3');
    expect(p.displaced).toBe(5);
    const [add, jne, jumpBack] = relocated(p);
    expect(add.mnemonic).toBe(Mnemonic.Add);
    expect(jne.mnemonic).toBe(Mnemonic.Jne);
    // back to the program's pc, whose patch jumps to the stub's counting: not to the moved add
    expect(jne.nearBranchTarget).toBe(PC);
    expect(jne.nearBranchTarget).not.toBe(add.ip);
    expect(jumpBack.nearBranchTarget).toBe(PC + 5n);
  });

  it('counts with lea and jrcxz only, and traps with the int3 it names', () => {
    const p = plan('488b15892e0000');
    const all = decodeAll(p.code, p.codeAt);
    const counting = all.slice(0, all.findIndex((i) => i.mnemonic === Mnemonic.Mov && i.isIpRelMemoryOperand && i.ipRelMemoryAddress === PC + 7n + 0x2e89n));
    // no instruction before the displaced ones writes the flags (the program's may be live)
    for (const i of counting) expect([Mnemonic.Lea, Mnemonic.Push, Mnemonic.Pop, Mnemonic.Mov, Mnemonic.Jrcxz], Mnemonic[i.mnemonic]).toContain(i.mnemonic);
    expect(counting[0].memoryDisplacementU64).toBe(-RED_ZONE & 0xffffffffffffffffn);
    const stores = counting.filter((i) => i.op0Kind === OpKind.Memory).map((i) => (i.isIpRelMemoryOperand ? i.ipRelMemoryAddress : i.memoryDisplacementU64));
    expect(stores).toEqual([WORDS.count, WORDS.left, WORDS.seq, WORDS.last]);
    const last = all[all.length - 1];
    expect(last.mnemonic).toBe(Mnemonic.Int3);
    expect(p.trapAt).toBe(last.ip);
    const jrcxz = counting.find((i) => i.mnemonic === Mnemonic.Jrcxz)!;
    expect(jrcxz.nearBranchTarget).toBe(p.trapAt);
  });

  it('refuses what cannot move, and says why', () => {
    const why = (hex: string) => {
      const r = planStub(Buffer.from(hex, 'hex'), PC, STUB, WORDS);
      return 'refused' in r ? r.refused : 'planned';
    };
    expect(why('e800000000')).toMatch(/call/); // the return address would be the stub's
    expect(why('0f05909090')).toMatch(/syscall/);
    expect(why('0f31909090')).toMatch(/rdtsc/);
    expect(why('0fa2909090')).toMatch(/cpuid/);
    expect(why('0f0b909090')).toMatch(/ud2/); // a patched cpuid
    expect(why('c3909090909090')).toMatch(/ret/);
    expect(why('eb00909090')).toMatch(/jump ends/);
    expect(why('9090')).toMatch(/code ends/);
    // out of a rel32's reach
    expect(why('488b15892e0000'.padEnd(40, '90'))).toBe('planned');
    const far = planStub(Buffer.from('488b15892e0000', 'hex'), PC, PC + 2n ** 32n, WORDS);
    expect('refused' in far && far.refused).toMatch(/reach/);
    expect('refused' in displacedAt(Buffer.from('48', 'hex'), PC)).toBe(true);
  });

  it('with a fingerprint target, compares its registers flag-free and traps only past the last', () => {
    const negatedAt = 0x555555550800n;
    const p = planStub(Buffer.from('488b15892e0000', 'hex'), PC, STUB, WORDS, { negatedAt }, 3 * STUB_MAX);
    if ('refused' in p) throw new Error(p.refused);
    const all = decodeAll(p.code, p.codeAt);
    const at = (ip: bigint) => all.findIndex((i) => i.ip === ip);
    // after counting, a jump to the comparisons; the counting goes on at the load of `left`
    const toCompare = all[at(all.find((i) => i.isIpRelMemoryOperand && i.ipRelMemoryAddress === WORDS.count && i.op0Kind === OpKind.Memory)!.ip) + 1];
    expect(toCompare.mnemonic).toBe(Mnemonic.Jmp);
    const back = all.find((i) => i.isIpRelMemoryOperand && i.ipRelMemoryAddress === WORDS.left && i.op0Kind === OpKind.Register)!;
    const compare = all.slice(at(toCompare.nearBranchTarget));
    expect(p.fpTrapAt).toBeDefined();
    expect(all[at(p.trapAt)].mnemonic).toBe(Mnemonic.Int3);
    expect(p.trapAt).toBeLessThan(toCompare.nearBranchTarget);
    // per register: rcx = minus the expected value, rcx += the register, equal (jrcxz) goes on, else back
    const regs: Register[] = [];
    for (let k = 0; k < FP_REGISTERS.length; k++) {
      const [load, lea, jrcxz, jmp] = compare.slice(4 * k, 4 * k + 4);
      expect(load.ipRelMemoryAddress).toBe(negatedAt + BigInt(k) * 8n);
      expect(lea.mnemonic).toBe(Mnemonic.Lea);
      regs.push(lea.memoryBase === Register.RSP ? Register.RSP : lea.memoryIndex);
      if (lea.memoryBase === Register.RSP) expect(lea.memoryDisplacementU64).toBe(RED_ZONE + 8n); // the program's rsp, above the stub's frame
      expect(jrcxz.mnemonic).toBe(Mnemonic.Jrcxz);
      expect(jrcxz.nearBranchTarget).toBe(compare[4 * k + 4].ip);
      expect(jmp.nearBranchTarget).toBe(back.ip);
    }
    expect(regs).toEqual(FP_REGISTERS.map(([r]) => r));
    const [trap, resume] = compare.slice(4 * FP_REGISTERS.length);
    expect(trap.ip).toBe(p.fpTrapAt);
    expect(trap.mnemonic).toBe(Mnemonic.Int3);
    expect(resume.nearBranchTarget).toBe(back.ip); // a false match goes on counting
    for (const i of compare) expect([Mnemonic.Lea, Mnemonic.Mov, Mnemonic.Jrcxz, Mnemonic.Jmp, Mnemonic.Int3]).toContain(i.mnemonic);
    // the expected words: minus each register of the fingerprint
    const fp = Buffer.alloc(280);
    FP_REGISTERS.forEach(([, off], k) => fp.writeBigUInt64LE(BigInt(k + 1) * 0x1000n, off));
    const neg = negatedRegisters(fp);
    FP_REGISTERS.forEach((_, k) => expect(BigInt.asIntN(64, neg.readBigUInt64LE(k * 8))).toBe(-BigInt(k + 1) * 0x1000n));
  });

  it('finds a branch that lands inside the displaced bytes', () => {
    // at PC-4: jmp to PC+3; at PC: three nops, then more
    const bytes = Buffer.from('eb059090909090909090909090', 'hex');
    const at = PC - 4n;
    expect(branchesInto(bytes, at, PC, 5)).toEqual([at]); // eb 05 at PC-4 lands at PC+3
    expect(branchesInto(bytes, at, PC + 4n, 5)).toEqual([]);
  });
});
