// Encodes SYSCALL_SPECS into the flat Int32Array the native record/replay loops read
// (layout in abi.ts). The specs are checked by validateSyscallSpecs, which the unit
// tests run (tests/unit/syscall-table.test.ts): they are constants, and checking them
// at every start cost ~0.3 ms of it (docs/startup.md).

import { ARG_BITS_SHIFT, Action, ArgBits, Check, MAX_OUTS, ROW_INTS, RowFlag, Size, TABLE_ROWS, type SyscallSpec } from './abi.js';
import { SYSCALL_ARG_BITS } from './arity.js';
import { SYSCALL_NAMES, SYSCALL_NUMBERS, syscallName } from './names.js';
import { SYSCALL_SPECS, specOf } from './specs.js';

/** Ints before the outputs in a row: action, check, flags, nOuts. */
const HEADER_INTS = 4;
/** Ints per output: arg, size, param. */
const OUT_INTS = 3;

if (HEADER_INTS + MAX_OUTS * OUT_INTS > ROW_INTS) {
  throw new Error(`syscall table: ${MAX_OUTS} outputs do not fit in a row of ${ROW_INTS} ints`);
}

const codes = (o: Record<string, number>): Set<number> => new Set(Object.values(o));
const ACTIONS = codes(Action);
const CHECKS = codes(Check);
const SIZES = codes(Size);
const FLAG_MASK = Object.values(RowFlag).reduce((m, f) => m | f, 0);

function validate(key: string, spec: SyscallSpec): void {
  const fail = (what: string): never => {
    throw new Error(`syscall spec ${key}: ${what}`);
  };
  if (!Object.prototype.hasOwnProperty.call(SYSCALL_NUMBERS, key)) fail('not an x86-64 syscall in SYSCALL_NAMES');
  if (spec.name !== key) fail(`name field is ${spec.name}`);
  const nr = SYSCALL_NUMBERS[key];
  if (!Number.isInteger(nr) || nr < 0 || nr >= TABLE_ROWS) fail(`number ${nr} outside the table (${TABLE_ROWS} rows)`);
  if (!ACTIONS.has(spec.action) || spec.action === Action.Unknown) fail(`bad action ${spec.action}`);
  if (spec.check !== undefined && !CHECKS.has(spec.check)) fail(`bad check ${spec.check}`);
  if (spec.flags !== undefined && (spec.flags & ~FLAG_MASK) !== 0) fail(`bad flags ${spec.flags}`);
  const outs = spec.outs ?? [];
  if (outs.length > MAX_OUTS) fail(`${outs.length} outputs, at most ${MAX_OUTS}`);
  for (const out of outs) {
    if (!Number.isInteger(out.arg) || out.arg < 0 || out.arg > 5) fail(`output argument ${out.arg}`);
    if (!SIZES.has(out.size) || out.size === Size.None) fail(`output size kind ${out.size}`);
    const param = out.param ?? 0;
    if (!Number.isInteger(param) || param < 0 || param > 0x7fffffff) fail(`output param ${param}`);
  }
}

/** Throws at the first spec (of SYSCALL_SPECS by default) that is not a valid row of the table. */
export function validateSyscallSpecs(specs: Record<string, SyscallSpec> = SYSCALL_SPECS): void {
  for (const [key, spec] of Object.entries(specs)) validate(key, spec);
}

/** A known syscall without an explicit spec is recorded the slow, exact way. */
function effectiveSpec(name: string): SyscallSpec {
  return specOf(name) ?? { name, action: Action.Generic };
}

const WIDTH_CODES: Record<number, number> = { 16: ArgBits.Low16, 32: ArgBits.Low32, 64: ArgBits.All };

/**
 * The argument-bits field of a row's flags (abi.ts): what the kernel reads of
 * each argument register, from its own metadata (arity.ts). A call without
 * metadata is compared in all six registers.
 */
export function argBitsField(name: string): number {
  const widths = SYSCALL_ARG_BITS[name] ?? [64, 64, 64, 64, 64, 64];
  let field = 0;
  widths.forEach((w, i) => {
    const code = WIDTH_CODES[w];
    if (code === undefined) throw new Error(`syscall arity ${name}: argument ${i} is ${w} bits wide`);
    field |= code << (ARG_BITS_SHIFT + 2 * i);
  });
  return field;
}

if (FLAG_MASK >= 1 << ARG_BITS_SHIFT) throw new Error('syscall table: row flags overlap the argument-bits field');

function encode(): Int32Array {
  const table = new Int32Array(TABLE_ROWS * ROW_INTS);
  for (const [nrText, name] of Object.entries(SYSCALL_NAMES)) {
    const nr = Number(nrText);
    if (nr < 0 || nr >= TABLE_ROWS) throw new Error(`syscall table: ${name} (${nr}) outside the table`);
    const spec = effectiveSpec(name);
    const outs = spec.outs ?? [];
    const base = nr * ROW_INTS;
    table[base] = spec.action;
    table[base + 1] = spec.check ?? Check.None;
    table[base + 2] = (spec.flags ?? 0) | argBitsField(name);
    table[base + 3] = outs.length;
    outs.forEach((out, k) => {
      const o = base + HEADER_INTS + k * OUT_INTS;
      table[o] = out.arg;
      table[o + 1] = out.size;
      table[o + 2] = out.param ?? 0;
    });
  }
  return table;
}

const TABLE = encode();

/**
 * The syscall table for the native side: TABLE_ROWS rows of ROW_INTS ints, row nr =
 * [action, check, flags, nOuts, then for each of MAX_OUTS outputs: arg, size, param].
 * Rows of numbers that are not x86-64 syscalls are all zero (Action.Unknown).
 * Returns a fresh copy.
 */
export function encodeSyscallTable(): Int32Array {
  return TABLE.slice();
}

/** Name and spec of syscall `nr` for messages; spec is undefined for unknown numbers. */
export function specFor(nr: number): { name: string; spec: SyscallSpec | undefined } {
  const name = syscallName(nr);
  const known = Object.prototype.hasOwnProperty.call(SYSCALL_NAMES, nr);
  return { name, spec: known ? effectiveSpec(name) : undefined };
}
