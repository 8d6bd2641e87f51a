// amd64 GNU/Linux target description and the register layout it implies.
// Feature and register order fixes gdb's remote register numbers (see notes/gdb-rsp.md);
// the XML is one self-contained document, so gdb fetches target.xml only.

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

const CORE = 'org.gnu.gdb.i386.core';
const SSE = 'org.gnu.gdb.i386.sse';
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

const bits = (fields: [string, number][]) =>
  fields.map(([name, bit]) => `      <field name="${name}" start="${bit}" end="${bit}"/>`).join('\n');

const EFLAGS_TYPE = `    <flags id="i386_eflags" size="4">
${bits([['CF', 0], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11], ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21]])}
    </flags>`;

const SSE_TYPES = `    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v4_float" type="v4f"/>
      <field name="v2_double" type="v2d"/>
      <field name="v16_int8" type="v16i8"/>
      <field name="v8_int16" type="v8i16"/>
      <field name="v4_int32" type="v4i32"/>
      <field name="v2_int64" type="v2i64"/>
      <field name="uint128" type="uint128"/>
    </union>
    <flags id="i386_mxcsr" size="4">
${bits([['IE', 0], ['DE', 1], ['ZE', 2], ['OE', 3], ['UE', 4], ['PE', 5], ['DAZ', 6], ['IM', 7], ['DM', 8], ['ZM', 9], ['OM', 10], ['UM', 11], ['PM', 12], ['FZ', 15]])}
    </flags>`;

const FEATURE_TYPES: Record<string, string> = { [CORE]: EFLAGS_TYPE, [SSE]: SSE_TYPES };

function regXml(r: RegisterInfo): string {
  const group = r.group ? ` group="${r.group}"` : '';
  return `    <reg name="${r.name}" bitsize="${r.bitsize}" type="${r.type}" regnum="${r.regno}"${group}/>`;
}

export function targetXml(opts: { avx: boolean }): string {
  const regs = registerLayout(opts);
  const features = [...new Set(regs.map((r) => r.feature))];
  const body = features.map((f) => {
    const types = FEATURE_TYPES[f] ? FEATURE_TYPES[f] + '\n' : '';
    const lines = regs.filter((r) => r.feature === f).map(regXml).join('\n');
    return `  <feature name="${f}">\n${types}${lines}\n  </feature>`;
  });
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    '<target version="1.0">',
    '  <architecture>i386:x86-64</architecture>',
    '  <osabi>GNU/Linux</osabi>',
    ...body,
    '</target>',
    '',
  ].join('\n');
}
