// The x86-64 register file in the order gdb numbers it (core, sse, linux, segments,
// avx): the replay engine reads and writes registers by these numbers, and the
// target description (src/rsp/target-xml.ts) is generated from the same table.

export interface RegisterInfo {
  name: string;
  regno: number;
  bytes: number;
  bitsize: number;
  /** Offset in the 'g' packet's byte string. */
  offset: number;
  type: string;
  group?: string;
  feature: string;
}

export const CORE = 'org.gnu.gdb.i386.core';
export const SSE = 'org.gnu.gdb.i386.sse';
const LINUX = 'org.gnu.gdb.i386.linux';
const SEGMENTS = 'org.gnu.gdb.i386.segments';
const AVX = 'org.gnu.gdb.i386.avx';

type Spec = [name: string, bitsize: number, type: string, feature: string, group?: string];

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const SPECS: Spec[] = [
  ...['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi'].map((n): Spec => [n, 64, 'int64', CORE]),
  ['rbp', 64, 'data_ptr', CORE],
  ['rsp', 64, 'data_ptr', CORE],
  ...range(8).map((i): Spec => [`r${i + 8}`, 64, 'int64', CORE]),
  ['rip', 64, 'code_ptr', CORE],
  ['eflags', 32, 'i386_eflags', CORE],
  ...['cs', 'ss', 'ds', 'es', 'fs', 'gs'].map((n): Spec => [n, 32, 'int32', CORE]),
  ...range(8).map((i): Spec => [`st${i}`, 80, 'i387_ext', CORE]), // i387_ext is a gdb built-in type
  ...['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((n): Spec => [n, 32, 'int', CORE, 'float']),
  ...range(16).map((i): Spec => [`xmm${i}`, 128, 'vec128', SSE]),
  ['mxcsr', 32, 'i386_mxcsr', SSE, 'vector'],
  ['orig_rax', 64, 'int', LINUX],
  ['fs_base', 64, 'int', SEGMENTS],
  ['gs_base', 64, 'int', SEGMENTS],
];

const AVX_SPECS: Spec[] = range(16).map((i): Spec => [`ymm${i}h`, 128, 'uint128', AVX]);

function layout(specs: Spec[]): RegisterInfo[] {
  let offset = 0;
  return specs.map(([name, bitsize, type, feature, group], regno) => {
    const info: RegisterInfo = { name, regno, bytes: bitsize / 8, bitsize, offset, type, feature, ...(group ? { group } : {}) };
    offset += info.bytes;
    return info;
  });
}

export const REGISTERS_AMD64: readonly RegisterInfo[] = layout(SPECS);
export const REGISTERS_AMD64_AVX: readonly RegisterInfo[] = layout([...SPECS, ...AVX_SPECS]);

export function registerLayout(opts: { avx: boolean }): readonly RegisterInfo[] {
  return opts.avx ? REGISTERS_AMD64_AVX : REGISTERS_AMD64;
}

/** Size in bytes of a 'g' reply: 560 without AVX, 816 with. */
export function gPacketSize(opts: { avx: boolean }): number {
  const regs = registerLayout(opts);
  const last = regs[regs.length - 1];
  return last.offset + last.bytes;
}

/** Remote register number by name (rip → 16, orig_rax → 57, ymm0h → 60 ...). */
export const REGNO: Readonly<Record<string, number>> = Object.fromEntries(REGISTERS_AMD64_AVX.map((r) => [r.name, r.regno]));
