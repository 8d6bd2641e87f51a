// The syscall buffer's preload library is part of what users debug: a trace
// recorded with it (the default for dynamic programs) serves gdb forwards and
// backwards with the same values as one recorded without it.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { programPath, rewind, tempDir } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

function recordBuffered(program: string): string {
  const root = tempDir('rewind-gdb-buffered-');
  const trace = path.join(root, 'trace');
  const r = rewind(['record', '-o', trace, '--', program], { traceRoot: root });
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
});
