// amd64 GNU/Linux target description, generated from the register layout the
// replay engine uses (src/arch/register-layout.ts). The XML is one self-contained
// document, so gdb fetches target.xml only.

import { CORE, SSE, registerLayout, type RegisterInfo } from '../arch/register-layout.js';

export { REGISTERS_AMD64, REGISTERS_AMD64_AVX, REGNO, gPacketSize, registerLayout, type RegisterInfo } from '../arch/register-layout.js';

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
