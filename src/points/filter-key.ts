// Which register the replay's filter compares first (filter-stub.ts), before it
// saves anything: the filter's jump sits in the program's loop, so every arrival at
// pc goes through it, and in a hot loop that is almost every iteration of the whole
// stretch before a point. A key that differs at almost every arrival sends the
// arrivals that cannot be the point back to the program after four instructions
// that touch neither the flags nor the program's registers (rcx aside, kept in the
// filter's data page); only arrivals with the key's recorded value go on to the full
// comparison. The key only makes misses cheap: the full comparison still compares
// every register, so the choice never changes which arrival is found.
//
// The best key changes from one arrival to the next: a register the loop around pc
// writes (its counter, its accumulator) and whose value now differs from the
// recorded one. Failing that, one the loop writes; then one that differs.
import { getReg, type UserReg } from '../arch/registers.js';

/** jrcxz tests rcx: rcx itself is a key only when its recorded value fits a lea's 32-bit displacement (no scratch needed then). */
export function rcxKeyFits(recorded: bigint): boolean {
  const v = BigInt.asIntN(64, recorded);
  return v > -(2n ** 31n) && v < 2n ** 31n;
}

/**
 * The key for a point recorded with registers `recorded` (user_regs_struct) whose
 * thread now stands at `now`; `written`: the registers the loop around pc writes
 * (loop-operands.ts). undefined: no register promises to tell arrivals apart.
 */
export function filterKey(recorded: Buffer, now: Buffer, written: UserReg[]): UserReg | undefined {
  const usable = (r: UserReg) => r !== 'rcx' || rcxKeyFits(getReg(recorded, 'rcx'));
  const differs = (r: UserReg) => getReg(recorded, r) !== getReg(now, r);
  const gprs: UserReg[] = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  return written.find((r) => usable(r) && differs(r))
    ?? written.find(usable)
    ?? gprs.find((r) => usable(r) && differs(r));
}
