// The native Debugger object (addon/debugger.h, addon/debug_exports.cc) on a real
// replayed process: its state belongs to the object JS holds (not to a pid), copies
// leave its breakpoints behind, a run that fails takes nothing of itself along into
// the process, and after dispose() it refuses clearly and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceReader } from '../../src/history/index.js';
import { getReg } from '../../src/arch/registers.js';
import { native, RunMode, type DebugRunOptions, type NativeTracee, type ProcessDebugger } from '../../src/native/addon.js';
import { firstExec, startReplayProcess } from '../../src/replay/replay-process.js';
import { STUB_SYSCALL } from '../../src/replay/stub.js';
import { encodeSyscallTable } from '../../src/syscalls/table.js';
import { programPath } from '../helpers.js';
import { record } from './gdb-support.js';

const INT3 = 0xcc;

describe('the native Debugger object', () => {
  let trace: TraceReader;
  const tracees: NativeTracee[] = [];

  async function replayProcess(): Promise<{ proc: NativeTracee; pc: bigint }> {
    const t = await startReplayProcess(trace, firstExec(trace).snapshot);
    tracees.push(t);
    return { proc: t, pc: getReg(await native().getRegs(t.pid), 'rip') };
  }

  async function byteAt(t: NativeTracee, addr: bigint): Promise<number> {
    const b = await t.readMemory(addr, 1);
    expect(b.length).toBe(1);
    return b[0];
  }

  beforeAll(() => {
    trace = TraceReader.open(record(programPath('hello')));
  });

  afterAll(async () => {
    for (const t of tracees) if (!t.closed) await t.close();
  });

  it('keeps its breakpoints per object; a copy holds none of them', async () => {
    const { proc, pc } = await replayProcess();
    const program = await byteAt(proc, pc);
    expect(program).not.toBe(INT3);
    const d: ProcessDebugger = new (native().Debugger)(proc);
    expect(d.pid).toBe(proc.pid);
    expect(await d.insertBreakpoint(pc)).toBe(program);
    expect(await byteAt(proc, pc)).toBe(INT3);
    // inserting again answers the program's byte, not the int3 over it
    expect(await d.insertBreakpoint(pc)).toBe(program);

    const copy = await d.forkCopy(STUB_SYSCALL);
    tracees.push(copy);
    expect(await byteAt(copy, pc)).toBe(program);
    expect(await byteAt(proc, pc)).toBe(INT3);
    // the copy's own debugger knows nothing of the parent's breakpoint
    const c = new (native().Debugger)(copy);
    expect(await c.insertBreakpoint(pc)).toBe(program);
    await c.removeBreakpoint(pc);
    expect(await byteAt(copy, pc)).toBe(program);
    await c.dispose();

    await d.removeBreakpoint(pc);
    expect(await byteAt(proc, pc)).toBe(program);
    await d.dispose();
  });

  it('a run that fails leaves none of its own breakpoints in the process', async () => {
    const { proc, pc } = await replayProcess();
    const program = await byteAt(proc, pc);
    const d = new (native().Debugger)(proc);
    // one record header claiming 4096 bytes in a 12-byte buffer: the loop refuses it
    const damaged = Buffer.alloc(12);
    damaged.writeUInt32LE(4096, 0);
    damaged[4] = 1;
    await expect(d.run(encodeSyscallTable(), damaged, 0, 1, { mode: RunMode.continue, fresh: true, event: 1, silent: [pc] }))
      .rejects.toThrow(/event record overruns its chunk/);
    expect(await byteAt(proc, pc)).toBe(program);
    // and the debugger goes on: its state was put back as before the run
    expect(await d.insertBreakpoint(pc)).toBe(program);
    await d.removeBreakpoint(pc);
    await d.dispose();
  });

  it('after dispose() every call rejects with EDISPOSED and the process is untouched', async () => {
    const { proc, pc } = await replayProcess();
    const program = await byteAt(proc, pc);
    const d = new (native().Debugger)(proc);
    await d.dispose();
    const disposed = { code: 'EDISPOSED', message: expect.stringMatching(new RegExp(`debugger of process ${proc.pid} was disposed`)) };
    await expect(d.insertBreakpoint(pc)).rejects.toMatchObject(disposed);
    await expect(d.setPosition(1, true, pc, 1)).rejects.toMatchObject(disposed);
    await expect(d.setDebugRegs([null, null, null, null])).rejects.toMatchObject(disposed);
    await expect(d.forkCopy(STUB_SYSCALL)).rejects.toMatchObject(disposed);
    await expect(d.dispose()).rejects.toMatchObject(disposed);
    expect(d.interrupt()).toBe(false);
    expect(await byteAt(proc, pc)).toBe(program);
  });

  it('refuses bad arguments synchronously, with its usage', async () => {
    const { proc, pc } = await replayProcess();
    const n = native();
    const loose = n.Debugger as unknown as new (p: unknown) => ProcessDebugger;
    expect(() => new loose(0)).toThrow(/bad arguments \(usage: new Debugger\(tracee/);
    expect(() => new loose(proc.pid)).toThrow(TypeError);
    expect(() => new loose('1')).toThrow(TypeError);
    const d = new n.Debugger(proc);
    const badSlot = { addr: pc, type: 2, len: 1 } as unknown as { addr: bigint; type: 1; len: 1 };
    expect(() => d.setDebugRegs([badSlot, null, null, null])).toThrow(/usage: setDebugRegs/);
    expect(() => d.insertBreakpoint(Number(pc) as unknown as bigint)).toThrow(/usage: insertBreakpoint/);
    const run = (opts: object) => () => d.run(encodeSyscallTable(), Buffer.alloc(0), 0, 1, opts as DebugRunOptions);
    expect(run({ mode: 0, fresh: true, event: 1, silent: [Number(pc)] })).toThrow(/usage: run\(/);
    expect(run({ mode: 3, fresh: true, event: 1 })).toThrow(/usage: run\(/);
    expect(run({ mode: 0, fresh: true, event: 1, target: { kind: 0, event: 1, pc } })).toThrow(/usage: run\(/);
    expect(run({ mode: 0, fresh: true, event: 1, slices: [1000] })).toThrow(/usage: run\(/);
    // nothing of a refused call reached the process
    expect(await byteAt(proc, pc)).not.toBe(INT3);
    await d.dispose();
  });
});
