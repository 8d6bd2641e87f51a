// LLDB's packets at the protocol level, against a served replay: what LLDB >= 21
// sends for `process continue --reverse` (not packaged here, so its packets are
// sent by hand, per its documentation and its reverse-execution tests), the
// queries lldb-19 relies on (host and process info, memory regions, the r_debug
// slot, the thread suffix, error strings), and the 'x' packet in both flavours.
import { execFileSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { programPath } from '../helpers.js';
import { record, startServer, type Server } from './gdb-support.js';
import { RspClient, ripOf, type Symbols } from './rsp-client.js';

const LLDB_QSUPPORTED = 'qSupported:xmlRegisters=i386,arm,mips,arc;multiprocess+;fork-events+;vfork-events+';
const program = programPath('gdbdemo');
const hex = (s: string) => Buffer.from(s).toString('hex');
let demo: string;

beforeAll(() => {
  demo = record(program);
});

let server: Server | undefined;
let client: RspClient | undefined;
afterEach(() => {
  client?.close();
  server?.kill();
  client = server = undefined;
});

/** A connection set up as lldb-19 sets it up. */
async function lldbConnect(qSupported = LLDB_QSUPPORTED): Promise<{ c: RspClient; supported: string; tid: number }> {
  server = await startServer(demo);
  const c = (client = await RspClient.connect(server.port));
  await c.noAck();
  const supported = await c.request(qSupported);
  expect(await c.request('QThreadSuffixSupported')).toBe('OK');
  expect(await c.request('QListThreadsInStopReply')).toBe('OK');
  const tid = parseInt(/^QCp[0-9a-f]+\.([0-9a-f]+)$/.exec(await c.request('qC'))![1], 16);
  return { c, supported, tid };
}

/** key:value pairs of an LLDB query reply. */
function pairs(reply: string): Map<string, string> {
  return new Map(reply.split(';').filter(Boolean).map((kv) => kv.split(':', 2) as [string, string]));
}

/** Run-time address of a data symbol: nm's value plus the load bias of a code symbol. */
function dataSymbol(sym: Symbols, name: string): bigint {
  const nm = execFileSync('nm', ['--defined-only', program], { encoding: 'utf8' });
  const value = (n: string, types: string) => BigInt('0x' + new RegExp(`^([0-9a-f]+) [${types}] ${n}$`, 'm').exec(nm)![1]);
  return sym.square.addr - value('square', 'Tt') + value(name, 'BbDd');
}

async function readInt(c: RspClient, addr: bigint): Promise<number> {
  c.sendPacket(`x${addr.toString(16)},4`);
  const data = await c.packetBytes();
  expect(data.length).toBe(4);
  return data.readInt32LE(0);
}

describe('LLDB >= 21: process continue --reverse (bc, bs)', () => {
  it('advertises reverse execution; bc to the previous hit of a breakpoint, bs off it, bc to the start of the history', async () => {
    const { c, supported, tid } = await lldbConnect();
    expect(supported.split(';')).toEqual(expect.arrayContaining(['ReverseContinue+', 'ReverseStep+']));
    const sym = await c.symbols(program, ['square', 'add_squares']);
    const counter = dataSymbol(sym, 'counter');
    const square = sym.square.addr.toString(16);
    const t = tid.toString(16);
    // stop in add_squares (no breakpoint there, so LLDB's bc is all it sends), after the
    // second call of square returned: walk's first iteration, counter 1
    expect(await c.request(`Z0,${square},1`)).toBe('OK');
    for (let i = 0; i < 2; i++) expect(await c.resume(`vCont;c:p${t}.-1`)).toMatch(/^T05.*swbreak:;/);
    expect(await c.request(`z0,${square},1`)).toBe('OK');
    const inside = (f: { addr: bigint; size: bigint }, at: bigint) => at >= f.addr && at < f.addr + f.size;
    let pc = sym.square.addr;
    while (inside(sym.square, pc)) {
      await c.resume(`vCont;s:p${t}.${t}`);
      pc = ripOf(await c.request(`g;thread:${t};`));
    }
    expect(inside(sym.add_squares, pc)).toBe(true);
    expect(await c.request(`Z0,${square},1`)).toBe('OK');
    // back to the second call: LLDB's "breakpoint" stop
    const hit = await c.resume('bc');
    expect(hit).toMatch(new RegExp(`^T05.*swbreak:;.*threads:${t};thread-pcs:${square};`));
    expect(ripOf(await c.request(`g;thread:${t};`))).toBe(sym.square.addr);
    expect(await readInt(c, counter)).toBe(1);
    // from a breakpoint LLDB first steps off it backwards, the breakpoint lifted
    expect(await c.request(`z0,${square},1`)).toBe('OK');
    const off = await c.resume('bs');
    expect(off).toMatch(/^T05/);
    expect(off).not.toContain(`thread-pcs:${square};`);
    // LLDB's "history boundary": with no breakpoint, bc goes back to the start
    expect(await c.resume('bc')).toMatch(/^T05.*replaylog:begin;/);
    expect(await c.request(`qThreadStopInfo${t}`)).toMatch(/^T05.*replaylog:begin;/);
    // and forward again, to the first call
    expect(await c.request(`Z0,${square},1`)).toBe('OK');
    expect(await c.resume(`vCont;c:p${t}.-1`)).toMatch(new RegExp(`^T05.*swbreak:;.*thread-pcs:${square};`));
    expect(await readInt(c, counter)).toBe(1);
  });

  // LLDB >= 21 sends exactly this when it reverse-continues from a breakpoint: z0, bs,
  // Z0, bc. (The step back used to land in the future, so bc found the hit it left.)
  it('bs off a breakpoint then bc reaches the previous hit', async () => {
    const { c, tid } = await lldbConnect();
    const sym = await c.symbols(program, ['square']);
    const counter = dataSymbol(sym, 'counter');
    const square = sym.square.addr.toString(16);
    expect(await c.request(`Z0,${square},1`)).toBe('OK');
    for (let i = 0; i < 3; i++) await c.resume(`vCont;c:p${tid.toString(16)}.-1`);
    expect(await readInt(c, counter)).toBe(2);
    expect(await c.request(`z0,${square},1`)).toBe('OK');
    await c.resume('bs');
    expect(await c.request(`Z0,${square},1`)).toBe('OK');
    expect(await c.resume('bc')).toMatch(/^T05.*swbreak:;/);
    expect(await readInt(c, counter)).toBe(1);
  });

  it('bs undoes exactly one instruction: registers as before the forward step', async () => {
    const { c, tid } = await lldbConnect();
    const sym = await c.symbols(program, ['walk']);
    expect(await c.request(`Z0,${sym.walk.addr.toString(16)},1`)).toBe('OK');
    await c.resume('vCont;c');
    expect(await c.request(`z0,${sym.walk.addr.toString(16)},1`)).toBe('OK');
    const before = await c.request(`g;thread:${tid.toString(16)};`);
    const step = await c.resume(`vCont;s:p${tid.toString(16)}.${tid.toString(16)}`);
    expect(step).toMatch(/^T05/);
    expect(await c.request('g')).not.toBe(before);
    expect(await c.resume('bs')).toMatch(/^T05/);
    expect(await c.request(`g;thread:${tid.toString(16)};`)).toBe(before);
  });
});

describe("lldb-19's queries", () => {
  it('qHostInfo, qProcessInfo', async () => {
    const { c, tid } = await lldbConnect();
    const host = pairs(await c.request('qHostInfo'));
    expect(host.get('triple')).toBe(hex('x86_64-pc-linux-gnu'));
    expect(host.get('ptrsize')).toBe('8');
    expect(host.get('endian')).toBe('little');
    const proc = pairs(await c.request('qProcessInfo'));
    expect(proc.get('pid')).toBe(tid.toString(16));
    expect(proc.get('triple')).toBe(hex('x86_64-pc-linux-gnu'));
    expect(proc.get('ostype')).toBe('linux');
    expect(proc.get('effective-uid')).toBe((process.geteuid?.() ?? 0).toString(16));
  });

  it('qMemoryRegionInfo: the recorded names, the permissions, gaps without permissions', async () => {
    const { c } = await lldbConnect();
    const sym = await c.symbols(program, ['walk']);
    expect(await c.request(`Z0,${sym.walk.addr.toString(16)},1`)).toBe('OK');
    await c.resume('vCont;c');
    const region = async (addr: bigint) => pairs(await c.request(`qMemoryRegionInfo:${addr.toString(16)}`));
    const code = await region(sym.walk.addr);
    expect(code.get('permissions')).toBe('rx');
    expect(Buffer.from(code.get('name')!, 'hex').toString()).toMatch(/\/gdbdemo$/);
    const start = BigInt('0x' + code.get('start'));
    expect(start <= sym.walk.addr && sym.walk.addr < start + BigInt('0x' + code.get('size'))).toBe(true);
    const rsp = Buffer.from((await c.request('g')).slice(7 * 16, 8 * 16), 'hex').readBigUInt64LE(0);
    const stack = await region(rsp);
    expect(stack.get('permissions')).toBe('rw');
    expect(Buffer.from(stack.get('name')!, 'hex').toString()).toBe('[stack]');
    const low = await region(0n);
    expect(low.has('permissions')).toBe(false);
    expect(low.get('start')).toBe('0');
    // libc's code, mapped by ld.so after the recording's exec: named from the map-file event
    const puts = await region(BigInt('0x' + /l_addr="0x([0-9a-f]+)"/.exec(await svr4Libc(c))![1]) + 0x30000n);
    expect(Buffer.from(puts.get('name')!, 'hex').toString()).toMatch(/libc\.so\.6$/);
  });

  it("qShlibInfoAddr: the executable's DT_DEBUG slot, whose r_debug has r_brk in ld.so", async () => {
    const { c } = await lldbConnect();
    const sym = await c.symbols(program, ['main']);
    expect(await c.request(`Z0,${sym.main.addr.toString(16)},1`)).toBe('OK');
    await c.resume('vCont;c');
    const slot = BigInt('0x' + (await c.request('qShlibInfoAddr')));
    expect((await pairs(await c.request(`qMemoryRegionInfo:${slot.toString(16)}`))).get('name')).toBe(hex(program));
    const word = async (addr: bigint) => Buffer.from(await c.request(`m${addr.toString(16)},8`), 'hex').readBigUInt64LE(0);
    const rDebug = await word(slot);
    expect(rDebug).not.toBe(0n);
    const rBrk = await word(rDebug + 16n);
    const where = pairs(await c.request(`qMemoryRegionInfo:${rBrk.toString(16)}`));
    expect(where.get('permissions')).toBe('rx');
    expect(Buffer.from(where.get('name')!, 'hex').toString()).toMatch(/ld-linux-x86-64\.so\.2$/);
  });

  it('thread suffix, error strings, k answered for LLDB', async () => {
    const { c, tid } = await lldbConnect();
    expect(await c.request(`p10;thread:${tid.toString(16)};`)).toMatch(/^[0-9a-f]{16}$/);
    expect(await c.request(`g;thread:${(tid + 1).toString(16)};`)).toBe('E04');
    expect(await c.request('m0,4')).toBe('E02');
    expect(await c.request('QEnableErrorStrings')).toBe('OK');
    const err = await c.request('m0,4');
    expect(err).toMatch(/^E02;[0-9a-f]+$/);
    expect(Buffer.from(err.slice(4), 'hex').toString()).toMatch(/\S/);
    expect(await c.request('k')).toBe(`X09;process:${tid.toString(16)}`);
  });
});

describe("the 'x' packet", () => {
  it("lldb-19's flavour: x0,0 probes, the answer is the raw bytes", async () => {
    const { c, supported } = await lldbConnect();
    expect(supported).not.toContain('binary-upload');
    const sym = await c.symbols(program, ['square']);
    expect(await c.request('x0,0')).toBe('OK');
    const at = sym.square.addr.toString(16);
    c.sendPacket(`x${at},40`);
    const raw = await c.packetBytes();
    expect(raw.toString('hex')).toBe(await c.request(`m${at},40`));
    expect(await c.request('x0,4')).toBe('E02');
  });

  it("binary-upload (gdb >= 16's flavour) when the client offers it: 'b' and the bytes", async () => {
    const { c, supported } = await lldbConnect(`${LLDB_QSUPPORTED};binary-upload+`);
    expect(supported.split(';')).toContain('binary-upload+');
    const sym = await c.symbols(program, ['square']);
    const at = sym.square.addr.toString(16);
    c.sendPacket(`x${at},40`);
    const reply = await c.packetBytes();
    expect(reply.subarray(0, 1).toString()).toBe('b');
    expect(reply.subarray(1).toString('hex')).toBe(await c.request(`m${at},40`));
  });
});

/** The libc entry of the libraries-svr4 list. */
async function svr4Libc(c: RspClient): Promise<string> {
  const doc = await c.request('qXfer:libraries-svr4:read::0,8000');
  const lib = /<library name="[^"]*libc\.so\.6"[^>]*>/.exec(doc);
  if (!lib) throw new Error(`no libc in ${doc}`);
  return lib[0];
}
