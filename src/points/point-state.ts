// What both runs agree a point's state is (docs/preemption.md): the registers
// compared without what the tracer sets (orig_rax, the trap flags), as
// addon/replay_points.cc compares them, and the memory the state hash leaves out
// in both runs besides the syscall buffer: the replay's own region (its stub and
// the syscall buffer's feed, just below it), where recorded programs map nothing.
import { getReg, setReg } from '../arch/registers.js';
import { STUB_BASE, STUB_SIZE } from '../replay/stub.js';

/** the feed (addon/replay_syscallbuf.h: 4 MiB at 0x6ffe00000000) up to the end of the stub */
export const REPLAY_REGION: [bigint, bigint] = [0x6ffe00000000n, STUB_BASE + STUB_SIZE];

const TRAP_FLAGS = 0x10100n; // TF, RF

export function comparableRegs(regs: Buffer): Buffer {
  const r = Buffer.from(regs);
  setReg(r, 'orig_rax', 0n);
  setReg(r, 'eflags', getReg(r, 'eflags') & ~TRAP_FLAGS);
  return r;
}
