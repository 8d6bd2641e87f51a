// The patch plan of an in-process software branch counter, as rr.soft counts: every
// conditional branch of the chosen functions of a non-PIE ELF becomes a jump to a stub
// that decrements a counter and traps (int3) when it reaches zero, then runs the
// instructions the jump replaced, relocated, and jumps back. iced-x86 decodes (lengths,
// branch targets) and its BlockEncoder relocates the displaced instructions.
//
// The stub keeps the flags (the branch still needs them) and the red zone intact: it
// moves rsp 128 bytes down, saves rcx, counts with lea (no flags) and tests the count
// with jrcxz (no flags).
//
// A patch replaces a window of whole instructions of at least 5 bytes that holds one
// conditional branch and no branch target inside it (only at its start, where the jump
// is). Windows are tried forward from the branch, then starting at the instruction
// before it. A branch with no such window is left unpatched and reported: its
// executions are not counted (in record and replay alike: a coarser count, never a
// different one).
//
// usage: node softcount-plan.mjs ELF STUB_BASE_HEX OUT FUNCTION...
// OUT: "SCP1", u64 stub base, u64 counter address, u32 stub length, stub bytes,
//      u32 patch count, then per patch u64 address, u32 length, bytes.
// Prints a JSON line: branches, patched, unpatched, planning time.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
  BlockEncoder, BlockEncoderOptions, Code, Decoder, DecoderOptions, FlowControl, Instruction,
  MemoryOperand, Register,
} from 'iced-x86';

const [elfPath, stubBaseHex, outPath, ...functions] = process.argv.slice(2);
if (!elfPath || !stubBaseHex || !outPath || functions.length === 0) {
  console.error('usage: node softcount-plan.mjs ELF STUB_BASE_HEX OUT FUNCTION...');
  process.exit(2);
}
const t0 = process.hrtime.bigint();
const elf = readFileSync(elfPath);

/** The executable PT_LOAD segments: where code is in the file and in memory. */
function codeSegments(b) {
  const phoff = Number(b.readBigUInt64LE(32)), phentsize = b.readUInt16LE(54), phnum = b.readUInt16LE(56);
  const out = [];
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize;
    if (b.readUInt32LE(h) !== 1 || !(b.readUInt32LE(h + 4) & 1)) continue;
    out.push({ offset: Number(b.readBigUInt64LE(h + 8)), addr: b.readBigUInt64LE(h + 16), size: Number(b.readBigUInt64LE(h + 32)) });
  }
  return out;
}

function decodeRange(seg, from, to) {
  const start = Number(from - seg.addr) + seg.offset;
  const bytes = elf.subarray(start, start + Number(to - from));
  const d = new Decoder(64, bytes, DecoderOptions.None);
  d.ip = from;
  const out = [];
  while (d.canDecode) out.push(d.decode());
  return out;
}

// Every direct branch target of the whole code: no window may cover one inside it.
const segments = codeSegments(elf);
const targets = new Set();
let codeBranches = 0, codeBytes = 0;
for (const seg of segments) {
  codeBytes += seg.size;
  for (const ins of decodeRange(seg, seg.addr, seg.addr + BigInt(seg.size))) {
    const fc = ins.flowControl;
    if (fc === FlowControl.ConditionalBranch) codeBranches++;
    if (fc === FlowControl.ConditionalBranch || fc === FlowControl.UnconditionalBranch || fc === FlowControl.Call)
      if (ins.isJccShortOrNear || ins.code === Code.Jmp_rel8_64 || ins.code === Code.Jmp_rel32_64 || ins.code === Code.Call_rel32_64 || ins.isJcxShort || ins.isLoop || ins.isLoopcc)
        targets.add(ins.nearBranchTarget);
    ins.free();
  }
}

// Functions by name; "*" plans every function of the file (the map-time cost of a
// whole library), from its symbol table or, when stripped, its dynamic one.
const scanMs = Number(process.hrtime.bigint() - t0) / 1e6;
const symbols = new Map();
const byAddr = new Set();
for (const flags of [['-S', '--defined-only'], ['-D', '-S', '--defined-only']]) {
  let text = '';
  try { text = execFileSync('nm', [...flags, elfPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch { continue; }
  for (const line of text.split('\n')) {
    const [addr, size, type, name] = line.trim().split(/\s+/);
    if (!name || !size || !/^[tTiW]$/.test(type)) continue;
    const a = BigInt('0x' + addr);
    if (!symbols.has(name)) symbols.set(name, { addr: a, size: BigInt('0x' + size), unique: !byAddr.has(a) });
    byAddr.add(a);
  }
  if (symbols.size) break;
}
if (functions.length === 1 && functions[0] === '*') {
  functions.length = 0;
  for (const [name, s] of symbols) if (s.unique && s.size > 0n) functions.push(name);
}

const stubBase = BigInt('0x' + stubBaseHex);
const counterAddr = stubBase;          // the first 8 bytes of the stub region
let stubEnd = stubBase + 64n;
const stubParts = [];
const patches = [];
let branches = 0, unpatched = 0;
const isCounted = (ins) => ins.flowControl === FlowControl.ConditionalBranch;

/** A window [i, j) of instructions around the branch at index k, or null. */
function windowFor(list, k) {
  for (const first of [k, k - 1]) {
    if (first < 0) continue;
    let len = 0, j = first;
    for (; j < list.length && len < 5; j++) {
      if (j > first && targets.has(list[j].ip)) break;
      if (j !== k && isCounted(list[j])) break;
      const fc = list[j].flowControl;
      if (j !== k && fc !== FlowControl.Next) break;   // keep the window's control flow simple
      len += list[j].length;
    }
    if (len >= 5 && j > k) return [first, j, len];
  }
  return null;
}

function stubFor(window, siteIp) {
  const fake = (n) => 0xf0000000_00000000n + siteIp * 16n + BigInt(n);
  const rsp = (d) => MemoryOperand.createBaseDispl(Register.RSP, BigInt(d));
  // wasm-bindgen moves a MemoryOperand into the call that takes it: a new one per use.
  const counter = () => MemoryOperand.createBaseDispl(Register.RIP, counterAddr);
  const ins = [];
  const add = (i, ip) => { i.ip = ip; ins.push(i); return i; };
  add(Instruction.createRegMem(Code.Lea_r64_m, Register.RSP, rsp(-128)), fake(0));
  add(Instruction.createReg(Code.Push_r64, Register.RCX), fake(1));
  add(Instruction.createRegMem(Code.Mov_r64_rm64, Register.RCX, counter()), fake(2));
  add(Instruction.createRegMem(Code.Lea_r64_m, Register.RCX, MemoryOperand.createBaseDispl(Register.RCX, -1n)), fake(3));
  add(Instruction.createMemReg(Code.Mov_rm64_r64, counter(), Register.RCX), fake(4));
  add(Instruction.createBranch(Code.Jrcxz_rel8_64, fake(9)), fake(5));
  add(Instruction.createReg(Code.Pop_r64, Register.RCX), fake(6));
  add(Instruction.createRegMem(Code.Lea_r64_m, Register.RSP, rsp(128)), fake(7));
  for (const w of window) ins.push(w);            // relocated by the encoder (rip-relative, branches)
  const last = window[window.length - 1];
  add(Instruction.createBranch(Code.Jmp_rel32_64, last.nextIP), fake(8));
  add(Instruction.create(Code.Int3), fake(9));      // the count reached zero
  add(Instruction.createBranch(Code.Jmp_rel32_64, fake(6)), fake(10));
  const enc = new BlockEncoder(64, BlockEncoderOptions.None);
  for (const i of ins) enc.add(i);
  return enc.encode(stubEnd);
}

for (const fn of functions) {
  const sym = symbols.get(fn);
  if (!sym) { console.error(`softcount-plan: no function ${fn} in ${elfPath}`); process.exit(2); }
  const seg = segments.find((s) => sym.addr >= s.addr && sym.addr < s.addr + BigInt(s.size));
  const list = decodeRange(seg, sym.addr, sym.addr + sym.size);
  let covered = -1;
  for (let k = 0; k < list.length; k++) {
    if (!isCounted(list[k])) continue;
    branches++;
    const w = windowFor(list, k);
    if (!w || w[0] <= covered) { unpatched++; continue; }
    const [i, j, len] = w;
    covered = j - 1;
    const site = list[i].ip;
    const bytes = stubFor(list.slice(i, j), site);
    stubParts.push(bytes);
    const jmp = new BlockEncoder(64, BlockEncoderOptions.None);
    const j5 = Instruction.createBranch(Code.Jmp_rel32_64, stubEnd);
    j5.ip = site;
    jmp.add(j5);
    const patch = Buffer.alloc(len, 0xcc);
    Buffer.from(jmp.encode(site)).copy(patch);
    patches.push({ addr: site, bytes: patch });
    stubEnd += BigInt(bytes.length);
  }
}

const stub = Buffer.concat([Buffer.alloc(64), ...stubParts.map((p) => Buffer.from(p))]);
const parts = [Buffer.from('SCP1')];
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
parts.push(u64(stubBase), u64(counterAddr), u32(stub.length), stub, u32(patches.length));
for (const p of patches) parts.push(u64(p.addr), u32(p.bytes.length), p.bytes);
writeFileSync(outPath, Buffer.concat(parts));
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(JSON.stringify({ elf: elfPath, functions: functions.length > 5 ? functions.length : functions, branches, patched: patches.length, unpatched, stubBytes: stub.length, codeBytes, codeBranches, scanMs: +scanMs.toFixed(1), planMs: +ms.toFixed(1) }));
