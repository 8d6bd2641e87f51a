// Reverse execution with the real gdb: reverse-continue to breakpoints and
// watchpoints, reverse-step/next/finish/stepi/nexti, the start of the history,
// forward again after going back; and a differential test against gdb's own
// `record full` running the program natively.
import { beforeAll, describe, expect, it } from 'vitest';
import { programPath } from '../helpers.js';
import { afterMark, debugReplay, gdbNative, gdbRemote, record, startServer } from './gdb-support.js';

let demo: string;

beforeAll(() => {
  demo = record(programPath('gdbdemo'));
});

async function replay(commands: string[]): Promise<string> {
  const { gdb, server } = await debugReplay(demo, commands);
  const out = afterMark(gdb);
  expect(out, `server stderr:\n${server}`).not.toMatch(/Remote failure|Remote connection closed|internal error/i);
  return out;
}

describe('reverse execution against a replay', () => {
  it('reverse-continue to breakpoints, then forward again', async () => {
    const out = await replay([
      'break square', 'continue', 'continue', 'continue', 'print v', 'reverse-continue', 'print v',
      'reverse-continue', 'print v', 'continue', 'print v', 'continue', 'print v',
    ]);
    const values = [...out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
    // square(3) twice (i = 0), then square(4): back to 3, 3; forward to 3, 4
    expect(values).toEqual([4, 3, 3, 3, 4]);
  });

  it('reverse-continue to a hardware watchpoint stops at the write with the old value', async () => {
    const out = await replay([
      'break walk', 'continue', 'watch counter', 'continue', 'continue', 'continue', 'reverse-continue', 'print counter',
      'reverse-continue', 'print counter',
    ]);
    expect(out).toMatch(/Old value = 3\nNew value = 2\n/);
    expect(out).toMatch(/Old value = 2\nNew value = 1\n/);
    expect(out).toMatch(/gdbdemo\.c:33\n33\t        counter\+\+;/);
    const values = [...out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
    expect(values).toEqual([2, 1]);
  });

  it('the start of the history', async () => {
    const out = await replay(['reverse-continue', 'reverse-stepi', 'info registers rip', 'stepi', 'reverse-stepi', 'info registers rip']);
    // at main: back to the first instruction; there, no further; one step forward and back again
    expect(out.match(/No more reverse-execution history\./g)?.length).toBe(2);
    expect(out.match(/rip +0x7ffff7fe4b70 +0x7ffff7fe4b70 <_start>/g)?.length).toBe(2);
  });

  it('reverse-stepi and stepi agree', async () => {
    const out = await replay([
      'break square', 'continue', 'stepi', 'stepi', 'stepi', 'info registers rip', 'reverse-stepi', 'reverse-stepi',
      'info registers rip', 'stepi', 'stepi', 'info registers rip', 'reverse-nexti', 'info registers rip',
    ]);
    const rips = [...out.matchAll(/^rip +(0x[0-9a-f]+)/gm)].map((m) => m[1]);
    expect(rips.length).toBe(4);
    expect(rips[2]).toBe(rips[0]);
    expect(BigInt(rips[1])).toBeLessThan(BigInt(rips[0]));
    expect(rips[3]).not.toBe(rips[2]);
  });

  it('monitor when and checkpoints follow the position both ways', async () => {
    const out = await replay(['break puts', 'continue', 'monitor when', 'break square', 'reverse-continue', 'monitor when', 'monitor checkpoints']);
    const events = [...out.matchAll(/Current event: (\d+)/g)].map((m) => Number(m[1]));
    expect(events.length).toBe(2);
    expect(events[1]).toBeLessThan(events[0]);
    expect(out).toMatch(/\d+ checkpoints:\n  #1 pid \d+ after event 0, interval start/);
  });
});

describe('reverse execution prints what gdb record full prints', () => {
  // gdb's `record full` cannot record libc's AVX-512 string functions on this
  // machine: the recording starts in walk(), which makes no library calls.
  it('reverse-step, reverse-next, reverse-finish, reverse-continue, reverse-stepi/nexti, forward again', async () => {
    const go = ['break walk', 'continue'];
    const forward = ['break square', 'continue', 'continue', 'continue', 'next', 'next'];
    const back = [
      'reverse-step', 'reverse-step', 'print v', 'reverse-finish', 'reverse-next', 'bt', 'reverse-step', 'bt', 'print v',
      'reverse-finish', 'print counter', 'print *p', 'watch counter', 'reverse-continue', 'print counter', 'delete',
      'reverse-stepi', 'reverse-nexti', 'info line *$pc', 'next', 'next', 'next', 'print *p', 'print counter',
    ];
    const native = afterMark(gdbNative(programPath('gdbdemo'), [...go, 'record full', ...forward, ...back]));
    const { gdb, server } = await debugReplay(demo, [...go, ...forward, ...back]);
    const replayed = afterMark(gdb);
    expect(replayed, `server stderr:\n${server}`).toBe(native);
    expect(replayed).toContain('0x0000555555555181 in add_squares (a=4, b=2) at gdbdemo.c:23');
    expect(replayed).toContain('Hardware watchpoint 4: counter');
  });
});

describe('the program output while serving', () => {
  it('reverse-stepi off a breakpoint hit, then reverse-continue to the hit before it', async () => {
    // The step back from the third hit must land on its call, not on the call of a
    // later hit: the predecessor is found from the previous hit's checkpoint, whose
    // counts start at itself, so the third hit is named from there.
    const go = ['break walk', 'continue'];
    const session = [
      'break *square', 'continue', 'continue', 'continue', 'reverse-stepi', 'print $pc', 'bt 2',
      'reverse-continue', 'bt 2', 'reverse-stepi', 'print $pc', 'bt 2', 'stepi', 'stepi', 'bt 2',
    ];
    const native = afterMark(gdbNative(programPath('gdbdemo'), [...go, 'record full', ...session]));
    const { gdb, server } = await debugReplay(demo, [...go, ...session]);
    expect(afterMark(gdb), `server stderr:\n${server}`).toBe(native);
  });

  it('is shown when the replay first gets past it, after a seek back too', async () => {
    const server = await startServer(demo);
    let out = '';
    server.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // the first output comes after walk(): seek back before it, then run past it
      const gdb = gdbRemote(server.port, ['break walk', 'continue', 'monitor seek 3', 'delete', 'continue', 'continue']);
      expect(afterMark(gdb)).toContain('exited with code 03');
      await Promise.race([server.exited, new Promise((r) => setTimeout(r, 60_000))]);
    } finally {
      server.kill();
    }
    expect(out).toBe('len=10 total=326 counter=5\nhello, gdb\n');
  });

  it('is shown once, the first time the replay gets there, whatever gdb re-runs', async () => {
    const server = await startServer(demo);
    let out = '';
    server.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // the first continue after `delete` stops at the end of the recording, the second replays the exit
      const gdb = gdbRemote(server.port, ['break square', 'continue', 'continue', 'reverse-continue', 'reverse-continue', 'delete', 'continue', 'continue']);
      expect(afterMark(gdb)).toContain('No more reverse-execution history');
      expect(afterMark(gdb)).toContain('exited with code 03');
      await Promise.race([server.exited, new Promise((r) => setTimeout(r, 60_000))]);
    } finally {
      server.kill();
    }
    expect(out).toBe('len=10 total=326 counter=5\nhello, gdb\n');
  });
});
