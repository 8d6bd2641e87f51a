// Dead flags at a point's pc (src/points/dead-flags.ts) and the filter that checks
// its key with them (src/points/filter-stub.ts): which code lets the flags go, and the
// stub decoded back with iced-x86 (a cmp of the key with its recorded value, a miss
// falling into the moved instructions, the full comparison without the flags', and the
// count of arrivals keeping the flag-free check), and such plans kept from one point
// to the next (src/points/plan-cache.ts). Running it for real is
// tests/integration/threads-preempt.test.ts (replay --check of preempted loops).
import { FlowControl, Mnemonic, Register } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { USER_REGS_SIZE, setReg } from '../../src/arch/registers.js';
import { flagsDeadAt } from '../../src/points/dead-flags.js';
import { planFilter, type FilterPlan } from '../../src/points/filter-stub.js';
import { codeFacts, keepPlan, keptPlan } from '../../src/points/plan-cache.js';
import { decodeAll } from '../x86-decode.js';

// bench/programs/threads_cpu.c's loop (tests/unit/filter-key.test.ts):
//   head: imul rax,r8; add rdx,1; add rax,rsi; cmp rdx,rcx; jne head; lea rdx,[rip+...]; ...
const HEAD = 0x555555555320n;
const LOOP = Buffer.from('490fafc04883c2014801f04839ca75f0488d15492d0000488904fa31c0c3', 'hex');
const at = (offset: number) => ({ code: LOOP.subarray(offset), pc: HEAD + BigInt(offset) });

describe('dead flags', () => {
  it('the add after the imul writes them all before the jne reads them', () => {
    const { code, pc } = at(4);
    expect(flagsDeadAt(code, pc)).toBe(true);
    expect(flagsDeadAt(at(0).code, HEAD)).toBe(true); // imul leaves some undefined; the add writes them
  });

  it('the jne reads them: live there', () => {
    const { code, pc } = at(14);
    expect(flagsDeadAt(code, pc)).toBe(false);
  });

  it('read before written (adc), written by a shift by cl, or a branch first: live', () => {
    // adc rax,rbx; add rax,1
    expect(flagsDeadAt(Buffer.from('4811d84883c001', 'hex'), 0x1000n)).toBe(false);
    // shl rax,cl; jz +0
    expect(flagsDeadAt(Buffer.from('48d3e07400', 'hex'), 0x1000n)).toBe(false);
    // inc rax (CF kept); jc +0
    expect(flagsDeadAt(Buffer.from('48ffc07200', 'hex'), 0x1000n)).toBe(false);
    // jmp +0; add rax,1
    expect(flagsDeadAt(Buffer.from('eb004883c001', 'hex'), 0x1000n)).toBe(false);
    // inc rax; add rax,1: the inc leaves CF, the add writes it
    expect(flagsDeadAt(Buffer.from('48ffc04883c001', 'hex'), 0x1000n)).toBe(true);
  });
});

describe('the filter whose key is compared with dead flags', () => {
  const base = HEAD - 0x10000n;
  const pc = HEAD + 4n;
  const regs = Buffer.alloc(USER_REGS_SIZE);
  setReg(regs, 'rip', pc);
  setReg(regs, 'eflags', 0x246n);
  setReg(regs, 'rax', 0x1234567890n);
  setReg(regs, 'rdx', 77n);
  const plan = (countArrivals: boolean, flagsDead: boolean) =>
    planFilter(base, pc, LOOP.subarray(4), { at: HEAD, bytes: LOOP }, regs, [], { countArrivals, key: 'rax', flagsDead }) as FilterPlan;

  it('cmp rax with its recorded value, je to the full comparison, else the moved instructions and the jump back', () => {
    const p = plan(false, true);
    expect('refused' in p).toBe(false);
    expect(p.flagsDead).toBe(true);
    const code = decodeAll(p.image.subarray(0, 4096), base);
    expect(code[0].mnemonic).toBe(Mnemonic.Cmp);
    expect(code[0].op0Register).toBe(Register.RAX);
    expect(p.image.readBigUInt64LE(Number(code[0].ipRelMemoryAddress - base))).toBe(0x1234567890n);
    expect(code[1].mnemonic).toBe(Mnemonic.Je);
    // a miss: straight into the moved add and add, then back past the window
    expect([code[2].mnemonic, code[2].op0Register, code[3].mnemonic, code[3].op0Register]).toEqual([Mnemonic.Add, Register.RDX, Mnemonic.Add, Register.RAX]);
    expect(code[4].flowControl).toBe(FlowControl.UnconditionalBranch);
    expect(code[4].nearBranchTarget).toBe(pc + 7n);
    // equal: the full comparison, which leaves the flags (the cmp's) to the tracer
    const full = code.filter((i) => i.ip >= code[1].nearBranchTarget && i.ip < p.trapAfter);
    expect(full[0].mnemonic).toBe(Mnemonic.Mov);
    expect(full.some((i) => i.mnemonic === Mnemonic.Cmp && i.op0Register === Register.AX)).toBe(false);
    expect(full.some((i) => i.mnemonic === Mnemonic.Cmp && i.op0Register === Register.RDX)).toBe(true);
    // a rejected candidate goes on at `miss`, whose last jump is to the moved instructions
    const missPath = decodeAll(p.image.subarray(Number(p.miss - base), 4096), p.miss);
    expect(missPath.find((i) => i.flowControl === FlowControl.UnconditionalBranch)?.nearBranchTarget).toBe(code[2].ip);
  });

  it('counting arrivals (a debugger) or live flags: the flag-free check, the flags compared', () => {
    for (const p of [plan(true, true), plan(false, false)]) {
      expect(p.flagsDead).toBe(false);
      const code = decodeAll(p.image.subarray(0, 4096), base).filter((i) => i.ip < p.trapAfter);
      expect(code.some((i) => i.mnemonic === Mnemonic.Jrcxz)).toBe(true);
      expect(code.some((i) => i.mnemonic === Mnemonic.Cmp && i.op0Register === Register.AX)).toBe(true);
    }
  });
});

describe('plans kept from one point to the next (src/points/plan-cache.ts)', () => {
  const base = HEAD - 0x20000n;
  const pc = HEAD + 4n;
  const around = { at: HEAD, bytes: LOOP };
  const pointAt = (rax: bigint, rdx: bigint) => {
    const r = Buffer.alloc(USER_REGS_SIZE);
    setReg(r, 'rip', pc);
    setReg(r, 'eflags', 0x202n);
    setReg(r, 'rax', rax);
    setReg(r, 'rdx', rdx);
    return r;
  };
  const fresh = (regs: Buffer, flagsDead: boolean) =>
    planFilter(base, pc, LOOP.subarray(4), around, regs, [], { countArrivals: false, key: 'rax', flagsDead }) as FilterPlan;

  it('a kept plan with another point\'s registers is the plan made for them', () => {
    keepPlan(base, pc, 'rax', around, [], fresh(pointAt(1n, 2n), true));
    const next = pointAt(0xabcdefn, 99n);
    const got = keptPlan(base, pc, 'rax', around, next, []);
    expect(got).toBeDefined();
    const want = fresh(next, true);
    expect(got!.image.equals(want.image)).toBe(true);
    expect(got!.patch.equals(want.patch)).toBe(true);
    expect([got!.trapAfter, got!.miss, got!.flagsDead]).toEqual([want.trapAfter, want.miss, true]);
  });

  it('other code, another place or key, or a plan whose code holds a recorded value: none kept', () => {
    keepPlan(base, pc, 'rax', around, [], fresh(pointAt(1n, 2n), true));
    const changed = Buffer.from(LOOP);
    changed[20] ^= 1;
    expect(keptPlan(base, pc, 'rax', { at: HEAD, bytes: changed }, pointAt(3n, 4n), [])).toBeUndefined();
    expect(keptPlan(base + 0x2000n, pc, 'rax', around, pointAt(3n, 4n), [])).toBeUndefined();
    expect(keptPlan(base, pc, 'rdx', around, pointAt(3n, 4n), [])).toBeUndefined();
    const otherBase = base - 0x4000n;
    keepPlan(otherBase, pc, 'rax', around, [], planFilter(otherBase, pc, LOOP.subarray(4), around, pointAt(1n, 2n), [], { countArrivals: false, key: 'rax' }) as FilterPlan);
    expect(keptPlan(otherBase, pc, 'rax', around, pointAt(3n, 4n), [])).toBeUndefined();
  });

  it('what the code says (the loop\'s written registers, dead flags) is found once per code, again when it changed', () => {
    let found = 0;
    const find = () => {
      found++;
      return { written: ['rax' as const, 'rdx' as const], flagsDead: true };
    };
    const first = codeFacts(pc, around, find);
    expect(codeFacts(pc, { at: HEAD, bytes: Buffer.from(LOOP) }, find)).toBe(first);
    expect(found).toBe(1);
    const changed = Buffer.from(LOOP);
    changed[3] ^= 1;
    codeFacts(pc, { at: HEAD, bytes: changed }, find);
    codeFacts(pc + 4n, around, find);
    expect(found).toBe(3);
  });
});
