// struct user_regs_struct (x86-64), as PTRACE_GETREGS returns it.
export const USER_REGS = [
  'r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi',
  'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs',
] as const;
export type UserReg = (typeof USER_REGS)[number];
export const USER_REGS_SIZE = USER_REGS.length * 8;

export function getReg(regs: Buffer, name: UserReg): bigint {
  return regs.readBigUInt64LE(USER_REGS.indexOf(name) * 8);
}

export function setReg(regs: Buffer, name: UserReg, value: bigint): void {
  regs.writeBigUInt64LE(BigInt.asUintN(64, value), USER_REGS.indexOf(name) * 8);
}
