// What the protocol fuzz test (fuzz.test.ts) found, each pinned down as the
// smallest sequence of packets that showed it: a watchpoint length that hung the
// server, registers that broke the copy made for gdb's own code, a reverse-continue
// that could not reach the watchpoint trigger it found, and a breakpoint in data
// that keeps the replay from retracing its steps.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { programPath } from '../helpers.js';
import { REGNO, registerLayout } from '../../src/arch/register-layout.js';
import { record, startServer, type Server } from './gdb-support.js';
import { RspClient } from './rsp-client.js';

const EXE = programPath('gdbdemo');
let server: Server;

beforeAll(async () => {
  server = await startServer(record(EXE), [], { lifetimeMs: 5 * 60_000 }); // keeps serving: no --once
});

afterAll(() => server?.kill());

/** A connection that is closed when the test ends, passed or failed: the server serves one at a time. */
async function connect(port: number): Promise<RspClient> {
  const c = await RspClient.connect(port);
  onTestFinished(() => c.close());
  return c;
}

/** The executable's load bias in the replay (AT_ENTRY minus e_entry). */
async function loadBias(c: RspClient): Promise<bigint> {
  return (await c.auxv()).get(9 /* AT_ENTRY */)! - readFileSync(EXE).readBigUInt64LE(24);
}

/** The run-time address where a source line of gdbdemo.c starts (gdb reads the line table). */
async function lineAddress(c: RspClient, line: number): Promise<bigint> {
  const out = execFileSync('gdb', ['-batch', '-nx', '-ex', `info line gdbdemo.c:${line}`, EXE], { encoding: 'utf8' });
  const m = /starts at address 0x([0-9a-f]+)/.exec(out);
  if (!m) throw new Error(`gdb did not find line ${line}: ${out}`);
  return BigInt('0x' + m[1]) + (await loadBias(c));
}

/** The run-time address of the bytes `text` in the executable's .rodata. */
async function rodataAddress(c: RspClient, text: string): Promise<bigint> {
  const sections = execFileSync('readelf', ['-SW', EXE], { encoding: 'utf8' });
  const m = /\.rodata\s+PROGBITS\s+([0-9a-f]+) ([0-9a-f]+)/.exec(sections)!;
  const at = readFileSync(EXE).indexOf(text);
  return BigInt('0x' + m[1]) + BigInt(at - parseInt(m[2], 16)) + (await loadBias(c));
}

/** The run-time address of the GOT slot through which the program calls `fn`. */
async function gotSlot(c: RspClient, fn: string): Promise<bigint> {
  const relocs = execFileSync('readelf', ['-rW', EXE], { encoding: 'utf8' });
  const m = new RegExp(`^([0-9a-f]+)\\s+\\S+\\s+R_X86_64_(?:JUMP_SLOT|GLOB_DAT)\\s+\\S+\\s+${fn}@`, 'm').exec(relocs);
  if (!m) throw new Error(`no relocation for ${fn}:\n${relocs}`);
  return BigInt('0x' + m[1]) + (await loadBias(c));
}

/** A new connection (a fresh replay), stopped at address `at`. */
async function stoppedAt(at: (c: RspClient) => Promise<bigint>): Promise<RspClient> {
  const c = await connect(server.port);
  const addr = (await at(c)).toString(16);
  expect(await c.request(`Z0,${addr},1`)).toBe('OK');
  expect(await c.resume('vCont;c')).toMatch(/^T05.*swbreak/);
  expect(await c.request(`z0,${addr},1`)).toBe('OK');
  return c;
}

const main = async (c: RspClient) => (await c.symbols(EXE, ['main'])).main.addr;

function setRegister(g: string, name: string, value: bigint): string {
  const info = registerLayout({ avx: g.length > 560 * 2 })[REGNO[name]];
  const bytes = Buffer.alloc(info.bytes);
  for (let i = 0; i < info.bytes; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return g.slice(0, info.offset * 2) + bytes.toString('hex') + g.slice((info.offset + info.bytes) * 2);
}

it('a watchpoint of length ffffffff is answered E05 at once, not split into half a billion pieces', async () => {
  const c = await stoppedAt(main);
  const greeting = (await c.symbols(EXE, ['greeting'])).greeting.addr.toString(16);
  expect(await c.request(`Z4,${greeting},ffffffff`)).toBe('E05');
  expect(await c.request(`Z2,${greeting},21`)).toBe('E05');
  expect(await c.request(`Z2,${greeting},8`)).toBe('OK');
  c.close();
});

it('gdb code run with a cs the kernel accepts but cannot run: the copy faults, the replay goes on', async () => {
  const c = await stoppedAt(main);
  const before = await c.registers();
  // RPL 3, so the kernel takes it; no instruction runs with it, not even the injected fork
  expect(await c.request('G' + setRegister(setRegister(before, 'rip', 0n), 'cs', 0xca1bn))).toBe('OK');
  expect(await c.resume('vCont;c')).toMatch(/^T0b/);
  // back at the recorded pc and stack: the replay goes on as recorded
  expect(await c.request('G' + before)).toBe('OK');
  expect(await c.runToExit()).toMatch(/^W03/);
  c.close();
});

it('reverse-continue reaches the watchpoint trigger it finds with a hardware breakpoint also set', async () => {
  const c = await connect(server.port);
  const format = await rodataAddress(c, 'len=%zu');
  const square = (await c.symbols(EXE, ['square'])).square.addr;
  // printf reads its format: the access stops the replay there
  expect(await c.request(`Z4,${format.toString(16)},4`)).toBe('OK');
  const stop = await c.resume('vCont;c');
  expect(stop).toMatch(new RegExp(`^T05.*awatch:${format.toString(16)};`));
  // square ran in the same interval, before that read
  expect(await c.request(`Z1,${square.toString(16)},1`)).toBe('OK');
  const back = await c.resume('bc');
  expect(back, c.console).toMatch(new RegExp(`^T05.*awatch:${format.toString(16)};`));
  expect(c.console).toBe('');
  c.close();
});

it('a breakpoint in data keeps the replay from retracing its steps: reverse-continue stays and says why', async () => {
  const c = await stoppedAt((x) => lineAddress(x, 44)); // after printf
  const before = await c.registers();
  // an int3 in printf's GOT slot: a replay from before the call now jumps elsewhere
  const slot = ((await gotSlot(c, 'printf')) + 1n).toString(16);
  expect(await c.request(`Z0,${slot},1`)).toBe('OK');
  expect(await c.resume('bc', 60_000)).toMatch(/^T05.*replaylog:begin;/);
  expect(c.console).toContain('cannot go back from here');
  expect(await c.registers()).toBe(before);
  expect(await c.request(`z0,${slot},1`)).toBe('OK');
  expect(await c.runToExit()).toMatch(/^W03/);
  c.close();
  expect(server.stderr()).not.toMatch(/internal error/);
});
