// gdb's amd64 register file (src/rsp/target-xml.ts numbering) built from the
// tracee's struct user_regs_struct and its XSAVE (or FXSAVE) area, and register
// writes applied back to those two buffers.
import { registerLayout, type RegisterInfo } from './register-layout.js';
import { type UserReg, USER_REGS } from './registers.js';

const GPR: Record<number, UserReg> = {
  0: 'rax', 1: 'rbx', 2: 'rcx', 3: 'rdx', 4: 'rsi', 5: 'rdi', 6: 'rbp', 7: 'rsp',
  8: 'r8', 9: 'r9', 10: 'r10', 11: 'r11', 12: 'r12', 13: 'r13', 14: 'r14', 15: 'r15',
  16: 'rip', 17: 'eflags', 18: 'cs', 19: 'ss', 20: 'ds', 21: 'es', 22: 'fs', 23: 'gs',
  57: 'orig_rax', 58: 'fs_base', 59: 'gs_base',
};

const FX_ST = 32;
const FX_XMM = 160;
const FX_MXCSR = 24;
const XSAVE_BV = 512;
const XSAVE_YMM = 576;
/** PTRACE_GETREGSET NT_X86_XSTATE puts the XCR0 feature mask at byte 464 (gdb reads it there too). */
const SW_XFEATURES = 464;

/** Whether the XSAVE area holds AVX state (the kernel's xfeatures mask has bit 2). */
export function hasAvx(xstate: Buffer): boolean {
  if (xstate.length < XSAVE_YMM + 256) return false;
  return (xstate.readBigUInt64LE(SW_XFEATURES) & 4n) !== 0n;
}

function userOffset(name: UserReg): number {
  return USER_REGS.indexOf(name) * 8;
}

/** gdb's full x87 tag word from FXSAVE's abridged one. */
function fullTag(fx: Buffer): number {
  const fstat = fx.readUInt16LE(2);
  const top = (fstat >> 11) & 7;
  const abridged = fx[4];
  let tag = 0;
  for (let phys = 0; phys < 8; phys++) {
    let t = 3;
    if (abridged & (1 << phys)) {
      const st = (phys - top + 8) & 7;
      const raw = fx.subarray(FX_ST + 16 * st, FX_ST + 16 * st + 10);
      const exp = raw.readUInt16LE(8) & 0x7fff;
      const integer = (raw[7] & 0x80) !== 0;
      const fractionZero = raw.subarray(0, 8).every((b, i) => (i === 7 ? (b & 0x7f) === 0 : b === 0));
      if (exp === 0x7fff) t = 2;
      else if (exp === 0) t = fractionZero && !integer ? 1 : 2;
      else t = integer ? 0 : 2;
    }
    tag |= t << (2 * phys);
  }
  return tag;
}

/** The bytes of one register, in gdb's target byte order. */
export function readRegister(info: RegisterInfo, user: Buffer, xstate: Buffer): Buffer {
  const out = Buffer.alloc(info.bytes);
  const n = info.regno;
  const gpr = GPR[n];
  if (gpr) {
    user.copy(out, 0, userOffset(gpr), userOffset(gpr) + info.bytes);
    return out;
  }
  const fx = xstate;
  if (n >= 24 && n <= 31) fx.copy(out, 0, FX_ST + 16 * (n - 24), FX_ST + 16 * (n - 24) + 10);
  else if (n === 32) out.writeUInt32LE(fx.readUInt16LE(0));
  else if (n === 33) out.writeUInt32LE(fx.readUInt16LE(2));
  else if (n === 34) out.writeUInt32LE(fullTag(fx));
  else if (n === 35) out.writeUInt32LE(fx.readUInt16LE(12));
  else if (n === 36) out.writeUInt32LE(fx.readUInt32LE(8));
  else if (n === 37) out.writeUInt32LE(fx.readUInt16LE(20));
  else if (n === 38) out.writeUInt32LE(fx.readUInt32LE(16));
  else if (n === 39) out.writeUInt32LE(fx.readUInt16LE(6) & 0x7ff);
  else if (n >= 40 && n <= 55) fx.copy(out, 0, FX_XMM + 16 * (n - 40), FX_XMM + 16 * (n - 40) + 16);
  else if (n === 56) fx.copy(out, 0, FX_MXCSR, FX_MXCSR + 4);
  else if (n >= 60 && n <= 75 && fx.length >= XSAVE_YMM + 256 && (fx.readBigUInt64LE(XSAVE_BV) & 4n) !== 0n)
    fx.copy(out, 0, XSAVE_YMM + 16 * (n - 60), XSAVE_YMM + 16 * (n - 60) + 16);
  return out;
}

/** The whole 'g' packet payload (binary; hex-encode for the wire). */
export function readAllRegisters(avx: boolean, user: Buffer, xstate: Buffer): Buffer {
  return Buffer.concat(registerLayout({ avx }).map((r) => readRegister(r, user, xstate)));
}

/**
 * Applies a register write to copies of the buffers; says which of them changed.
 * Returns undefined for a register the target does not have.
 */
export function writeRegister(info: RegisterInfo, value: Buffer, user: Buffer, xstate: Buffer): 'user' | 'xstate' {
  const n = info.regno;
  const v = Buffer.alloc(info.bytes);
  value.copy(v, 0, 0, Math.min(value.length, info.bytes));
  const gpr = GPR[n];
  if (gpr) {
    const at = userOffset(gpr);
    user.fill(0, at, at + 8);
    v.copy(user, at);
    return 'user';
  }
  const fx = xstate;
  if (n >= 24 && n <= 31) v.copy(fx, FX_ST + 16 * (n - 24), 0, 10);
  else if (n === 32) fx.writeUInt16LE(v.readUInt32LE(0) & 0xffff, 0);
  else if (n === 33) fx.writeUInt16LE(v.readUInt32LE(0) & 0xffff, 2);
  else if (n === 34) {
    const tag = v.readUInt32LE(0);
    let abridged = 0;
    for (let i = 0; i < 8; i++) if (((tag >> (2 * i)) & 3) !== 3) abridged |= 1 << i;
    fx[4] = abridged;
  } else if (n === 35) fx.writeUInt16LE(v.readUInt32LE(0) & 0xffff, 12);
  else if (n === 36) fx.writeUInt32LE(v.readUInt32LE(0), 8);
  else if (n === 37) fx.writeUInt16LE(v.readUInt32LE(0) & 0xffff, 20);
  else if (n === 38) fx.writeUInt32LE(v.readUInt32LE(0), 16);
  else if (n === 39) fx.writeUInt16LE(v.readUInt32LE(0) & 0x7ff, 6);
  else if (n >= 40 && n <= 55) v.copy(fx, FX_XMM + 16 * (n - 40));
  else if (n === 56) v.copy(fx, FX_MXCSR);
  else if (n >= 60 && n <= 75 && fx.length >= XSAVE_YMM + 256) {
    v.copy(fx, XSAVE_YMM + 16 * (n - 60));
    fx.writeBigUInt64LE(fx.readBigUInt64LE(XSAVE_BV) | 4n, XSAVE_BV);
  }
  return 'xstate';
}
