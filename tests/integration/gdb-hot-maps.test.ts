// A breakpoint hit 300 000 times, searched backwards across events that change the
// address space (issue 10: "however often the breakpoint is hit in between";
// docs/timeline.md, "Counting across mapping events"): the real gdb against
// `rewind replay` on tests/programs/hot_maps.c, whose loop calls hot(n) for n = 0 ..
// 299 999 and then mallocs 64 MiB (mmap), grows the heap (brk), maps its own file,
// madvises, reallocs (mremap), runs a JIT page, dlopens libm and calls its cbrt(),
// forks and vforks, shrinks the heap and frees the block, and calls finish().
// From finish(), reverse-continue with `break hot` must land on the last call, then
// on the one before (n as the program numbered them; the forward run's `last` says
// how many calls there were). A breakpoint in the library dlopened in between
// (cbrt) is found first when set too: the span that would cross its mapping is
// counted only after it. That the hits were counted, not trapped one by one, is read
// from `monitor stats`: with a trap per hit the searches would trap 300 000 calls.
// Nothing here depends on time.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DIR, requireTool } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

const PROGRAM = path.join(BUILD_DIR, 'hot_maps');
const CALLS = 300000;

/** the values gdb printed ($N = V), in order */
function printed(out: string): number[] {
  return [...out.matchAll(/^\$\d+ = (-?\d+)$/gm)].map((m) => Number(m[1]));
}

/** `monitor stats` lines as numbers */
function stats(out: string): Record<string, number> {
  return Object.fromEntries([...out.matchAll(/^(\w+): (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

/** The server's lines that say how each window was searched (REWIND_TRACE_RUNS=1), for a failure's message. */
function windows(server: string): string {
  return server.split('\n').filter((l) => /windows from|span from|counted|lost|refus/.test(l)).join('\n').slice(-12000);
}

async function backFromFinish(trace: string, commands: string[]): Promise<{ answers: string; stats: Record<string, number>; server: string }> {
  const { gdb, server, status } = await debugReplay(trace, [
    'break finish', 'continue', 'print last',
    ...commands,
    'echo ==stats==\\n', 'monitor stats',
  ], { timeoutMs: 240_000, env: { REWIND_TRACE_RUNS: '1' } });
  expect(status, server.slice(-8000)).toBe(0);
  const [answers, statText] = afterMark(gdb).split('==stats==');
  expect(answers, windows(server)).not.toContain('No more reverse-execution history');
  expect(answers, windows(server)).not.toContain('cannot go back');
  return { answers, stats: stats(statText), server };
}

describe('reverse-continue to a hot breakpoint across mmap, brk, file and library mappings, and forks', () => {
  it('from finish(): the last call of hot, then the one before, with the hits counted in the process', async () => {
    requireTool('gdb');
    const trace = record(PROGRAM);
    const { answers, stats: s, server } = await backFromFinish(trace, [
      'delete', 'break hot', 'reverse-continue', 'print n', 'reverse-continue', 'print n',
    ]);
    expect(printed(answers), windows(server)).toEqual([CALLS - 1, CALLS - 1, CALLS - 2]);
    expect(s.countedArrivals, windows(server)).toBeGreaterThanOrEqual(CALLS);
    // with a trap per hit, the window back to the loop traps all 300 000 calls
    expect(s.trappedHits, windows(server)).toBeLessThan(1000);
  });

  it('with a breakpoint in the library mapped in between: its call first, then the last call of hot', async () => {
    requireTool('gdb');
    const trace = record(PROGRAM);
    const { answers, stats: s, server } = await backFromFinish(trace, [
      'break cbrt', 'break hot', 'reverse-continue', 'bt 1', 'reverse-continue', 'print n',
    ]);
    expect(answers, windows(server)).toMatch(/Breakpoint 3, [^\n]*cbrt/);
    expect(printed(answers), windows(server)).toEqual([CALLS - 1, CALLS - 1]);
    expect(s.countedArrivals, windows(server)).toBeGreaterThanOrEqual(CALLS);
    expect(s.trappedHits, windows(server)).toBeLessThan(1000);
  });

  it('with the syscall buffer: the same answers, counted', async () => {
    requireTool('gdb');
    const trace = record(PROGRAM, [], { syscallbuf: true });
    const { answers, stats: s, server } = await backFromFinish(trace, [
      'delete', 'break hot', 'reverse-continue', 'print n', 'reverse-continue', 'print n',
    ]);
    expect(printed(answers), windows(server)).toEqual([CALLS - 1, CALLS - 1, CALLS - 2]);
    expect(s.countedArrivals, windows(server)).toBeGreaterThanOrEqual(CALLS);
    expect(s.trappedHits, windows(server)).toBeLessThan(1000);
  });
});
