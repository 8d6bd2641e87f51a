// The native Recording object (addon/recording_exports.cc): the record loop's state
// lives in an object JS owns, not in a global table. A recording runs to the
// program's end and then refuses more runs; close() kills every process still
// recorded (the children too, which kill(root) alone would leave); requestStop()
// ends the next run; after close() it refuses clearly. Driven on real programs
// through the addon, as the recorder drives it.
import { describe, expect, it } from 'vitest';
import { native, type NativeLoopResult, type NativeRecording } from '../../src/native/addon.js';
import { encodeSyscallTable } from '../../src/syscalls/table.js';
import { processAlive as alive, programPath } from '../helpers.js';

const table = encodeSyscallTable();

async function spawnTraced(path: string, argv: string[]): Promise<number> {
  return native().spawn({ path, argv, envp: [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`], trapTsc: true, traceForks: true });
}

/** Runs until a stop that is not routine (batch, mapped files): the program's end, an exec, a stop. */
async function runUntil(rec: NativeRecording, done: (r: NativeLoopResult) => boolean): Promise<NativeLoopResult> {
  for (;;) {
    const r = await rec.run(table, 1 << 20);
    if (done(r)) return r;
    if (!['batch', 'mmap-file', 'mremap-grow', 'file-changed', 'exec'].includes(r.stop.reason)) return r;
  }
}

// sh forks a child for each sleep (the one in the background too): recorded
// processes that stay blocked until killed once they have exec'd.
async function shellWithChild(): Promise<{ rec: NativeRecording; root: number; child: number }> {
  const root = await spawnTraced('/bin/sh', ['sh', '-c', 'sleep 1000 & sleep 1000']);
  const rec = new (native().Recording)(root, true);
  const r = await runUntil(rec, (x) => x.stop.reason === 'exec' && Number(x.stop.pid) !== root);
  expect(r.stop.reason).toBe('exec');
  return { rec, root, child: Number(r.stop.pid) };
}

describe('the native Recording object', () => {
  it('runs to the program\'s end, then refuses another run; after close() every call rejects with EDISPOSED', async () => {
    const root = await spawnTraced(programPath('exitcodes'), ['exitcodes', '7']);
    const rec = new (native().Recording)(root, true);
    expect(rec.root).toBe(root);
    const end = await runUntil(rec, (x) => x.stop.reason === 'exited');
    expect(end.stop).toMatchObject({ reason: 'exited', code: 7 });
    await expect(rec.run(table, 1 << 20)).rejects.toThrow(`the recording of process ${root} has ended`);
    await rec.close();
    await expect(rec.run(table, 1 << 20)).rejects.toMatchObject({
      code: 'EDISPOSED', message: expect.stringContaining(`recording of process ${root} was closed`),
    });
    await rec.close();  // again: nothing to do
    rec.requestStop();  // after close: nothing to stop
  });

  it('close() kills every process still recorded, the children too', async () => {
    const { rec, root, child } = await shellWithChild();
    expect(child).not.toBe(root);
    expect(alive(root) && alive(child)).toBe(true);
    await rec.close();
    expect(alive(root)).toBe(false);
    expect(alive(child)).toBe(false);
  });

  it('requestStop(): the next run ends at the program\'s next stop, every recorded process dead', async () => {
    const { rec, root, child } = await shellWithChild();
    rec.requestStop();
    // Once all sleep a SIGSTOP gives the loop a stop, as the recorder sends one; a
    // process still running may stop first, and the loop kills everything then.
    const running = rec.run(table, 1 << 20);
    try {
      process.kill(root, 'SIGSTOP');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
    const r = await running;
    expect(r.stop.reason).toBe('stopped');
    expect(alive(root)).toBe(false);
    expect(alive(child)).toBe(false);
    await expect(rec.run(table, 1 << 20)).rejects.toThrow(/has ended/);
    await rec.close();
  });

  it('refuses bad arguments synchronously, with its usage', async () => {
    const Recording = native().Recording as unknown as new (...args: unknown[]) => NativeRecording;
    expect(() => new Recording()).toThrow(/usage: new Recording\(root/);
    expect(() => new Recording(-1, true)).toThrow(/usage: new Recording\(root/);
    expect(() => new Recording(1234, 'yes')).toThrow(/usage: new Recording\(root/);
    const rec = new Recording(1234, true);  // never run: nothing is touched
    expect(() => (rec.run as (...a: unknown[]) => unknown)('table', 10)).toThrow(/usage: run\(table: Int32Array, maxBytes: number\)/);
    await rec.close();
  });
});
