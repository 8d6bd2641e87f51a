// Programs this repository has never seen, without debug info: gdb over the replay
// prints what gdb prints running them natively.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { afterMark, debugReplay, record } from './gdb-support.js';
import { runNative } from '../helpers.js';

async function compare(program: string[], commands: string[]): Promise<string> {
  const native = afterMark(gdbNativeArgs(program, commands))
    .split('\n').filter((l) => !/libthread_db/.test(l)).join('\n');
  const trace = record(program[0], program.slice(1));
  const { gdb, server } = await debugReplay(trace, commands, { breakMain: false });
  const replay = afterMark(gdb);
  expect(replay, `server stderr:\n${server}`).toBe(native);
  return replay;
}

/** Like gdbNative, but with arguments and stopping at the first instruction (no symbols). */
function gdbNativeArgs(program: string[], commands: string[]) {
  return runNative(['gdb', '-batch', '-nx', '-ex', 'set pagination off', '-ex', 'set width 0', '-ex', 'set confirm off',
    '-ex', `starti ${program.slice(1).join(' ')} > /dev/null`, '-ex', 'echo ==rewind-mark==\\n', ...commands.flatMap((c) => ['-ex', c]), program[0]],
  { timeoutMs: 30_000 });
}

describe('gdb on the replay of programs nobody here wrote', () => {
  it('ls: a breakpoint in libc, backtrace, arguments, registers', async () => {
    const out = await compare(['/bin/ls', '/usr/include/linux/netfilter'], [
      'break opendir', 'continue', 'x/s $rdi', 'bt 3', 'finish', 'info registers rip', 'break closedir', 'continue', 'info sharedlibrary',
    ]);
    expect(out).toContain('"/usr/include/linux/netfilter"');
  });

  it('sha256sum: finish out of read() and look at what it read', async () => {
    const out = await compare(['/usr/bin/sha256sum', '/etc/hostname'], [
      'set breakpoint pending on', 'break read', 'continue', 'finish', 'p $rax',
    ]);
    expect(out).toContain(`Value returned is $1 = ${fs.statSync('/etc/hostname').size}`);
  });
});
