// A trace is all gdb needs: recorded from a program that has since been deleted,
// and moved to another directory, it still gives gdb the exact executable and
// libraries (through vFile), so symbols, frames and sources lines resolve.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { programPath, tempDir } from '../helpers.js';
import { afterMark, debugReplay, gdbNative, record } from './gdb-support.js';

describe('a moved trace of a deleted program', () => {
  it('gdb loads the executable and libraries from the trace alone', async () => {
    const scratch = tempDir('rewind-portable-');
    const program = path.join(scratch, 'gdbdemo');
    fs.copyFileSync(programPath('gdbdemo'), program);
    fs.chmodSync(program, 0o755);
    const commands = ['break walk', 'continue', 'bt', 'print *p', 'info sharedlibrary'];
    const native = afterMark(gdbNative(program, commands));
    const trace = record(program);
    fs.rmSync(program);
    const moved = path.join(tempDir('rewind-moved-'), 'elsewhere');
    fs.renameSync(trace, moved);

    const { gdb, server } = await debugReplay(moved, commands);
    const out = afterMark(gdb);
    expect(out, `server stderr:\n${server}`).toBe(native);
    expect(out).toMatch(/#0 +walk \(/);
    expect(out).toMatch(/in main \(\) at gdbdemo\.c:\d+/);
    expect(out).toMatch(/libc\.so\.6/);
  });
});
