// The filter's key (src/points/filter-key.ts): which register the replay's filter
// compares first, and the check itself decoded back with iced-x86: it leaves the
// flags alone, gives rcx back on both ways out, sends a miss to the moved
// instructions, and counts each arrival once when asked. Running the filter for real
// is tests/integration/threads-preempt.test.ts and async-signals.test.ts.
import { FlowControl, Instruction, Mnemonic, Register } from 'iced-x86';
import { decodeAll } from '../x86-decode.js';
import { describe, expect, it } from 'vitest';
import { USER_REGS_SIZE, setReg, type UserReg } from '../../src/arch/registers.js';
import { FILTER_ARRIVALS, planFilter, type FilterPlan } from '../../src/points/filter-stub.js';
import { filterKey } from '../../src/points/filter-key.js';
import { loopWrittenRegisters } from '../../src/points/loop-operands.js';

// bench/programs/threads_cpu.c's loop, as gcc -O2 builds it:
//   head: imul rax,r8; add rdx,1; add rax,rsi; cmp rdx,rcx; jne head
//         lea rdx,[rip+...]; mov [rdx+rdi*8],rax; xor eax,eax; ret
const HEAD = 0x555555555320n;
const LOOP = Buffer.from('490fafc04883c2014801f04839ca75f0488d15492d0000488904fa31c0c3', 'hex');
const PC = HEAD + 4n; // the add to the counter, where the recorder preempted the thread

function regsOf(values: Partial<Record<UserReg, bigint>>): Buffer {
  const r = Buffer.alloc(USER_REGS_SIZE);
  setReg(r, 'rip', PC);
  setReg(r, 'eflags', 0x246n);
  for (const [k, v] of Object.entries(values)) setReg(r, k as UserReg, v);
  return r;
}

describe('the key of a filter', () => {
  const invariant = { rcx: 1000000000n, rsi: 0x14057b7ef767814fn, r8: 0x5851f42d4c957f2dn };
  const recorded = regsOf({ ...invariant, rax: 0x1234n, rdx: 500n });

  it('the registers the loop writes are its accumulator and counter, not its bounds', () => {
    const written = loopWrittenRegisters({ at: HEAD, bytes: LOOP }, PC);
    expect(written).toContain('rax');
    expect(written).toContain('rdx');
    expect(written).not.toContain('rcx');
    expect(written).not.toContain('rsi');
    expect(written).not.toContain('r8');
  });

  it('a register the loop writes and that differs from where the thread stands comes first', () => {
    // a thread preempted earlier in the same loop: only the accumulator and the counter differ
    const now = regsOf({ ...invariant, rax: 0x99n, rdx: 100n });
    expect(filterKey(recorded, now, ['rax', 'rdx'])).toBe('rax');
    // the accumulator happens to be equal: the counter
    expect(filterKey(recorded, regsOf({ ...invariant, rax: 0x1234n, rdx: 100n }), ['rax', 'rdx'])).toBe('rdx');
    // nothing the loop writes differs: one it writes all the same
    expect(filterKey(recorded, recorded, ['rdx'])).toBe('rdx');
    // no loop seen: a register that differs; none at all: no key
    expect(filterKey(recorded, regsOf({ ...invariant, rax: 0x1234n, rdx: 500n, r9: 1n }), [])).toBe('r9');
    expect(filterKey(recorded, recorded, [])).toBeUndefined();
  });

  it('rcx is a key only when its recorded value fits a displacement (jrcxz tests rcx: no scratch for it)', () => {
    const now = regsOf({});
    expect(filterKey(regsOf({ rcx: 5n }), now, ['rcx'])).toBe('rcx');
    expect(filterKey(regsOf({ rcx: 2n ** 40n, rdx: 3n }), now, ['rcx', 'rdx'])).toBe('rdx');
  });
});

describe("the key's check in the filter", () => {
  const base = HEAD - 0x10000n;
  const regs = regsOf({ rax: 0x1234567890n, rdx: 77n, rcx: 5n });
  const plan = (key: UserReg | undefined, countArrivals: boolean) =>
    planFilter(base, PC, LOOP.subarray(Number(PC - HEAD)), { at: HEAD, bytes: LOOP }, regs, [], { countArrivals, key }) as FilterPlan;
  /** the stub's code up to its int3, and the check before the full comparison (which starts by saving rax) */
  const parts = (p: FilterPlan) => {
    const code = decodeAll(p.image.subarray(0, 4096), base).filter((i) => i.ip < p.trapAfter);
    const full = code.findIndex((i) => i.mnemonic === Mnemonic.Mov && i.op1Register === Register.RAX);
    return { code, check: code.slice(0, full) };
  };
  const writesArrivals = (code: Instruction[]) => code.filter((i) => i.isIpRelMemoryOperand && i.ipRelMemoryAddress === base + FILTER_ARRIVALS
    && (i.mnemonic === Mnemonic.Inc || (i.mnemonic === Mnemonic.Mov && i.op0Kind !== 0 /* register */)));

  for (const [key, countArrivals] of [['rax', false], ['rax', true], ['rcx', false], ['rcx', true], ['rbp', false]] as [UserReg, boolean][]) {
    it(`key ${key}${countArrivals ? ', counting arrivals' : ''}: no flag changes, rcx back on both ways, a miss goes to the moved instructions`, () => {
      const p = plan(key, countArrivals);
      expect('refused' in p).toBe(false);
      const { check } = parts(p);
      expect(check.length).toBeGreaterThan(0);
      for (const i of check) expect(i.rflagsModified, `${i.mnemonic} in the key's check`).toBe(0);
      const jrcxz = check.find((i) => i.mnemonic === Mnemonic.Jrcxz)!;
      expect(jrcxz).toBeDefined();
      const at = (ip: bigint) => check.findIndex((i) => i.ip === ip);
      const after = check.indexOf(jrcxz) + 1;
      // both ways out start by giving rcx back: the same instruction (a reload, or the lea undone)
      const restoreOf = (i: Instruction) => [i.mnemonic, i.op0Register, i.isIpRelMemoryOperand ? i.ipRelMemoryAddress : i.memoryDisplacement].join();
      expect(check[after].op0Register).toBe(Register.RCX);
      expect(restoreOf(check[at(jrcxz.nearBranchTarget)])).toBe(restoreOf(check[after]));
      // the miss: rcx back, then the jump to the moved instructions (the window's add, then the jump back past it)
      const toMoved = check[after + 1];
      expect(toMoved.flowControl).toBe(FlowControl.UnconditionalBranch);
      const moved = decodeAll(p.image.subarray(Number(toMoved.nearBranchTarget - base), 4096), toMoved.nearBranchTarget);
      expect(moved[0].mnemonic).toBe(Mnemonic.Add);
      expect(moved[0].op0Register).toBe(Register.RDX);
      expect(moved.find((i) => i.flowControl === FlowControl.UnconditionalBranch)?.nearBranchTarget).toBe(PC + 7n);
    });
  }

  it('each arrival is counted once when asked, and not at all when not', () => {
    for (const key of ['rax', 'rcx', undefined] as const) {
      expect(writesArrivals(parts(plan(key, true)).code).length, `key ${key}`).toBe(1);
      expect(writesArrivals(parts(plan(key, false)).code).length, `key ${key}`).toBe(0);
    }
  });

  it('rcx with no count needs no scratch: the check is lea, jrcxz, and the lea undone', () => {
    const { check } = parts(plan('rcx', false));
    expect(check.some((i) => i.isIpRelMemoryOperand)).toBe(false);
    expect(check[0].mnemonic).toBe(Mnemonic.Lea);
    expect(BigInt.asIntN(64, check[0].memoryDisplacement)).toBe(-5n);
  });

  it('no key: the full comparison alone, as before', () => {
    const { check } = parts(plan(undefined, true));
    expect(check).toEqual([]);
  });
});
