// The native Tracee object (addon/tracee.h, addon/tracee_exports.cc): a replayed
// process's state (its replay session, CPUID emulation, /proc/pid/mem) lives in an
// object JS owns, not in tables keyed by pid. Closing it kills the process (no
// orphan) and every later call refuses with EDISPOSED; a fork copy is a Tracee of
// its own that replays on after its parent is gone; one garbage collected without
// close() has its process killed too; and kill(pid) leaves alone a process the
// addon does not trace. Driven on a real replay of a real program.
import { spawn } from 'node:child_process';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getReg } from '../../src/arch/registers.js';
import { TraceReader } from '../../src/history/index.js';
import { native, type NativeTracee } from '../../src/native/addon.js';
import { applyJsEvent, firstExec, replayExec, startReplayProcess } from '../../src/replay/replay-process.js';
import { STUB_SYSCALL } from '../../src/replay/stub.js';
import { encodeSyscallTable } from '../../src/syscalls/table.js';
import { processAlive as alive, programPath } from '../helpers.js';
import { record } from './gdb-support.js';

const table = encodeSyscallTable();

/** Replays the tracee's events from `next` to its exit, as the headless replayer does; returns the exit and fd 1's text. */
async function replayToEnd(t: NativeTracee, trace: TraceReader, next: number): Promise<{ reason: string; code: number; out: string }> {
  let out = '';
  while (next < trace.eventCount) {
    const chunk = trace.readChunk(trace.chunkIndexOf(next));
    const offset = chunk.offsets[next - chunk.firstRecord];
    const r = await t.run(table, chunk.data.subarray(offset), 0, 1000);
    for (const e of r.echo) if (e.fd === 1) out += e.data.toString();
    next += r.count;
    switch (r.stop.reason) {
      case 'exited':
      case 'killed':
        return { reason: r.stop.reason, code: Number(r.stop.code ?? r.stop.signal), out };
      case 'exec':
        await replayExec(t, trace, next);
        next++;
        break;
      case 'need-js':
        expect(await applyJsEvent(t, trace, next)).toBeUndefined();
        next++;
        break;
      case 'end-of-buffer':
      case 'batch':
        break;
      default:
        throw new Error(`unexpected stop ${JSON.stringify(r.stop)}`);
    }
  }
  throw new Error('the trace ended before the program');
}

describe('the native Tracee object', () => {
  let trace: TraceReader;
  const opened: NativeTracee[] = [];

  async function start(): Promise<NativeTracee> {
    const t = await startReplayProcess(trace, firstExec(trace).snapshot);
    opened.push(t);
    return t;
  }

  beforeAll(() => {
    trace = TraceReader.open(record(programPath('hello')));
  });

  afterAll(async () => {
    for (const t of opened) if (!t.closed) await t.close();
  });

  it('close() kills its process; then every call rejects with EDISPOSED and a Debugger refuses it', async () => {
    const t = await start();
    const pid = t.pid;
    expect(alive(pid)).toBe(true);
    expect(t.closed).toBe(false);
    await t.close();
    expect(t.closed).toBe(true);
    expect(alive(pid)).toBe(false);
    expect(t.pid).toBe(pid);
    const closed = { code: 'EDISPOSED', message: expect.stringContaining(`tracee of process ${pid} was closed`) };
    await expect(t.readMemory(0x1000n, 1)).rejects.toMatchObject(closed);
    await expect(t.writeMemory(0x1000n, Buffer.from([0]))).rejects.toMatchObject(closed);
    await expect(t.run(table, Buffer.alloc(0), 0, 1)).rejects.toMatchObject(closed);
    await expect(t.setBrk(0n)).rejects.toMatchObject(closed);
    await expect(t.setProcess(1, false, true)).rejects.toMatchObject(closed);
    await expect(t.cpuidPatch(0n, 1n, [])).rejects.toMatchObject(closed);
    await expect(t.cpuidEnableFaulting()).rejects.toMatchObject(closed);
    await expect(t.forkCopy(STUB_SYSCALL)).rejects.toMatchObject(closed);
    await expect(t.close()).rejects.toMatchObject(closed);
    expect(() => new (native().Debugger)(t)).toThrow(expect.objectContaining({ code: 'EDISPOSED' }));
  });

  it('refuses bad arguments synchronously, with its usage, and changes nothing', async () => {
    const n = native();
    const loose = n.Tracee as unknown as new (p: unknown) => NativeTracee;
    expect(() => new loose(0)).toThrow(/bad arguments \(usage: new Tracee\(pid/);
    expect(() => new loose(1.5)).toThrow(TypeError);
    expect(() => new loose('1')).toThrow(TypeError);
    const t = await start();
    const before = await t.readMemory(STUB_SYSCALL, 2);
    expect(() => t.readMemory(Number(STUB_SYSCALL) as unknown as bigint, 2)).toThrow(/usage: readMemory/);
    expect(() => t.writeMemory(STUB_SYSCALL, [0x90, 0x90] as unknown as Buffer)).toThrow(/usage: writeMemory/);
    expect(() => t.cpuidPatch(0n, 1n, [1] as unknown as bigint[])).toThrow(/usage: cpuidPatch/);
    expect(() => t.setProcess('1' as unknown as number, false, true)).toThrow(/usage: setProcess/);
    // a thread's exec (addon/replay_thread_exec.h) wants two threads of one process
    expect(() => n.execFromThread(t, t.pid as unknown as NativeTracee)).toThrow(/usage: execFromThread/);
    await expect(n.execFromThread(t, t)).rejects.toThrow(`thread ${t.pid} is not a thread of process ${t.pid} other than its first`);
    expect((await t.readMemory(STUB_SYSCALL, 2)).equals(before)).toBe(true);
    expect(alive(t.pid)).toBe(true);
    await t.close();
  });

  it('a fork copy is a Tracee of its own: its memory is its own, and it replays on to the end after its parent is closed', async () => {
    const t = await start();
    const first = await t.forkCopy(STUB_SYSCALL);
    opened.push(first);
    const expected = await replayToEnd(first, trace, 1);
    expect(expected.reason).toBe('exited');
    expect(expected.out).toContain('hello');

    const copy = await t.forkCopy(STUB_SYSCALL);
    opened.push(copy);
    expect(copy.pid).not.toBe(t.pid);
    // a write in the parent is not seen in the copy
    const rsp = getReg(await native().getRegs(t.pid), 'rsp');
    const inCopy = await copy.readMemory(rsp - 64n, 8);
    await t.writeMemory(rsp - 64n, Buffer.from('parent!!'));
    expect((await copy.readMemory(rsp - 64n, 8)).equals(inCopy)).toBe(true);
    await t.writeMemory(rsp - 64n, inCopy);
    // the parent goes; the copy's replay state was its own from the start
    await t.close();
    expect(alive(copy.pid)).toBe(true);
    expect(await replayToEnd(copy, trace, 1)).toEqual(expected);
    // its exit was replayed and reaped: close() only lets the object go
    await copy.close();
  });

  it('a Tracee garbage collected without close() has its process killed (no orphan)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    let pid = 0;
    await (async () => {
      // made here and never stored: only this scope holds it
      const t = await startReplayProcess(trace, firstExec(trace).snapshot);
      pid = t.pid;
    })();
    expect(alive(pid)).toBe(true);
    // finalizers run after a collection, on a later turn; each native call queued after
    // them runs after the kill they hand to the tracer thread (its queue is in order)
    for (let i = 0; i < 50 && alive(pid); i++) {
      gc();
      await new Promise((r) => setImmediate(r));
      await native().cpuidLeaves();
    }
    expect(alive(pid)).toBe(false);
  });

  it('kill(pid) of a process the addon does not trace is refused and harmless', async () => {
    // node's own child: waitable by this process, but not a tracee of the tracer thread
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      expect(await native().kill(child.pid!)).toBe(false);
      expect(alive(child.pid!)).toBe(true);
      expect(child.exitCode).toBe(null);
    } finally {
      child.kill('SIGKILL');
    }
    // a tracee it does trace (the replay process, before it has a Tracee) is killed
    const t = await start();
    expect(await native().kill(t.pid)).toBe(true);
    expect(alive(t.pid)).toBe(false);
    // its Tracee's close() then finds no process of ours at that pid and sends nothing
    await t.close();
  });
});
