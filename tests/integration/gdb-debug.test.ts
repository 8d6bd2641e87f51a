// Debugging a replay with the real gdb: the same commands against the replay and
// against the program run natively under gdb must print the same things (the
// test programs are deterministic and both runs have ASLR off).
import { beforeAll, describe, expect, it } from 'vitest';
import { programPath } from '../helpers.js';
import { afterMark, debugReplay, gdbNative, record, withoutEndOfHistory } from './gdb-support.js';

let demo: string;
let crash: string;
let signals: string;

beforeAll(() => {
  demo = record(programPath('gdbdemo'));
  crash = record(programPath('crash'));
  signals = record(programPath('signals'));
});

async function compare(program: string, trace: string, commands: string[]): Promise<string> {
  const native = afterMark(gdbNative(program, commands));
  const { gdb, server } = await debugReplay(trace, commands);
  const replay = afterMark(gdb);
  expect(replay, `server stderr:\n${server}`).toBe(native);
  return replay;
}

/**
 * The same, for commands whose last `continue` reaches the end of the recording:
 * the replay stops there first ("No more reverse-execution history"), and one more
 * `continue` replays the recorded exit, which gdb natively shows at once.
 */
async function compareToTheEnd(program: string, trace: string, commands: string[]): Promise<string> {
  const native = afterMark(gdbNative(program, commands));
  const { gdb, server } = await debugReplay(trace, [...commands, 'continue']);
  const replay = afterMark(gdb);
  expect(withoutEndOfHistory(replay), `server stderr:\n${server}`).toBe(native);
  return replay;
}

describe('gdb against a replay prints what gdb prints natively', () => {
  it('breakpoints, bt, locals, globals, structs, finish', async () => {
    const out = await compare(programPath('gdbdemo'), demo, [
      'break walk', 'continue', 'bt', 'print *p', 'print steps', 'print origin', 'print greeting',
      'finish', 'print total', 'print counter', 'info registers rip', 'x/s greeting', 'print $xmm1.v4_int32', 'print $ymm0.v8_int32',
    ]);
    expect(out).toContain('Value returned is $5 = 326');
    expect(out).toMatch(/#1 +0x[0-9a-f]+ in main \(\) at gdbdemo.c:\d+/);
  });

  it('conditional breakpoints and a call chain', async () => {
    const out = await compare(programPath('gdbdemo'), demo, [
      'break square if v == 6', 'continue', 'bt', 'print v', 'print counter', 'up 2', 'print i', 'print sum', 'print *p',
    ]);
    expect(out).toContain('square (v=6)');
  });

  it('next and step over and into calls, until, library calls', async () => {
    await compare(programPath('gdbdemo'), demo, [
      'next', 'next', 'print len', 'step', 'step', 'step', 'next', 'next', 'bt', 'finish', 'finish',
      'until', 'until', 'next', 'next', 'next', 'print origin.x',
    ]);
  });

  it('hardware watchpoints', async () => {
    const out = await compare(programPath('gdbdemo'), demo, [
      'watch counter', 'continue', 'continue', 'bt 1', 'delete', 'watch total', 'continue', 'print total',
    ]);
    expect(out).toMatch(/Hardware watchpoint \d+: counter/);
    expect(out).toContain('New value = 2');
  });

  it('info sharedlibrary', async () => {
    const out = await compare(programPath('gdbdemo'), demo, ['info sharedlibrary']);
    expect(out).toMatch(/libc\.so\.6/);
  });

  it('the exit code', async () => {
    const out = await compareToTheEnd(programPath('gdbdemo'), demo, ['continue']);
    expect(out).toMatch(/No more reverse-execution history\.\n__GI__exit \(status=status@entry=3\)/);
    expect(out).toContain('exited with code 03');
  });

  it('calling functions: the same results as natively, then the replay goes on as recorded', async () => {
    // The calls run in a copy of the replayed state, side effects included (walk()
    // bumps counter), exactly as gdb shows them natively.
    const calls = ['break walk', 'continue', 'delete', 'print counter', 'print square(7)', 'print walk(p, 2)', 'print counter', 'print square(counter) + 1'];
    const native = afterMark(gdbNative(programPath('gdbdemo'), calls));
    const { gdb: called, server: calledServer } = await debugReplay(demo, calls);
    const out = afterMark(called);
    if (/Couldn't write extended state status: Bad address/.test(native)) {
      // gdb 13 cannot call functions in a native process on a CPU with AMX state: it
      // writes an XSAVE buffer of the size it knows and the kernel, which wants the
      // full size, answers EFAULT. The replay serves that state itself, so native gdb
      // is the reference up to the first call, and the calls' values are the program's.
      expect(out.startsWith(native.slice(0, native.indexOf('$1 = 0') + 6)), `server stderr:\n${calledServer}`).toBe(true);
      expect(out).toMatch(/\$2 = 49\n\$3 = 38\n\$4 = 2\n\$5 = 5/);
    } else expect(out, `server stderr:\n${calledServer}`).toBe(native);
    expect(out).toMatch(/\$2 = 49\n/);
    expect(out).toMatch(/\$4 = 2\n/);
    // Once gdb resumes, the replay continues from the recorded state: the calls'
    // side effects are gone and the program ends as it did when recorded.
    const { gdb, server } = await debugReplay(demo, [...calls, 'next', 'print counter', 'set var counter = 77', 'next', 'print counter', 'continue', 'continue']);
    const after = afterMark(gdb);
    expect(after, `server stderr:\n${server}`).toMatch(/\$6 = 0\n/);
    expect(after).toMatch(/\$7 = 0\n/);
    expect(after).toContain('exited with code 03');
  });

  it('signals the program received stop gdb as they would live (SIGALRM passes, as gdb asks)', async () => {
    const out = await compareToTheEnd(programPath('signals'), signals, ['continue', 'bt 1', 'print $_siginfo.si_signo', 'continue', 'continue', 'continue', 'continue']);
    expect(out).toContain('Program received signal SIGSEGV');
    expect(out).toContain('Program received signal SIGUSR1');
    expect(out).toContain('Program received signal SIGUSR2');
    expect(out).toContain('exited normally');
  });

  it('a crash: stop at the faulting instruction, bt, then death by the signal', async () => {
    const out = await compareToTheEnd(programPath('crash'), crash, ['continue', 'bt', 'print bad', 'continue']);
    expect(out).toContain('Program received signal SIGSEGV');
    expect(out).toContain('Program terminated with signal SIGSEGV');
  });
});
