// Bad input is answered with an error and leaves no trace: a watchpoint the CPU
// refuses, register values the kernel refuses (G and P), a breakpoint at an
// unmapped address, one watchpoint too many; each changes nothing,
// and what came before still works. A client that disconnects in the middle of
// a continue leaves the server serving the next one a fresh replay.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { programPath } from '../helpers.js';
import { REGNO, registerLayout } from '../../src/arch/register-layout.js';
import { debugReplay, record, startServer, type Server } from './gdb-support.js';
import { RspClient, type Symbols } from './rsp-client.js';

let demo: string;
let loop: string;
let server: Server;

beforeAll(async () => {
  demo = record(programPath('gdbdemo'));
  // a continue of a second or two: usually still running when the client goes
  loop = record(programPath('revloop'), ['300000000']); // long enough for a continue to be under way 300 ms in; recorded in seconds even on a loaded machine
  server = await startServer(demo, [], { lifetimeMs: 5 * 60_000 }); // keeps serving: no --once
});

afterAll(() => server?.kill());

/** A connection that is closed when the test ends, passed or failed: the server serves one at a time. */
async function connect(port: number): Promise<RspClient> {
  const c = await RspClient.connect(port);
  onTestFinished(() => c.close());
  return c;
}

const hex = (s: string) => Buffer.from(s).toString('hex');

async function monitor(c: RspClient, command: string): Promise<string> {
  c.sendPacket('qRcmd,' + hex(command));
  let text = '';
  for (;;) {
    const p = await c.packet();
    if (p === 'OK') return text;
    expect(p[0], `monitor ${command}: ${p}`).toBe('O');
    text += Buffer.from(p.slice(1), 'hex').toString();
  }
}

/** A new connection (a fresh replay), stopped at main. */
async function atMain(): Promise<{ c: RspClient; sym: Symbols }> {
  const c = await connect(server.port);
  const sym = await c.symbols(programPath('gdbdemo'), ['main', 'counter', 'total', 'origin', 'greeting']);
  expect(await c.request(`Z0,${sym.main.addr.toString(16)},1`)).toBe('OK');
  expect(await c.resume('vCont;c')).toMatch(/^T05.*swbreak/);
  expect(await c.request(`z0,${sym.main.addr.toString(16)},1`)).toBe('OK');
  return { c, sym };
}

/** The `g` packet with one register set to `value` (little-endian, the register's size). */
function withRegister(g: string, name: string, value: bigint): string {
  const info = registerLayout({ avx: g.length > 560 * 2 })[REGNO[name]];
  const bytes = Buffer.alloc(info.bytes);
  for (let i = 0; i < info.bytes; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return g.slice(0, info.offset * 2) + bytes.toString('hex') + g.slice((info.offset + info.bytes) * 2);
}

const leHex = (value: bigint, size: number) => Buffer.from(Array.from({ length: size }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn))).toString('hex');

describe('a watchpoint the CPU refuses', () => {
  it('is answered E02 and leaves no slot behind: monitor restart and vRun work', async () => {
    const c = await connect(server.port);
    expect(await c.request('Z2,ffffffffffff0000,8')).toBe('E02');
    expect(await monitor(c, 'restart')).toBe('restarted at event 0\n');
    expect(await c.resume('vRun;')).toMatch(/^T05/);
    expect(await monitor(c, 'when')).toBe('Current event: 0\n');
    // and the replay still runs to its end
    expect(await c.runToExit()).toMatch(/^W03/);
    c.close();
  });

  it('left behind by a client that goes, does not stop the server ending that replay', async () => {
    const c = await connect(server.port);
    expect(await c.request('Z2,ffffffffffff0000,8')).toBe('E02');
    expect(await c.request('Z2,7ffffffff000,8')).toBe('E02');
    c.close();
    const next = await connect(server.port);
    expect(await next.resume('?')).toMatch(/^T05/);
    expect(await next.runToExit()).toMatch(/^W03/);
    next.close();
    expect(server.child.exitCode).toBeNull();
    expect(server.stderr()).not.toMatch(/cannot end the replay|internal error|connection failed/);
  });

  it('through gdb: `watch` at that address fails to insert, and `monitor restart` works', async () => {
    // the last continue replays the exit: the one before stops at the recorded end
    const { gdb, server: log } = await debugReplay(demo, ['watch *(long*)0xffffffffffff0000', 'continue', 'monitor restart', 'delete', 'continue', 'continue']);
    const out = gdb.stdout.toString() + gdb.stderr.toString();
    expect(out).toContain('Could not insert hardware watchpoint 2');
    expect(out).toContain('restarted at event 0');
    expect(out).not.toMatch(/Protocol error|internal error/);
    expect(out).toMatch(/exited with code 03/);
    expect(log).not.toMatch(/internal error/);
  });
});

describe('register values the kernel refuses', () => {
  it('G with a bad cs selector: E06, and g afterwards equals g before (the registers before it are put back)', async () => {
    const { c } = await atMain();
    const before = await c.registers();
    // rax changes first, then cs with requested privilege level 0, which the kernel refuses
    const bad = withRegister(withRegister(before, 'rax', 0x1234n), 'cs', 0x30n);
    expect(await c.request('G' + bad)).toBe('E06');
    expect(await c.registers()).toBe(before);
    // a non-canonical fs_base likewise
    expect(await c.request('G' + withRegister(withRegister(before, 'rbx', 0x5678n), 'fs_base', 0x0000800000000000n))).toBe('E06');
    expect(await c.registers()).toBe(before);
    // and a good G still works, and is undone by the continue that follows
    expect(await c.request('G' + withRegister(before, 'rax', 0x1234n))).toBe('OK');
    expect(await c.request(`p${REGNO.rax.toString(16)}`)).toBe(leHex(0x1234n, 8));
    expect(await c.runToExit()).toMatch(/^W03/);
    c.close();
  });

  it('P with a bad cs or fs_base: E06, and the register keeps its value', async () => {
    const { c } = await atMain();
    const before = await c.registers();
    const cs = await c.request(`p${REGNO.cs.toString(16)}`);
    const fsBase = await c.request(`p${REGNO.fs_base.toString(16)}`);
    expect(await c.request(`P${REGNO.cs.toString(16)}=${leHex(0x30n, 4)}`)).toBe('E06');
    expect(await c.request(`P${REGNO.fs_base.toString(16)}=${leHex(0x0000800000000000n, 8)}`)).toBe('E06');
    expect(await c.request(`p${REGNO.cs.toString(16)}`)).toBe(cs);
    expect(await c.request(`p${REGNO.fs_base.toString(16)}`)).toBe(fsBase);
    expect(await c.registers()).toBe(before);
    expect(await c.runToExit()).toMatch(/^W03/);
    c.close();
  });
});

describe('breakpoints and watchpoints that cannot be', () => {
  it('Z0 at an unmapped address: E02, and the replay unchanged', async () => {
    const { c } = await atMain();
    const before = await c.registers();
    for (const at of ['1000', 'ffffffffffff0000', '7ffffffff000']) {
      expect(await c.request(`Z0,${at},1`)).toBe('E02');
      expect(await c.request(`m${at},1`)).toBe('E02');
      // removing what was never inserted is harmless
      expect(await c.request(`z0,${at},1`)).toBe('OK');
    }
    expect(await c.registers()).toBe(before);
    expect(await c.runToExit()).toMatch(/^W03/);
    c.close();
  });

  it('one watchpoint too many: E05, and the ones before still trigger', async () => {
    const { c, sym } = await atMain();
    const z2 = (addr: bigint, len: number) => c.request(`Z2,${addr.toString(16)},${len.toString(16)}`);
    expect(await z2(sym.counter.addr, 4)).toBe('OK');
    expect(await z2(sym.total.addr, 8)).toBe('OK');
    expect(await z2(sym.origin.addr, 8)).toBe('OK');
    // 16 bytes need at least two more debug registers: one too many
    expect(await z2(sym.greeting.addr, 16)).toBe('E05');
    expect(await c.request(`Z2,${sym.greeting.addr.toString(16)},1000`)).toBe('E05');
    const seen = new Set<bigint>();
    for (let i = 0; i < 20; i++) {
      const stop = await c.resume('vCont;c');
      if (stop.startsWith('W')) {
        expect(stop).toMatch(/^W03/);
        break;
      }
      if (/replaylog:end;/.test(stop)) continue; // the recorded end; the next continue replays the exit
      const m = /watch:([0-9a-f]+);/.exec(stop);
      expect(m, stop).not.toBeNull();
      seen.add(BigInt('0x' + m![1]));
    }
    expect([...seen].sort()).toEqual([sym.counter.addr, sym.total.addr, sym.origin.addr].sort());
    c.close();
  });
});

describe('a client that goes away in the middle of a continue', () => {
  it('leaves the server serving the next client a fresh replay', async () => {
    const s = await startServer(loop, []);
    try {
      const first = await connect(s.port);
      expect(await first.resume('?')).toMatch(/^T05/);
      first.sendPacket('vCont;c');
      // most likely the continue is under way when the client goes; if the machine is
      // slow and it has not started yet, the client goes just before it: both must work
      await new Promise((r) => setTimeout(r, 300));
      first.close();
      const next = await connect(s.port);
      expect(await next.resume('?')).toMatch(/^T05/);
      expect(await monitor(next, 'when')).toBe('Current event: 0\n');
      expect(await next.runToExit(60_000)).toMatch(/^W00/);
      next.close();
      expect(s.child.exitCode).toBeNull();
      expect(s.stderr()).not.toMatch(/internal error|connection failed|cannot end the replay/);
    } finally {
      s.kill();
    }
  });
});
