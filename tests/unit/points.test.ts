// The pure parts of points named by their state (src/points/): the memory operands
// of the loop around a pc, and the filter's code decoded back with iced-x86 (the
// jump at pc reaches it, the displaced instruction keeps its data, the miss path
// jumps back past the window, what cannot move is refused). Running them for real
// is tests/integration/async-signals.test.ts.
import { FlowControl, Mnemonic, Register } from 'iced-x86';
import { decodeAll } from '../x86-decode.js';
import { describe, expect, it } from 'vitest';
import { USER_REGS_SIZE, setReg } from '../../src/arch/registers.js';
import { FILTER_SIZE, planFilter, type FilterPlan } from '../../src/points/filter-stub.js';
import { loopOperands, operandAddress } from '../../src/points/loop-operands.js';

const HEAD = 0x401000n;
// head: lock add qword [rip+0x1000], 1    ; count at 0x402009
//       mov eax, [rip+0x2000]             ; stop at 0x40300f
//       test eax, eax
//       je head
//       ret
const LOOP = Buffer.from([
  0xf0, 0x48, 0x83, 0x05, 0x00, 0x10, 0x00, 0x00, 0x01,
  0x8b, 0x05, 0x00, 0x20, 0x00, 0x00,
  0x85, 0xc0,
  0x74, 0xed,
  0xc3,
]);
const PC = HEAD + 9n; // the load of the flag, after the count's add
const COUNT = 0x402009n, STOP = 0x40300fn;

function regsAt(pc: bigint, values: Partial<Record<'rbx' | 'rsp' | 'rax', bigint>> = {}): Buffer {
  const r = Buffer.alloc(USER_REGS_SIZE);
  setReg(r, 'rip', pc);
  setReg(r, 'eflags', 0x246n);
  for (const [k, v] of Object.entries(values)) setReg(r, k as 'rbx', v);
  return r;
}

describe('the loop operands of a point', () => {
  it('the flag after pc and the counter before it, in the loop a backward branch closes', () => {
    const ops = loopOperands({ at: HEAD, bytes: LOOP }, PC);
    const addrs = ops.map((o) => [operandAddress(o, regsAt(PC)), o.size]);
    expect(addrs).toContainEqual([STOP, 4]);
    expect(addrs).toContainEqual([COUNT, 8]);
  });

  it('an operand whose address register the code changes on the way is left out', () => {
    // pc: mov rbx,[rbx]; mov rax,[rbx]; ret  (a pointer chase: the second address is not known at pc)
    const code = Buffer.from([0x48, 0x8b, 0x1b, 0x48, 0x8b, 0x03, 0xc3]);
    const ops = loopOperands({ at: 0x500000n, bytes: code }, 0x500000n);
    const regs = regsAt(0x500000n, { rbx: 0x7000n, rsp: 0x8000n });
    // [rbx] of the first load, and the return address [rsp] ret reads; not the second load's
    expect(ops.map((o) => operandAddress(o, regs)).sort()).toEqual([0x7000n, 0x8000n]);
  });
});

describe('the filter of a replay', () => {
  const base = 0x400000n - FILTER_SIZE;
  const plan = (pc = PC) => planFilter(base, pc, LOOP.subarray(Number(pc - HEAD)), { at: HEAD, bytes: LOOP }, regsAt(pc, { rax: 7n }),
    [{ addr: COUNT, size: 8, value: 1234n }, { addr: STOP, size: 4, value: 0n }]);

  it('the jump at pc reaches the stub; the displaced load keeps its data; the miss path jumps back past the window', () => {
    const p = plan() as FilterPlan;
    expect('refused' in p).toBe(false);
    expect(p.image.length).toBe(Number(FILTER_SIZE));
    const [jump] = decodeAll(p.patch, PC);
    expect(jump.mnemonic).toBe(Mnemonic.Jmp);
    expect(jump.nearBranchTarget).toBe(base);
    expect(p.patch.length).toBe(6); // the whole 6-byte load
    const code = decodeAll(p.image.subarray(0, 4096), base);
    const trap = code.find((i) => i.mnemonic === Mnemonic.Int3 && i.ip + 1n === p.trapAfter);
    expect(trap).toBeDefined();
    expect(p.miss).toBe(p.trapAfter);
    const after = code.filter((i) => i.ip >= p.miss);
    const moved = after.find((i) => i.mnemonic === Mnemonic.Mov && i.op0Register === Register.EAX && i.memoryDisplacement === STOP);
    expect(moved, 'the displaced load, relocated').toBeDefined();
    const back = after.find((i) => i.flowControl === FlowControl.UnconditionalBranch);
    expect(back?.nearBranchTarget).toBe(PC + 6n);
    // the recorded values are in the data page, compared with the program's operands
    const data = p.image.subarray(4096);
    expect(data.includes(Buffer.from([0xd2, 0x04, 0, 0, 0, 0, 0, 0]))).toBe(true); // 1234
    expect(code.some((i) => i.mnemonic === Mnemonic.Mov && i.memoryDisplacement === COUNT)).toBe(true);
    // no stack: the filter neither pushes nor pops
    expect(code.some((i) => i.mnemonic === Mnemonic.Push || i.mnemonic === Mnemonic.Pop || i.op0Register === Register.RSP && i.mnemonic !== Mnemonic.Cmp)).toBe(false);
  });

  it('a loop of five bytes back to pc goes through the filter at every arrival, not round the moved copy', () => {
    // pc: sub eax,1; jne pc; ret
    const code = Buffer.from([0x83, 0xe8, 0x01, 0x75, 0xfb, 0xc3]);
    const at = 0x500000n;
    const p = planFilter(at - FILTER_SIZE, at, code, { at, bytes: code }, regsAt(at), []) as FilterPlan;
    expect('refused' in p).toBe(false);
    const moved = decodeAll(p.image.subarray(0, 4096), at - FILTER_SIZE).filter((i) => i.ip >= p.miss);
    const jne = moved.find((i) => i.mnemonic === Mnemonic.Jne);
    expect(jne?.nearBranchTarget).toBe(at);
  });

  it('a pc whose next instructions cannot move is refused with a reason', () => {
    const p = plan(HEAD + 19n); // the ret
    expect('refused' in p && p.refused).toMatch(/ret/);
  });

  it('a branch into the patch is refused', () => {
    // 7 nops, then jmp back to the third: it would land inside the 5 bytes patched at the first
    const code = Buffer.from([0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xeb, 0xf9]);
    const p = planFilter(0x600000n - FILTER_SIZE, 0x600000n, code, { at: 0x600000n, bytes: code }, regsAt(0x600000n), []);
    expect('refused' in p && p.refused).toMatch(/lands inside the patch/);
  });
});
