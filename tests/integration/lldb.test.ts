// Debugging a replay with the real lldb (Debian's lldb-19, `gdb-remote`): the same
// commands against the replay and against the program run natively under lldb
// must print the same things, shared libraries included (image list, a
// breakpoint in libc, backtraces through it), with no warning; and reverse
// execution from lldb-19 through `process plugin packet send bc/bs`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, programPath, rewind, tempDir } from '../helpers.js';
import { record } from './gdb-support.js';
import { lldbBinary, lldbNative, lldbReplay, normalise, outputOf, type Transcript } from './lldb-support.js';

let demo: string;
const program = programPath('gdbdemo');

beforeAll(() => {
  lldbBinary();
  demo = record(program);
});

/** The replay's run of the commands after `continue` to main, checked for warnings and errors. */
async function replay(commands: string[]): Promise<Transcript> {
  const { lldb, server } = await lldbReplay(demo, program, ['breakpoint set -n main', 'continue', ...commands]);
  const trouble = lldb.text.split('\n').filter((l) => /^warning:|^error:|failed to|internal error/i.test(l));
  expect(trouble, `${lldb.text}\nserver stderr:\n${server}`).toEqual([]);
  return after(lldb, 'continue');
}

/** The blocks after the first run of `command`. */
function after(t: Transcript, command: string): Transcript {
  return { ...t, blocks: t.blocks.slice(t.blocks.findIndex((b) => b.command === command) + 1) };
}

/** The commands natively, after `process launch` to main. */
function native(commands: string[]): Transcript {
  return after(lldbNative(program, commands), 'process launch -o /dev/null');
}

/** Runs the commands on the replay and natively; each command's output must be the same. */
async function compare(commands: string[]): Promise<Transcript> {
  const want = native(commands);
  const got = await replay(commands);
  expect(got.blocks.map((b) => b.command)).toEqual(commands);
  expect(want.blocks.map((b) => b.command)).toEqual(commands);
  got.blocks.forEach((b, i) => expect(normalise(b.output), `\`${b.command}\` (command ${i + 1})`).toBe(normalise(want.blocks[i].output)));
  return got;
}

describe('lldb against a replay prints what lldb prints natively', () => {
  it('breakpoints, bt, frame variable, expressions and calls, registers, memory', async () => {
    const out = await compare([
      'bt', 'frame variable', 'breakpoint set -n walk', 'continue', 'bt', 'frame variable', 'frame variable *p',
      'expression counter', 'expression square(7)', 'expression counter', 'memory read --size 1 --count 11 &greeting',
    ]);
    expect(outputOf(out, 'bt', 1)).toMatch(/frame #1: 0x[0-9a-f]+ gdbdemo`main at gdbdemo\.c:42/);
    expect(outputOf(out, 'expression square(7)')).toMatch(/\(int\) \$\d+ = 49/);
    expect(outputOf(out, 'memory read --size 1 --count 11 &greeting')).toContain('hello, gdb');
  });

  it('register values, vector registers included', async () => {
    // lldb lays registers out as the target description says (gdb's amd64 one, as with
    // gdbserver: eflags, segment registers as 32 bits): the values must be the native ones
    const commands = ['breakpoint set -n walk', 'continue', 'register read rip rax rcx rsi r8 r9 cs ss xmm0 xmm1 ymm0 mxcsr'];
    const values = (t: Transcript) =>
      new Map([...outputOf(t, commands[2]).matchAll(/^\s*(\w+) = (0x[0-9a-f]+|\{[^}]*\})/gm)].map((m) => [m[1], m[2]]));
    const want = values(native(commands));
    const got = values(await replay(commands));
    const names = ['rip', 'rax', 'rcx', 'rsi', 'r8', 'r9', 'cs', 'ss', 'xmm0', 'xmm1', 'ymm0', 'mxcsr'];
    expect([...got.keys()]).toEqual(names);
    expect([...want.keys()]).toEqual(names);
    for (const [name, v] of want) expect(normalise(got.get(name) ?? ''), name).toBe(normalise(name === 'cs' || name === 'ss' ? v.replace(/^0x0{8}/, '0x') : v));
  });

  it('next, step, finish and continue to the end of the recording, then to the exit', async () => {
    const commands = ['next', 'next', 'step', 'step', 'finish', 'next', 'finish', 'continue'];
    // the replay stops at the end of the recording first (gdb's replaylog:end, which
    // lldb-19 shows as a SIGTRAP), and one more continue replays the recorded exit
    const want = native(commands);
    const got = await replay([...commands, 'continue']);
    expect(got.blocks.map((b) => b.command)).toEqual([...commands, 'continue']);
    want.blocks.slice(0, -1).forEach((b, i) => expect(normalise(got.blocks[i].output), `\`${b.command}\` (command ${i + 1})`).toBe(normalise(b.output)));
    expect(outputOf(got, 'continue', 0)).toMatch(/stop reason = signal SIGTRAP\n.*libc\.so\.6`.*_exit\(status=3\)/);
    expect(normalise(outputOf(got, 'continue', 1))).toBe(normalise(outputOf(want, 'continue', 0)));
    expect(outputOf(got, 'continue', 1)).toMatch(/exited with status = 3/);
  });

  it('shared libraries: image list, a breakpoint in libc, backtraces through libc', async () => {
    const out = await compare(['breakpoint set -n puts', 'continue', 'bt', 'finish']);
    expect(outputOf(out, 'breakpoint set -n puts')).toMatch(/Breakpoint 2: where = libc\.so\.6`/);
    expect(outputOf(out, 'bt')).toMatch(/frame #0: 0x[0-9a-f]+ libc\.so\.6`.*puts/);
    // image list: what natively is there but the vDSO, which rewind hides from the program
    const natively = native(['image list']);
    const replayed = await replay(['image list']);
    const modules = (t: Transcript) =>
      outputOf(t, 'image list').split('\n').filter((l) => /^\[/.test(l) && !l.includes('[vdso]')).map((l) => l.replace(/^\[ *\d+\] /, ''));
    expect(modules(replayed).sort()).toEqual(modules(natively).sort());
    expect(modules(replayed).join('\n')).toMatch(/ld-linux-x86-64\.so\.2/);
    expect(modules(replayed).join('\n')).toMatch(/libc\.so\.6/);
  });
});

describe('reverse execution from lldb-19: scripts/lldb_reverse.py (rc, rsi) over bc and bs', () => {
  const script = `command script import ${path.join(ROOT, 'scripts', 'lldb_reverse.py')}`;

  it('rc back through breakpoint hits to the start of the history, then forward again', async () => {
    const out = await replay([
      script, 'breakpoint set -f gdbdemo.c -l 34', 'continue', 'continue', 'continue', 'frame variable i',
      'rc', 'frame variable i', 'expression counter', 'rc', 'frame variable i', 'expression counter',
      'rc', 'bt 1', 'rc', 'rc', 'thread plan list',
      'continue', 'continue', 'frame variable i', 'continue', 'frame variable i',
    ]);
    const i = (n: number) => outputOf(out, 'frame variable i', n).trim();
    expect([0, 1, 2, 3, 4].map(i)).toEqual(['(int) i = 2', '(int) i = 1', '(int) i = 0', '(int) i = 0', '(int) i = 1']);
    expect(outputOf(out, 'expression counter', 0)).toMatch(/= 2$/m);
    expect(outputOf(out, 'expression counter', 1)).toMatch(/= 1$/m);
    expect(outputOf(out, 'rc', 0)).toMatch(/stop reason = breakpoint 2\.1\n.*gdbdemo`walk.* at gdbdemo\.c:34/);
    // the third goes back past the first hit of line 34 to the breakpoint in main
    expect(outputOf(out, 'bt 1')).toMatch(/frame #0: 0x[0-9a-f]+ gdbdemo`main at gdbdemo\.c:40/);
    // then past lldb's own _dl_debug_state breakpoint to the start, where it stays
    expect(outputOf(out, 'rc', 3)).toMatch(/rewind: reached the start of the history/);
    expect(outputOf(out, 'rc', 4)).toMatch(/rewind: at the start of the history/);
    // no step plan left pending: the next continue runs to main
    expect(outputOf(out, 'thread plan list')).not.toMatch(/Active plan stack:\n.*\n\s*Element 1:/);
    expect(outputOf(out, 'continue', 3)).toMatch(/stop reason = breakpoint 1\.1/);
  });

  it('rsi undoes one instruction; bc by hand goes back to the start of the history', async () => {
    const out = await replay([
      script, 'breakpoint set -f gdbdemo.c -l 34', 'continue', 'register read rip', 'thread step-inst', 'register read rip',
      'rsi', 'register read rip', 'breakpoint delete --force',
      ...Array.from({ length: 4 }, () => 'process plugin packet send bc'),
    ]);
    const rip = (n: number) => /rip = (0x[0-9a-f]+)/.exec(outputOf(out, 'register read rip', n))?.[1];
    expect(rip(1)).not.toBe(rip(0));
    expect(rip(2)).toBe(rip(0));
    // lldb's own breakpoint on the dynamic linker's r_brk (_dl_debug_state, hit as
    // libraries load) stays: going back, bc stops there, then at the start of the history
    const replies = [0, 1, 2, 3].map((n) => /response: (.*)/.exec(outputOf(out, 'process plugin packet send bc', n))?.[1] ?? '');
    const begin = replies.findIndex((r) => r.includes('replaylog:begin;'));
    expect(begin, replies.join('\n')).toBeGreaterThan(0);
    for (const r of replies.slice(0, begin)) expect(r).toMatch(/^T05.*swbreak:;/);
    for (const r of replies.slice(begin)) expect(r).toMatch(/^T05.*replaylog:begin;/);
  });
});

describe('a trace recorded with the syscall buffer (its preload library mapped too)', () => {
  it('libc and the preload library, a breakpoint in puts, no warnings', async () => {
    const root = tempDir('rewind-lldb-trace-');
    const trace = path.join(root, 'trace');
    const r = rewind(['record', '-o', trace, '--', program], { traceRoot: root });
    expect(r.stderr.toString()).toMatch(/trace saved to/);
    const { lldb, server } = await lldbReplay(trace, program, [
      'breakpoint set -n main', 'continue', 'breakpoint set -n puts', 'continue', 'bt', 'image list', 'continue', 'continue',
    ]);
    const trouble = lldb.text.split('\n').filter((l) => /^warning:|^error:|failed to|internal error/i.test(l));
    expect(trouble, `${lldb.text}\nserver stderr:\n${server}`).toEqual([]);
    expect(outputOf(lldb, 'breakpoint set -n puts')).toMatch(/Breakpoint 2: where = libc\.so\.6`/);
    // (lldb-19 skips main in this backtrace natively too, with Debian's libc debug info)
    expect(outputOf(lldb, 'bt')).toMatch(/frame #0: .*libc\.so\.6`.*puts[\s\S]*frame #\d+: .*libc\.so\.6`__libc_start_main_impl[\s\S]*gdbdemo`_start/);
    expect(outputOf(lldb, 'image list')).toMatch(/libc\.so\.6/);
    expect(outputOf(lldb, 'image list')).toMatch(/librwpreload\.so/);
    expect(outputOf(lldb, 'continue', 3)).toMatch(/exited with status = 3/);
  });
});

describe("docs/lldb.md's session, as written", () => {
  it('runs on a replay of gdbdemo and shows what the text says', async () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'lldb.md'), 'utf8');
    const block = doc.slice(doc.indexOf('<!-- lldb-session -->'));
    const body = block.slice(block.indexOf('```') + 3, block.indexOf('```', block.indexOf('```') + 3));
    const lines = body.split('\n').filter((l) => l.startsWith('(lldb) ')).map((l) => l.slice(7).trim());
    expect(lines[0]).toBe('gdb-remote 127.0.0.1:2345');
    // recorded as the text records it (syscall buffer on); the server's port is the one
    // it got, and lldb runs in the rewind checkout (the script's relative path)
    const root = tempDir('rewind-lldb-doc-');
    const trace = path.join(root, 'trace');
    expect(rewind(['record', '-o', trace, '--', program], { traceRoot: root }).stderr.toString()).toMatch(/trace saved to/);
    const { lldb, server } = await lldbReplay(trace, program, lines.slice(1), ROOT);
    const trouble = lldb.text.split('\n').filter((l) => /^warning:|^error:|failed to|internal error/i.test(l));
    expect(trouble, `${lldb.text}\nserver stderr:\n${server}`).toEqual([]);
    const images = outputOf(lldb, 'image list');
    expect(images).toMatch(/ld-linux-x86-64\.so\.2/);
    expect(images).not.toMatch(/libc\.so\.6/);
    expect([0, 1, 2].map((n) => outputOf(lldb, 'frame variable i', n).trim())).toEqual(['(int) i = 1', '(int) i = 0', '(int) i = 0']);
    expect(outputOf(lldb, 'thread step-inst')).toMatch(/gdbdemo\.c:34/);
    expect(outputOf(lldb, 'bt')).toMatch(/frame #0: .*libc\.so\.6`.*puts/);
    expect(outputOf(lldb, 'continue', 4)).toMatch(/stop reason = signal SIGTRAP\n.*_exit/);
    expect(outputOf(lldb, 'continue', 5)).toMatch(/exited with status = 3/);
  });
});
