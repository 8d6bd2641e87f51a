// The syscall buffer's preload library is part of what users debug: a trace
// recorded with it (the default for dynamic programs) serves gdb forwards and
// backwards with the same values as one recorded without it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROGRAMS_DIR, programPath, pseudoRandomBytes, rewind, tempDir } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

function recordBuffered(program: string, args: string[] = []): string {
  const root = tempDir('rewind-gdb-buffered-');
  const trace = path.join(root, 'trace');
  const r = rewind(['record', '-o', trace, '--', program, ...args], { traceRoot: root });
  if (!/trace saved to/.test(r.stderr.toString())) throw new Error(`recording ${program} failed:\n${r.stderr}`);
  return trace;
}

/** gdb's output without addresses, which the preload library moves. */
function values(trace: string, commands: string[]) {
  return debugReplay(trace, commands).then(({ gdb, server }) => {
    const out = afterMark(gdb);
    expect(out, `server stderr:\n${server}`).not.toMatch(/Remote failure|Remote connection closed|internal error|diverged/i);
    return out.replace(/0x[0-9a-f]+/g, 'ADDR');
  });
}

describe('gdb on a trace recorded with the syscall buffer', () => {
  it('forward and reverse give what they give without the buffer', async () => {
    const commands = [
      'break square', 'continue', 'continue', 'print v', 'bt', 'finish',
      'reverse-continue', 'print v', 'reverse-step', 'watch counter', 'reverse-continue', 'print counter', 'continue', 'print counter',
    ];
    const buffered = await values(recordBuffered(programPath('gdbdemo')), commands);
    const plain = await values(record(programPath('gdbdemo')), commands);
    expect(buffered).toBe(plain);
    expect(buffered).toMatch(/square \(v=\d+\)/);
  });

  // bufferedio copies a file in 64-byte pieces with four buffered calls each: gdb
  // stops, watches and goes back in the middle of that stretch (which headless
  // replay serves in-process, docs/syscallbuf.md).
  it('breakpoints, a watchpoint and reverse steps inside a long stretch of buffered calls', async () => {
    const input = path.join(tempDir('rewind-gdb-buffered-in-'), 'input.bin');
    fs.writeFileSync(input, pseudoRandomBytes(2_000));
    const line = fs.readFileSync(path.join(PROGRAMS_DIR, 'bufferedio.c'), 'utf8')
      .split('\n').findIndex((l) => l.includes('total += ')) + 1;
    const commands = [
      `break bufferedio.c:${line} if total == 640`, 'continue', 'print n', 'print sum',
      'watch total', 'reverse-continue', 'print total', 'delete',
      `break bufferedio.c:${line} if total == 1280`, 'continue', 'print sum', 'reverse-stepi', 'reverse-stepi', 'print total',
      'delete', 'watch sum', 'reverse-continue', 'print sum', 'print total',
    ];
    const buffered = await values(recordBuffered(programPath('bufferedio'), [input]), commands);
    const plain = await values(record(programPath('bufferedio'), [input]), commands);
    expect(buffered).toBe(plain);
    expect(buffered).toMatch(/\$\d+ = 64\n/);
    expect(buffered).toMatch(/Old value = 640\s+New value = 576/);
  }, 180_000);
});
