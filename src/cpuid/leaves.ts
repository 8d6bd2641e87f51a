// CPUID answers as data: a dump is rows [leaf, subleaf, eax, ebx, ecx, edx]. This
// file names the feature bits, masks a dump to the portable baseline (`rewind
// record --portable`) and says what a dump claims that another CPU cannot honour.
// docs/portability.md explains the choices.

export type CpuidRow = [number, number, number, number, number, number];
export type Reg = 'eax' | 'ebx' | 'ecx' | 'edx';
const REG_INDEX: Record<Reg, number> = { eax: 2, ebx: 3, ecx: 4, edx: 5 };

/** Leaves whose answer depends on the subleaf (ECX); must match addon/cpuid_emulation.cc. */
const INDEXED = new Set([0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1a, 0x1b, 0x1d, 0x1e, 0x1f, 0x20, 0x23,
  0x24, 0x8000001d, 0x80000020, 0x80000026]);

export function findRow(rows: CpuidRow[], leaf: number, subleaf = 0): CpuidRow | undefined {
  const sub = INDEXED.has(leaf) ? subleaf : 0;
  return rows.find((r) => r[0] === leaf && r[1] === sub);
}

export function regOf(rows: CpuidRow[], leaf: number, subleaf: number, reg: Reg): number {
  const r = findRow(rows, leaf, subleaf);
  return r ? r[REG_INDEX[reg]] >>> 0 : 0;
}

export function vendorOf(rows: CpuidRow[]): string {
  const r = findRow(rows, 0);
  if (!r) return 'unknown';
  const b = Buffer.alloc(12);
  b.writeUInt32LE(r[3] >>> 0, 0);
  b.writeUInt32LE(r[5] >>> 0, 4);
  b.writeUInt32LE(r[4] >>> 0, 8);
  return b.toString('latin1');
}

interface Feature {
  name: string;
  leaf: number;
  subleaf: number;
  reg: Reg;
  bit: number;
  /** an instruction set: a CPU without it faults on its instructions */
  isa: boolean;
  /** kept by --portable (x86-64-v3 and what every such CPU has) */
  portable: boolean;
}

const F = (name: string, leaf: number, subleaf: number, reg: Reg, bit: number, isa: boolean, portable: boolean): Feature =>
  ({ name, leaf, subleaf, reg, bit, isa, portable });

/**
 * Feature bits rewind names. x86-64-v3 is v2 (cx16, lahf_lm, popcnt, sse3, sse4_1,
 * sse4_2, ssse3) plus avx, avx2, bmi1, bmi2, f16c, fma, lzcnt (abm), movbe, xsave.
 */
export const FEATURES: Feature[] = [
  F('sse3', 1, 0, 'ecx', 0, true, true), F('pclmulqdq', 1, 0, 'ecx', 1, true, true), F('ssse3', 1, 0, 'ecx', 9, true, true),
  F('fma', 1, 0, 'ecx', 12, true, true), F('cx16', 1, 0, 'ecx', 13, true, true), F('sse4_1', 1, 0, 'ecx', 19, true, true),
  F('sse4_2', 1, 0, 'ecx', 20, true, true), F('movbe', 1, 0, 'ecx', 22, true, true), F('popcnt', 1, 0, 'ecx', 23, true, true),
  F('aes', 1, 0, 'ecx', 25, true, true), F('xsave', 1, 0, 'ecx', 26, true, true), F('avx', 1, 0, 'ecx', 28, true, true),
  F('f16c', 1, 0, 'ecx', 29, true, true), F('rdrand', 1, 0, 'ecx', 30, true, false),
  F('fsgsbase', 7, 0, 'ebx', 0, true, true), F('sgx', 7, 0, 'ebx', 2, true, false), F('bmi1', 7, 0, 'ebx', 3, true, true),
  F('hle', 7, 0, 'ebx', 4, true, false), F('avx2', 7, 0, 'ebx', 5, true, true), F('bmi2', 7, 0, 'ebx', 8, true, true),
  F('erms', 7, 0, 'ebx', 9, false, true), F('rtm', 7, 0, 'ebx', 11, true, false), F('mpx', 7, 0, 'ebx', 14, true, false),
  F('avx512f', 7, 0, 'ebx', 16, true, false), F('avx512dq', 7, 0, 'ebx', 17, true, false), F('rdseed', 7, 0, 'ebx', 18, true, false),
  F('adx', 7, 0, 'ebx', 19, true, false), F('avx512ifma', 7, 0, 'ebx', 21, true, false), F('clflushopt', 7, 0, 'ebx', 23, true, false),
  F('clwb', 7, 0, 'ebx', 24, true, false), F('avx512pf', 7, 0, 'ebx', 26, true, false), F('avx512er', 7, 0, 'ebx', 27, true, false),
  F('avx512cd', 7, 0, 'ebx', 28, true, false), F('sha_ni', 7, 0, 'ebx', 29, true, false), F('avx512bw', 7, 0, 'ebx', 30, true, false),
  F('avx512vl', 7, 0, 'ebx', 31, true, false),
  F('avx512vbmi', 7, 0, 'ecx', 1, true, false), F('pku', 7, 0, 'ecx', 3, true, false), F('ospke', 7, 0, 'ecx', 4, false, false),
  F('waitpkg', 7, 0, 'ecx', 5, true, false), F('avx512_vbmi2', 7, 0, 'ecx', 6, true, false), F('shstk', 7, 0, 'ecx', 7, true, false),
  F('gfni', 7, 0, 'ecx', 8, true, false), F('vaes', 7, 0, 'ecx', 9, true, false), F('vpclmulqdq', 7, 0, 'ecx', 10, true, false),
  F('avx512_vnni', 7, 0, 'ecx', 11, true, false), F('avx512_bitalg', 7, 0, 'ecx', 12, true, false),
  F('avx512_vpopcntdq', 7, 0, 'ecx', 14, true, false), F('rdpid', 7, 0, 'ecx', 22, true, false), F('cldemote', 7, 0, 'ecx', 25, true, false),
  F('movdiri', 7, 0, 'ecx', 27, true, false), F('movdir64b', 7, 0, 'ecx', 28, true, false), F('enqcmd', 7, 0, 'ecx', 29, true, false),
  F('avx512_4vnniw', 7, 0, 'edx', 2, true, false), F('avx512_4fmaps', 7, 0, 'edx', 3, true, false), F('fsrm', 7, 0, 'edx', 4, false, true),
  F('uintr', 7, 0, 'edx', 5, true, false), F('avx512_vp2intersect', 7, 0, 'edx', 8, true, false), F('serialize', 7, 0, 'edx', 14, true, false),
  F('hybrid', 7, 0, 'edx', 15, false, false), F('tsxldtrk', 7, 0, 'edx', 16, true, false), F('amx_bf16', 7, 0, 'edx', 22, true, false),
  F('avx512_fp16', 7, 0, 'edx', 23, true, false), F('amx_tile', 7, 0, 'edx', 24, true, false), F('amx_int8', 7, 0, 'edx', 25, true, false),
  F('avx_vnni', 7, 1, 'eax', 4, true, false), F('avx512_bf16', 7, 1, 'eax', 5, true, false), F('cmpccxadd', 7, 1, 'eax', 7, true, false),
  F('amx_fp16', 7, 1, 'eax', 21, true, false), F('avx_ifma', 7, 1, 'eax', 23, true, false),
  F('avx_vnni_int8', 7, 1, 'edx', 4, true, false), F('avx_ne_convert', 7, 1, 'edx', 5, true, false), F('avx10', 7, 1, 'edx', 19, true, false),
  F('xsaveopt', 0xd, 1, 'eax', 0, true, true), F('xsavec', 0xd, 1, 'eax', 1, true, true), F('xgetbv1', 0xd, 1, 'eax', 2, true, true),
  F('xsaves', 0xd, 1, 'eax', 3, true, false),
  F('lahf_lm', 0x80000001, 0, 'ecx', 0, true, true), F('abm', 0x80000001, 0, 'ecx', 5, true, true), F('sse4a', 0x80000001, 0, 'ecx', 6, true, false),
  F('3dnowprefetch', 0x80000001, 0, 'ecx', 8, true, true), F('xop', 0x80000001, 0, 'ecx', 11, true, false),
  F('fma4', 0x80000001, 0, 'ecx', 16, true, false), F('tbm', 0x80000001, 0, 'ecx', 21, true, false),
];

/** Bits --portable keeps in the registers that carry features; other bits there are cleared. */
const PORTABLE_KEEP: { leaf: number; subleaf: number; reg: Reg; keep: number }[] = [
  // 1.ecx: the features above plus monitor, pcid, x2apic, tsc_deadline, osxsave, hypervisor
  { leaf: 1, subleaf: 0, reg: 'ecx', keep: bits(0, 1, 3, 9, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31) },
  // 7.0.ebx: fsgsbase bmi1 avx2 fdp_excptn smep bmi2 erms invpcid fpu-cs-ds smap
  { leaf: 7, subleaf: 0, reg: 'ebx', keep: bits(0, 3, 5, 6, 7, 8, 9, 10, 13, 20) },
  { leaf: 7, subleaf: 0, reg: 'ecx', keep: bits(2, 16) }, // umip, la57
  // 7.0.edx: fsrm, md_clear and the speculation-control bits (no instructions)
  { leaf: 7, subleaf: 0, reg: 'edx', keep: bits(4, 10, 26, 27, 28, 29, 30, 31) },
  { leaf: 7, subleaf: 1, reg: 'eax', keep: 0 }, { leaf: 7, subleaf: 1, reg: 'edx', keep: 0 },
  { leaf: 0xd, subleaf: 1, reg: 'eax', keep: bits(0, 1, 2) },
  { leaf: 0x80000001, subleaf: 0, reg: 'ecx', keep: bits(0, 1, 5, 7, 8, 9, 22) },
];

function bits(...n: number[]): number {
  return n.reduce((m, b) => (m | (1 << b)) >>> 0, 0);
}

/**
 * The XSAVE layout --portable reports (leaf 0xd): the standard offsets and sizes of
 * x87/SSE, AVX, the AVX-512 states and PKRU, which are the same on every CPU that
 * has them. XCR0 cannot be masked (XGETBV reads it directly, and the kernel sets
 * it), and glibc's lazy-binding trampoline saves x87..AVX-512 state with XSAVE/XSAVEC
 * into a buffer sized from these answers: they must cover what any such CPU writes.
 */
const PORTABLE_XSAVE: CpuidRow[] = [
  [0xd, 0, 0x7, 0xa88, 0xa88, 0], [0xd, 2, 256, 576, 0, 0], [0xd, 5, 64, 1088, 0, 0], [0xd, 6, 512, 1152, 0, 0],
  [0xd, 7, 1024, 1664, 0, 0], [0xd, 9, 8, 2688, 0, 0],
];

/** Leaves --portable answers with zeros: SGX, processor trace, AMX, key locker, AVX10. */
const PORTABLE_EMPTY = new Set([0x12, 0x14, 0x19, 0x1d, 0x1e, 0x24]);

/** The dump masked to the portable baseline, and the names of the features it hides. */
export function portableAnswers(host: CpuidRow[]): { answers: CpuidRow[]; hidden: string[] } {
  const answers: CpuidRow[] = [];
  for (const row of host) {
    const [leaf, subleaf] = row;
    if (PORTABLE_EMPTY.has(leaf) || leaf === 0xd && subleaf !== 1) continue;
    if (leaf === 7 && subleaf > 1) continue;
    const out = [...row] as CpuidRow;
    for (const k of PORTABLE_KEEP) if (k.leaf === leaf && k.subleaf === subleaf) out[REG_INDEX[k.reg]] = (out[REG_INDEX[k.reg]] & k.keep) >>> 0;
    if (leaf === 0xd && subleaf === 1) out[3] = out[4] = out[5] = 0; // XSAVES sizes and XSS: supervisor state
    answers.push(out);
  }
  if (findRow(host, 0xd)) answers.push(...PORTABLE_XSAVE.map((r) => [...r] as CpuidRow));
  answers.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { answers, hidden: featuresOnlyIn(host, answers, () => true) };
}

/** The named features set in `a` and clear in `b` (those `which` selects). */
export function featuresOnlyIn(a: CpuidRow[], b: CpuidRow[], which: (f: Feature) => boolean): string[] {
  const set = (rows: CpuidRow[], f: Feature) => ((regOf(rows, f.leaf, f.subleaf, f.reg) >>> f.bit) & 1) === 1;
  return FEATURES.filter((f) => which(f) && set(a, f) && !set(b, f)).map((f) => f.name);
}

const XSTATE_NAMES = ['x87', 'sse', 'avx', 'mpx bndregs', 'mpx bndcsr', 'avx512 opmask', 'avx512 zmm_hi256', 'avx512 hi16_zmm',
  'pt', 'pkru', 'pasid', 'cet_u', 'cet_s', 'hdc', 'uintr', 'lbr', 'hwp', 'amx tilecfg', 'amx tiledata'];
export const xstateName = (bit: number) => XSTATE_NAMES[bit] ?? `xstate component ${bit}`;

/** glibc's STATE_SAVE_MASK: the components its lazy-binding trampoline saves (sse, avx, mpx, avx-512). */
const TRAMPOLINE_COMPONENTS = [1, 2, 3, 5, 6, 7];

/**
 * Bytes glibc reserves for the trampoline's XSAVE/XSAVEC from these answers, and the
 * bytes the hardware writes there on a CPU with this XCR0 and these answers. A CPU
 * that writes more than the recorded answers made glibc reserve cannot replay.
 */
export function trampolineXsave(answers: CpuidRow[]): { standard: number; compact: number } {
  const standard = regOf(answers, 0xd, 0, 'ebx');
  let compact = 576;
  for (const i of TRAMPOLINE_COMPONENTS.filter((c) => c >= 2)) {
    const size = regOf(answers, 0xd, i, 'eax');
    if (regOf(answers, 0xd, i, 'ecx') & 2) compact = Math.ceil(compact / 64) * 64;
    compact += size;
  }
  return { standard, compact };
}

/** What XSAVE (standard layout) writes for the trampoline's components enabled in xcr0, by this CPU's leaves. */
export function xsaveWrites(here: CpuidRow[], xcr0: bigint): { standard: number; compact: number } {
  let standard = 576;
  let compact = 576;
  for (const i of TRAMPOLINE_COMPONENTS.filter((c) => c >= 2 && ((xcr0 >> BigInt(c)) & 1n) === 1n)) {
    const size = regOf(here, 0xd, i, 'eax');
    standard = Math.max(standard, regOf(here, 0xd, i, 'ebx') + size);
    if (regOf(here, 0xd, i, 'ecx') & 2) compact = Math.ceil(compact / 64) * 64;
    compact += size;
  }
  return { standard, compact };
}
