// More reverse execution: conditional breakpoints, breakpoints in a signal
// handler, breakpoints in a shared library, and ^C around reverse commands.
// Where gdb's own `record full` can record the program natively, the replay must
// print exactly what it prints (as in gdb-reverse.test.ts); where it cannot, the
// expected values follow from the program's logic (tests/programs/rev*.c).
import { beforeAll, describe, expect, it } from 'vitest';
import { programPath, rewind } from '../helpers.js';
import { afterMark, debugReplay, gdbNative, record, startServer, type Server } from './gdb-support.js';
import { expedited, hexAddr, ripOf, RspClient, type Symbols } from './rsp-client.js';

let extra: string;
let signals: string;
let loop: string;

beforeAll(() => {
  extra = record(programPath('revextra'));
  signals = record(programPath('revsignal'));
  loop = record(programPath('revloop'));
});

/** gdb's `$N = V` values, in order. */
function values(out: string): string[] {
  return [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
}

/**
 * Runs `setup`, then `commands` natively under `record full` (started after
 * setup) and against the replay; the replay must print what record full prints.
 */
async function sameAsRecordFull(trace: string, program: string, setup: string[], commands: string[]): Promise<string> {
  const native = afterMark(gdbNative(programPath(program), [...setup, 'record full', ...commands]));
  expect(native, 'gdb record full failed natively').not.toMatch(/Process record does not support|failed to record/);
  const { gdb, server } = await debugReplay(trace, [...setup, ...commands]);
  const replayed = afterMark(gdb);
  expect(replayed, `server stderr:\n${server}`).toBe(native);
  return replayed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('conditional breakpoints in reverse', () => {
  // f(x) runs ten times with x = i % 4: x == 3 at i = 3 and i = 7 only. gdb
  // evaluates the condition itself: at every false hit it steps back off the
  // breakpoint (bs) and sends bc again, so the search must not skip the hit just
  // before that step.
  it('reverse-continue stops at the last hits where the condition holds, as record full does', async () => {
    const out = await sameAsRecordFull(extra, 'revextra', [], [
      'break computed', 'continue', 'break f if x == 3',
      'reverse-continue', 'print x', 'print acc', 'up', 'print i',
      'reverse-continue', 'print x', 'print acc', 'up', 'print i',
      'continue', 'print acc', 'up', 'print i',
      'reverse-finish', 'reverse-next', 'print i',
    ]);
    // acc on entry to f: 0, 1, 12, 33, 64, 65, 76, 97, ...
    expect(values(out)).toEqual(['3', '97', '7', '3', '33', '3', '97', '7', '7']);
  });
});

describe('a breakpoint in a signal handler, in reverse', () => {
  // revsignal: four rounds of `work += i; kill(getpid(), SIGUSR1); work *= 2;`; the
  // handler does hits++, work += 1000 * hits. The signal arrives as kill returns,
  // so rewind replays it at the same instruction. record full starts after the
  // handler is installed (install() uses libc's AVX-512 memset, which record full
  // cannot record on this machine).
  const setup = ['handle SIGUSR1 nostop noprint pass', 'next'];

  it('reverse-continue to the handler, twice, as record full does', async () => {
    const out = await sameAsRecordFull(signals, 'revsignal', setup, [
      'break the_end', 'continue', 'break on_usr1',
      'reverse-continue', 'print hits', 'print work', 'bt',
      'reverse-continue', 'print hits', 'print work', 'bt',
      'continue', 'print hits',
    ]);
    expect(values(out)).toEqual(['3', '22011', '2', '8004', '3']);
    expect(out).toMatch(/#1  <signal handler called>\n#2  0x[0-9a-f]+ in (__GI_)?kill \(\)/);
  });

  it('reverse-next over the kill that ran the handler, reverse-step out of the handler, forward again, as record full does', async () => {
    const out = await sameAsRecordFull(signals, 'revsignal', setup, [
      'break the_end', 'continue', 'reverse-finish', 'reverse-next', 'reverse-next', 'reverse-next', 'print work', 'print hits',
      'next', 'break on_usr1', 'reverse-next', 'print hits', 'print work', 'bt', 'reverse-step', 'bt', 'print hits',
      'next', 'next', 'print work', 'next', 'bt', 'next', 'bt', 'print work',
    ]);
    // back over the last kill (whose handler ran inside it) to the start of line
    // 35 of the last round; then, from line 36, reverse-next stops in the handler
    expect(values(out)).toEqual(['22011', '3', '3', '22011', '3', '22011', '26011']);
    expect(out).toMatch(/Breakpoint 3, on_usr1 \(sig=10\)/);
  });

  it('reverse-stepi from the handler\'s first instruction goes back into kill; stepi enters the handler again', async () => {
    const back = ['break the_end', 'continue', 'break *on_usr1', 'reverse-continue', 'print hits', 'x/i $pc', 'reverse-stepi', 'x/i $pc', 'reverse-stepi', 'x/i $pc'];
    // record full agrees on the way back (to the instruction after kill's syscall,
    // then the syscall itself) ...
    const native = afterMark(gdbNative(programPath('revsignal'), [...setup, 'record full', ...back]));
    expect(native).toMatch(/=> 0x[0-9a-f]+ <(__GI_)?kill\+\d+>:\tsyscall/);
    // ... but hangs stepping forward through the signal delivery: from there on
    // the expected answers come from the program. Forward steps retrace the states
    // reverse-stepi went through: the syscall, the instruction after it, then the
    // handler's first instruction (the recorded signal delivered again), on the
    // same signal frame and with hits still 3.
    const forward = ['delete', 'stepi', 'x/i $pc', 'stepi', 'x/i $pc', 'print hits', 'print $rsp == $sp_at_entry', 'bt 3'];
    const { gdb, server } = await debugReplay(signals, [...setup, ...back.slice(0, 5), 'set $sp_at_entry = $rsp', ...back.slice(5), 'echo ==forward==\\n', ...forward]);
    const out = afterMark(gdb);
    const [replayedBack, replayedForward = ''] = out.split('==forward==\n');
    // gdb says a source file is missing only the first time it looks for it
    const quiet = (text: string) => text.split('\n').filter((l) => l.trim() && !/No such file or directory\.$/.test(l)).join('\n');
    expect(quiet(replayedBack), `server stderr:\n${server}`).toBe(quiet(native));
    const pcs = [...replayedForward.matchAll(/^=> 0x[0-9a-f]+ <([^>]+)>/gm)].map((m) => m[1]);
    expect(pcs, out).toEqual([expect.stringMatching(/^(__GI_)?kill\+\d+$/), 'on_usr1']);
    expect(values(replayedForward)).toEqual(['3', '1']);
    expect(replayedForward).toMatch(/#1  <signal handler called>/);
  });
});

describe('a breakpoint in a shared library, in reverse', () => {
  // record full cannot record libc's AVX-512 strlen (called by puts) on this
  // machine, so the expected values come from the program: said is 1, 101, 102
  // when puts is called from say("one"), shout("two"), say("three").
  it('reverse-continue to puts finds each call, with the right caller and counter', async () => {
    const { gdb, server } = await debugReplay(extra, [
      'break the_end', 'continue', 'break puts',
      'reverse-continue', 'bt', 'print said',
      'reverse-continue', 'bt', 'print said',
      'reverse-finish', 'bt', 'print said',
      'reverse-continue', 'bt 2', 'print said',
      'continue', 'bt 2', 'print said',
      'delete', 'continue', 'continue',
    ]);
    const out = afterMark(gdb);
    expect(out, `server stderr:\n${server}`).not.toMatch(/Remote failure|Remote connection closed|internal error/i);
    // only the continue after `delete` reaches the end of the recording (and stops there)
    expect(out.match(/No more reverse-execution history/g)?.length).toBe(1);
    expect(out.indexOf('No more reverse-execution history')).toBeGreaterThan(out.lastIndexOf('print said'));
    expect(values(out)).toEqual(['102', '101', '101', '1', '101']);
    const callers = [...out.matchAll(/^#1  0x[0-9a-f]+ in (\w+) \(msg=0x[0-9a-f]+ "(\w+)"\)/gm)].map((m) => `${m[1]}(${m[2]})`);
    expect(callers).toEqual(['say(three)', 'shout(two)', 'say(one)', 'shout(two)']);
    // every stop in the library is at the breakpoint in puts, frame #0
    expect(out.match(/^#0  .*puts.*$/gm)?.length).toBe(4);
    // reverse-finish from puts: back in shout, at the call
    expect(out).toMatch(/^#0  0x[0-9a-f]+ in shout \(msg=0x[0-9a-f]+ "two"\) at revextra\.c:\d+\n#1  0x[0-9a-f]+ in main \(\)/m);
    expect(out).toMatch(/exited normally/);
  });
});

describe('a breakpoint in a library that a search maps', () => {
  it('reverse-continue after a seek from the start finds the last call in libc', async () => {
    // `monitor seek` from the start keeps no checkpoint after libc is mapped: the
    // search window starts before the mapping, so the breakpoint in puts can only
    // be armed when the run maps libc (it used to run back to the start instead)
    const dump = rewind(['dump', extra]).stdout.toString();
    const exitAt = Number(/^(\d+) \[\d+\] exit_group\(/m.exec(dump)?.[1]);
    expect(exitAt, dump).toBeGreaterThan(0);
    const { gdb, server } = await debugReplay(extra, [
      `monitor seek ${exitAt - 1}`, 'maintenance flush register-cache', 'sharedlibrary',
      'break puts', 'reverse-continue', 'bt 2', 'print said', 'reverse-continue', 'bt 2', 'print said',
    ], { breakMain: false });
    const out = afterMark(gdb);
    expect(out, `server stderr:\n${server}`).not.toMatch(/No more reverse-execution history|Remote failure|internal error/i);
    expect(out.match(/^Breakpoint 1, /gm)?.length, out).toBe(2);
    expect(values(out)).toEqual(['102', '101']);
    const callers = [...out.matchAll(/^#1  0x[0-9a-f]+ in (\w+) \(msg=0x[0-9a-f]+ "(\w+)"\)/gm)].map((m) => `${m[1]}(${m[2]})`);
    expect(callers).toEqual(['say(three)', 'shout(two)']);
  });
});

describe('^C and reverse execution (raw protocol)', () => {
  // revloop: a syscall-free loop of about half a second natively, then
  // loop_done(); never_called() never runs.
  /**
   * From a stop whose registers are `before`: `bs` goes one instruction back (a
   * normal stop, another pc, still in main), and `vCont;s` returns to exactly `before`.
   */
  async function backAndForth(c: RspClient, server: Server, sym: Symbols, before: string): Promise<void> {
    const pc0 = ripOf(before);
    const back = await c.resume('bs', 30_000);
    expect(back, `${c.console}\nserver stderr:\n${server.stderr()}`).toMatch(/^T05/);
    expect(back, `${c.console}\nserver stderr:\n${server.stderr()}`).not.toContain('replaylog');
    const pc1 = ripOf(await c.registers());
    expect(pc1).not.toBe(pc0);
    expect(inMain(pc1, sym)).toBe(true);
    expect(await c.resume('vCont;s', 10_000)).toMatch(/^T05/);
    const after = await c.registers();
    expect(ripOf(after)).toBe(pc0);
    expect(after).toBe(before);
  }

  async function session(): Promise<{ server: Server; c: RspClient; sym: Symbols }> {
    const server = await startServer(loop, ['--once']);
    const c = await RspClient.connect(server.port);
    await c.noAck();
    const sym = await c.symbols(programPath('revloop'), ['main', 'loop_done', 'never_called']);
    return { server, c, sym };
  }

  const inMain = (pc: bigint, sym: Symbols) => pc >= sym.main.addr && pc < sym.main.addr + sym.main.size;

  it('^C interrupts a long reverse-continue promptly, and the server goes on answering', async () => {
    const { server, c, sym } = await session();
    try {
      expect(await c.request(`Z0,${hexAddr(sym.loop_done.addr)},1`)).toBe('OK');
      const atEnd = await c.resume('vCont;c', 30_000);
      expect(atEnd, `${c.console}\nserver stderr:\n${server.stderr()}`).toMatch(/^T05/);
      expect(atEnd).not.toContain('replaylog');
      expect(expedited(atEnd, 0x10)).toBe(sym.loop_done.addr);
      expect(await c.request(`z0,${hexAddr(sym.loop_done.addr)},1`)).toBe('OK');
      // the search back has to replay the whole loop, and finds nothing
      expect(await c.request(`Z0,${hexAddr(sym.never_called.addr)},1`)).toBe('OK');
      c.sendPacket('bc');
      await sleep(100);
      const sent = Date.now();
      c.interrupt();
      const stop = await c.stopReply(5_000);
      const latency = Date.now() - sent;
      // SIGINT: the interrupt was honoured (a search left to finish would report
      // replaylog:begin, the start of the history)
      expect(stop, `stop reply after ${latency} ms: ${c.console}\nserver stderr:\n${server.stderr()}`).toMatch(/^[TS]02/);
      expect(latency).toBeLessThan(5_000);
      // still serving, consistently
      const again = await c.resume('?');
      expect(again).toMatch(/^[TS]/);
      const pc = ripOf(await c.registers());
      if (expedited(stop, 0x10) !== undefined) expect(pc).toBe(expedited(stop, 0x10));
      expect(pc).not.toBe(sym.never_called.addr);
      // and forward to the end: never_called is still never called
      // the end of the recording is a place: the first continue stops there, the next replays the exit
      const end = await c.resume('vCont;c', 30_000);
      expect(end, `${c.console}\nserver stderr:\n${server.stderr()}`).toMatch(/^T05.*replaylog:end;/);
      const exit = await c.resume('vCont;c', 30_000);
      expect(exit, `${c.console}\nserver stderr:\n${server.stderr()}`).toMatch(/^W00/);
      c.close();
    } finally {
      server.kill();
    }
  });

  it('reverse-stepi then stepi from a breakpoint stop returns to the same registers', async () => {
    // the control for the next test: the same round trip from a stop that has a name
    const { server, c, sym } = await session();
    try {
      expect(await c.request(`Z0,${hexAddr(sym.loop_done.addr)},1`)).toBe('OK');
      const atEnd = await c.resume('vCont;c', 30_000);
      expect(atEnd, `${c.console}\nserver stderr:\n${server.stderr()}`).toMatch(/^T05/);
      expect(atEnd).not.toContain('replaylog');
      expect(expedited(atEnd, 0x10)).toBe(sym.loop_done.addr);
      expect(await c.request(`z0,${hexAddr(sym.loop_done.addr)},1`)).toBe('OK');
      await backAndForth(c, server, sym, await c.registers()); // back to the call in main
      c.close();
    } finally {
      server.kill();
    }
  });

  it('reverse-stepi after ^C in a forward continue goes one instruction back; stepi returns', async () => {
    const { server, c, sym } = await session();
    try {
      // first into main, whatever the load: the loop then runs for half a second
      // natively, so an interrupt 100 ms later lands in it however slow the machine is
      expect(await c.request(`Z0,${hexAddr(sym.main.addr)},1`)).toBe('OK');
      expect(await c.resume('vCont;c', 30_000)).toMatch(/^T05/);
      expect(await c.request(`z0,${hexAddr(sym.main.addr)},1`)).toBe('OK');
      c.sendPacket('vCont;c');
      await sleep(100);
      c.interrupt();
      const stop = await c.stopReply(30_000);
      expect(stop, `${c.console}\nserver stderr:\n${server.stderr()}`).toMatch(/^[TS]02/);
      const before = await c.registers();
      const pc0 = ripOf(before);
      expect(inMain(pc0, sym), `interrupted at 0x${pc0.toString(16)}, not in the loop`).toBe(true);
      // a refusal would be "T05 ... replaylog:begin" without moving
      await backAndForth(c, server, sym, before);
      c.close();
    } finally {
      server.kill();
    }
  });
});
