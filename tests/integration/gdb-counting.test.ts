// In-process hit counting (docs/timeline.md, "Counting in the process") on a real
// program driven by the real gdb: breakpoints hit on every iteration of a 300 000-
// iteration loop, one on a rip-relative load (gcc's `g = g * 31 + i`) and one on
// a short conditional branch (hand-written, so that it is one), are found by
// reverse-continue at their last hits, in the right order, counted in the process
// (the server's trace of runs says so); the state reached is the program's own
// (the variables, a reverse-stepi, a forward continue from there), with a copy left
// at the hit's previous arrival for the reverse-stepi; and gdb reads
// the original instructions, not the stub's jump, at the counted addresses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileC, describeRun, runNative } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

const N = 300000;
const SOURCE = `#include <stdio.h>
volatile long g, odd;
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }
int main(void) {
  for (long i = 0; i < ${N}; i++) {
    g = g * 31 + i;
    __asm__ volatile(
      "testq $1, %0\\n"
      ".globl at_branch\\n"
      "at_branch: jz 1f\\n"          /* a short conditional branch: taken for even i */
      "addq $1, odd(%%rip)\\n"      /* a rip-relative operand displaced with it */
      "1:\\n" : : "r"(i) : "cc", "memory");
  }
  done();
  printf("%ld %ld\\n", g, odd);
  return 0;
}
`;
const LINE_G = SOURCE.split('\n').findIndex((l) => l.includes('g = g * 31 + i')) + 1;

/** gdb's lines with addresses and the current-instruction marker taken out (they differ between a file and a process) */
function withoutAddresses(text: string): string {
  return text.split('\n').map((l) => l.replace(/^=> /, '   ').replace(/0x[0-9a-f]{3,}/g, 'ADDR').replace(/\s+/g, ' ').trim()).filter(Boolean).join('\n');
}

describe('breakpoints counted in the process', () => {
  let exe: string;
  let trace: string;
  const savedTrace = process.env.REWIND_TRACE_RUNS;

  beforeAll(() => {
    exe = compileC('counted', SOURCE, 'rewind-counting-');
    trace = record(exe);
    process.env.REWIND_TRACE_RUNS = '1'; // the server says how each run counted
  });

  afterAll(() => {
    if (savedTrace === undefined) delete process.env.REWIND_TRACE_RUNS;
    else process.env.REWIND_TRACE_RUNS = savedTrace;
  });

  it('reverse-continue lands on the last hits of a rip-relative load and of a branch, in order', async () => {
    const { gdb, server } = await debugReplay(trace, [
      'break done', 'continue',
      'break *at_branch', `break counted.c:${LINE_G}`,
      'reverse-continue', 'print i', 'print odd',
      'reverse-continue', 'print i',
      'reverse-continue', 'print i', 'print odd',
      'echo ==code==\\n', 'x/3i at_branch', 'x/16xb at_branch', `info line counted.c:${LINE_G}`, 'echo ==end==\\n',
      'monitor position', 'monitor checkpoints',
      'reverse-stepi', 'x/i $pc', 'print i',
      'continue', 'print i', 'print odd',
    ]);
    const out = afterMark(gdb);
    const context = `gdb:\n${out}\nserver:\n${server}`;
    const prints = [...out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
    // odd counts the odd i before the current iteration's add
    const oddBefore = (i: number) => Math.floor(i / 2);
    expect(prints, context).toEqual([N - 1, oddBefore(N - 1), N - 1, N - 2, oddBefore(N - 2), N - 2, N - 2, oddBefore(N - 2)]);
    const stops = [...out.matchAll(/^Breakpoint (\d), /gm)].map((m) => Number(m[1]));
    expect(stops, context).toEqual([2, 3, 4, 3, 3]); // 1 is main's, set by debugReplay
    // the reverse-stepi from the branch's hit lands on the test before it
    expect(out, context).toMatch(/=> 0x[0-9a-f]+ <main\+\d+>:\s+test\s+\$0x1,%/);

    // counted in the process, not trapped: both breakpoints had a counter in the windows
    const atBranch = /Breakpoint 3 at (0x[0-9a-f]+)/.exec(out)?.[1];
    const atLine = /Breakpoint 4 at (0x[0-9a-f]+)/.exec(out)?.[1];
    expect(atBranch && atLine, context).toBeTruthy();
    const windows = [...server.matchAll(/^rewind: counted window: (.*)$/gm)].map((m) => m[1]);
    expect(windows.length, context).toBeGreaterThanOrEqual(3);
    for (const w of windows) {
      expect(w).toContain(`${atBranch} x`);
      expect(w).toContain(`${atLine} x`);
    }

    // a counted window leaves no copies on the way: the search leaves one at the hit's
    // previous arrival, so the reverse-stepi steps from there, not from the window's start
    const hitAt = /Current position: arrival (\d+) at (0x[0-9a-f]+) since (.*)$/m.exec(out);
    expect(hitAt?.[2], context).toBe(atBranch);
    expect(out, context).toContain(`arrival ${Number(hitAt![1]) - 1} at ${atBranch} since ${hitAt![3]}`);
    const afterPredecessor = server.split(/^rewind: predecessor of .*$/m)[1] ?? '';
    expect(/^rewind: run (\w+)/m.exec(afterPredecessor)?.[1], context).toBe('step');

    // gdb reads the program's own instructions there, as in the file (the stub is invisible)
    const code = /==code==\n([^]*?)==end==/.exec(out)?.[1] ?? '';
    const fromFile = runNative(['gdb', '-batch', '-nx', '-ex', 'x/3i at_branch', '-ex', 'x/16xb at_branch', '-ex', `info line counted.c:${LINE_G}`, exe]);
    expect(fromFile.status, describeRun(fromFile)).toBe(0);
    expect(withoutAddresses(code), context).toBe(withoutAddresses(fromFile.stdout.toString()));
    expect(code).toMatch(/^=> 0x[0-9a-f]+ <main\+\d+>:\s+je\s/); // where the process stands: the branch, not a jmp
  });

  it('a loop of five bytes back to its own head is counted on every iteration', async () => {
    // `for (;;) if (--left == 0) break;` as sub + jnz: the whole loop is the five
    // bytes the counter's jump displaces, so its moved copy must branch back to
    // the program's head (through the counter), not round itself
    const M = 100000;
    const tight = compileC('tight', `#include <stdio.h>
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }
int main(void) {
  long left = ${M};
  __asm__ volatile(".globl tight_head\\n"
                   "tight_head:\\n1: subl $1, %%ecx\\n jnz 1b\\n" : "+c"(left) : : "cc");
  done();
  printf("%ld\\n", left);
  return 0;
}
`, 'rewind-tight-');
    const tightTrace = record(tight);
    const { gdb, server } = await debugReplay(tightTrace, [
      'x/2i tight_head', 'break done', 'continue', 'break *tight_head',
      'reverse-continue', 'print $rcx',
      'reverse-continue', 'print $rcx',
      'continue', 'print $rcx',
    ]);
    const out = afterMark(gdb);
    const context = `gdb:\n${out}\nserver:\n${server}`;
    // the loop really is five bytes that branch back to their first (gdb names it main+k)
    const head = /Breakpoint 3 at (0x[0-9a-f]+)/.exec(out)?.[1];
    expect(head, context).toBeTruthy();
    const loop = /^(0x[0-9a-f]+) <[^>]+>:\s+sub\s+\$0x1,%ecx\n\s+(0x[0-9a-f]+) <[^>]+>:\s+jne\s+(0x[0-9a-f]+) /m.exec(out);
    expect(loop?.slice(1).map((a) => BigInt(a)), context).toEqual([BigInt(head!), BigInt(head!) + 3n, BigInt(head!)]);
    // the last iteration (ecx 1 before its sub), the one before, then forward again to the last
    const prints = [...out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
    expect(prints, context).toEqual([1, 2, 1]);
    // counted in the process, not trapped, and every iteration counted: the windows
    // start at an event before the loop (it has none), so they see all M arrivals
    const windows = [...server.matchAll(/^rewind: counted window: (.*)$/gm)].map((m) => m[1]);
    expect(windows.length, context).toBeGreaterThanOrEqual(1);
    for (const w of windows) expect(w, context).toContain(`${head} x${M}`);
  });
});
