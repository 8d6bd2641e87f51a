// The filter's laps (src/points/loop-laps.ts): which loops run as laps and with which
// counter, the bounds of the counter from which the next laps may hold the point (a
// range that wraps is never skipped), and the filter decoded back with iced-x86: the
// check of the counter at its start, the laps with their closing branches inverted to
// the loop's exit, the way back to the check, the exact check inside the bounds; a
// kept plan takes another point's bounds with its data page. Running it for real is
// tests/integration/filter-laps.test.ts (replay --check of preempted loops).
import { FlowControl, Mnemonic, Register } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { USER_REGS_SIZE, setReg } from '../../src/arch/registers.js';
import { planFilter, type FilterPlan } from '../../src/points/filter-stub.js';
import { lapBounds, loopLaps } from '../../src/points/loop-laps.js';
import { keepPlan, keptPlan } from '../../src/points/plan-cache.js';
import { decodeAll } from '../x86-decode.js';

// bench/programs/threads_cpu.c's loop (tests/unit/dead-flags.test.ts):
//   head: imul rax,r8; add rdx,1; add rax,rsi; cmp rdx,rcx; jne head; lea rdx,[rip+...]; ...
const HEAD = 0x555555555320n;
const LOOP = Buffer.from('490fafc04883c2014801f04839ca75f0488d15492d0000488904fa31c0c3', 'hex');
const around = { at: HEAD, bytes: LOOP };
const PC = HEAD + 4n;  // the add rdx,1
const EXIT = HEAD + 16n;

/** A loop at HEAD of `body` (hex) closed by a jne back to HEAD (short), then a ret. */
function loopOf(body: string): { at: bigint; bytes: Buffer } {
  const b = Buffer.from(body, 'hex');
  return { at: HEAD, bytes: Buffer.concat([b, Buffer.from([0x75, (0x100 - b.length - 2) & 0xff, 0xc3])]) };
}

describe('which loops run as laps', () => {
  it('threads_cpu\'s: rdx steps by 1, 16 laps between checks, its exit after the jne', () => {
    expect(loopLaps(around, PC, 7)).toEqual({ reg: 'rdx', width: 64, step: 1n, count: 16, head: HEAD, exit: EXIT });
    // the same loop from its head, and from the cmp (the flags are another matter: dead-flags.ts)
    expect(loopLaps(around, HEAD, 8)?.reg).toBe('rdx');
    expect(loopLaps(around, HEAD + 11n, 5)?.reg).toBe('rdx');
  });

  it('counters that step down, by more than one, or by lea', () => {
    // sub rbx,3; add rax,rbx; cmp rbx,rcx
    expect(loopLaps(loopOf('4883eb034801d84839cb'), HEAD, 5)).toMatchObject({ reg: 'rbx', step: -3n });
    // dec r9; add rax,r9; test r9,r9
    expect(loopLaps(loopOf('49ffc94c01c84d85c9'), HEAD, 5)).toMatchObject({ reg: 'r9', step: -1n });
    // lea rsi,[rsi+8]; mov r8,[rsi]; cmp rsi,rdi
    expect(loopLaps(loopOf('488d76084c8b064839fe'), HEAD, 5)).toMatchObject({ reg: 'rsi', step: 8n });
  });

  it('32-bit counters (int loops): add edx,1, lea ecx,[rcx-2]', () => {
    // add edx,1; add rax,rsi; cmp edx,ecx
    expect(loopLaps(loopOf('83c2014801f039ca'), HEAD, 5)).toMatchObject({ reg: 'rdx', width: 32, step: 1n });
    // lea ecx,[rcx-2]; add rax,rcx; test ecx,ecx
    expect(loopLaps(loopOf('8d49fe4801c885c9'), HEAD, 5)).toMatchObject({ reg: 'rcx', width: 32, step: -2n });
    // add dx,1 (16 bits): not a counter the check compares
    expect(loopLaps(loopOf('6683c2014801f039ca'), HEAD, 5)).toBeUndefined();
  });

  it('no counter, a counter written twice, a call, an rdtsc or an exit inside the patch: no laps', () => {
    // add rax,rsi; cmp rax,rcx (rax steps by a register)
    expect(loopLaps(loopOf('4801f04839c8'), HEAD, 5)).toBeUndefined();
    // add rdx,1; mov edx,edx; cmp rdx,rcx (rdx written twice)
    expect(loopLaps(loopOf('4883c20189d24839ca'), HEAD, 5)).toBeUndefined();
    // add rdx,1; mul rsi (writes rdx too); cmp rdx,rcx
    expect(loopLaps(loopOf('4883c20148f7e64839ca'), HEAD, 5)).toBeUndefined();
    // add rdx,1; call +0; cmp rdx,rcx
    expect(loopLaps(loopOf('4883c201e8000000004839ca'), HEAD, 5)).toBeUndefined();
    // add rdx,1; rdtsc; cmp rdx,rcx
    expect(loopLaps(loopOf('4883c2010f314839ca'), HEAD, 5)).toBeUndefined();
    // the loop's exit falls inside the bytes the patch covers
    expect(loopLaps(around, HEAD + 11n, 6)).toBeUndefined();
    // a jump forward ends the line: not one straight loop
    expect(loopLaps(loopOf('4883c2017400'), HEAD, 5)).toBeUndefined();
  });
});

describe('the bounds of the counter', () => {
  it('from R-(count-1)*step to R going up, from R to R+(count-1)*|step| going down', () => {
    expect(lapBounds({ step: 1n, count: 16, width: 64 }, 1000n)).toEqual([985n, 1000n]);
    expect(lapBounds({ step: 8n, count: 4, width: 64 }, 1000n)).toEqual([976n, 1000n]);
    expect(lapBounds({ step: -3n, count: 4, width: 64 }, 1000n)).toEqual([1000n, 1009n]);
    expect(lapBounds({ step: 1n, count: 16, width: 32 }, 2n ** 32n - 1n)).toEqual([2n ** 32n - 16n, 2n ** 32n - 1n]);
  });

  it('a range that would wrap round zero is every value: those laps are never skipped', () => {
    expect(lapBounds({ step: 1n, count: 16, width: 64 }, 14n)).toEqual([0n, 2n ** 64n - 1n]);
    expect(lapBounds({ step: 1n, count: 16, width: 64 }, 15n)).toEqual([0n, 15n]);
    expect(lapBounds({ step: -1n, count: 16, width: 64 }, 2n ** 64n - 2n)).toEqual([0n, 2n ** 64n - 1n]);
    expect(lapBounds({ step: -1n, count: 16, width: 32 }, 2n ** 32n - 2n)).toEqual([0n, 2n ** 32n - 1n]);
  });

  it('a 32-bit counter recorded with upper bits set (before the loop first wrote it) is never skipped', () => {
    expect(lapBounds({ step: 1n, count: 16, width: 32 }, 2n ** 32n + 1000n)).toEqual([0n, 2n ** 32n - 1n]);
  });
});

describe('the filter with laps', () => {
  const base = HEAD - 0x10000n;
  const pointAt = (rax: bigint, rdx: bigint) => {
    const r = Buffer.alloc(USER_REGS_SIZE);
    setReg(r, 'rip', PC);
    setReg(r, 'eflags', 0x246n);
    setReg(r, 'rax', rax);
    setReg(r, 'rdx', rdx);
    return r;
  };
  const plan = (regs: Buffer, laps = true) =>
    planFilter(base, PC, LOOP.subarray(4), around, regs, [], { countArrivals: false, key: 'rax', flagsDead: true, laps }) as FilterPlan;
  const data = (p: FilterPlan, addr: bigint) => p.image.readBigUInt64LE(Number(addr - base));

  it('checks rdx against its bounds, runs 16 laps whose exits leave for the loop\'s, and goes back to the check', () => {
    const p = plan(pointAt(0x1234n, 1000n));
    expect(p.laps).toMatchObject({ reg: 'rdx', count: 16 });
    const code = decodeAll(p.image.subarray(0, 4096), base);
    const [check, toUpper] = code;
    expect([check.mnemonic, check.op0Register]).toEqual([Mnemonic.Cmp, Register.RDX]);
    expect(data(p, check.ipRelMemoryAddress)).toBe(985n);
    expect(toUpper.mnemonic).toBe(Mnemonic.Jae);
    // the laps: the loop from pc, its jne turned into a je to the exit, then its head's imul
    const back = code.findIndex((i) => i.flowControl === FlowControl.UnconditionalBranch);
    const laps = code.slice(2, back);
    expect(laps.length).toBe(16 * 5);
    for (let k = 0; k < 16; k++) {
      expect(laps.slice(5 * k, 5 * k + 5).map((i) => i.mnemonic)).toEqual([Mnemonic.Add, Mnemonic.Add, Mnemonic.Cmp, Mnemonic.Je, Mnemonic.Imul]);
      expect(laps[5 * k + 3].nearBranchTarget).toBe(EXIT);
    }
    expect(code[back].nearBranchTarget).toBe(base);
    // above the lower bound: the upper one, above it back to the laps, else the exact check
    const upper = code.findIndex((i) => i.ip === toUpper.nearBranchTarget);
    expect([code[upper].mnemonic, code[upper].op0Register]).toEqual([Mnemonic.Cmp, Register.RDX]);
    expect(data(p, code[upper].ipRelMemoryAddress)).toBe(1000n);
    expect(code[upper + 1].mnemonic).toBe(Mnemonic.Ja);
    expect(code[upper + 1].nearBranchTarget).toBe(laps[0].ip);
    const exact = code.findIndex((i) => i.ip === code[upper + 2].nearBranchTarget);
    expect([code[exact].mnemonic, code[exact].op0Register]).toEqual([Mnemonic.Cmp, Register.RAX]);
    // the candidate's int3 and the miss path are the exact check's
    expect(p.trapAfter).toBeGreaterThan(code[exact].ip);
  });

  it('a 32-bit counter is checked by its lower half', () => {
    // add edx,1; add rax,rsi; cmp edx,ecx; jne head
    const loop = loopOf('83c2014801f039ca');
    const regs = pointAt(0x1234n, 70000n);
    setReg(regs, 'rip', HEAD);
    const p = planFilter(base, HEAD, loop.bytes, loop, regs, [], { countArrivals: false, key: 'rax', flagsDead: true, laps: true }) as FilterPlan;
    expect(p.laps).toMatchObject({ reg: 'rdx', width: 32 });
    const [check] = decodeAll(p.image.subarray(0, 16), base);
    expect([check.mnemonic, check.op0Register]).toEqual([Mnemonic.Cmp, Register.EDX]);
    expect(data(p, check.ipRelMemoryAddress)).toBe(70000n - 15n);
  });

  it('without laps asked, or counting arrivals, the filter starts with the exact check as before', () => {
    expect(plan(pointAt(1n, 2n), false).laps).toBeUndefined();
    const counted = planFilter(base, PC, LOOP.subarray(4), around, pointAt(1n, 2n), [], { countArrivals: true, key: 'rax', flagsDead: true, laps: true }) as FilterPlan;
    expect(counted.laps).toBeUndefined();
    expect(decodeAll(counted.image.subarray(0, 64), base).some((i) => i.mnemonic === Mnemonic.Jrcxz)).toBe(true);
  });

  it('a kept plan takes another point\'s bounds with its data page', () => {
    const b2 = base - 0x40000n;
    const fresh = (regs: Buffer) => planFilter(b2, PC, LOOP.subarray(4), around, regs, [], { countArrivals: false, key: 'rax', flagsDead: true, laps: true }) as FilterPlan;
    keepPlan(b2, PC, 'rax', around, [], fresh(pointAt(1n, 2n ** 40n)));
    const next = pointAt(0xabcn, 5n);
    const got = keptPlan(b2, PC, 'rax', around, next, [])!;
    expect(got.image.equals(fresh(next).image)).toBe(true);
    expect(got.image.readBigUInt64LE(8192 - 32)).toBe(0n);  // 5 is within 15 of zero: never skipped
    expect(got.image.readBigUInt64LE(8192 - 24)).toBe(2n ** 64n - 1n);
  });
});
