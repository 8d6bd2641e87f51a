// Watchpoint reverse-continues, one after another, in a hot loop (issue 10's
// watchpoint outlier, docs/timeline.md "Counting in the process"): a global written
// every 2^22 iterations of a loop that writes another on every iteration, long
// enough that the forward continue leaves copies inside it. Each reverse-continue
// must land on the previous write, whatever windows the search uses: from copies
// that name now by its count, or only by its fingerprint at a pc passed on every
// iteration. Such a window used to trap at every arrival there (minutes); it now
// runs with a counting stub that compares the fingerprint's registers, which the
// server's trace of runs shows. No times are asserted (bench/reverse.js has them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileC } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

const N = 60_000_000;
const EVERY = 1 << 22;
const SOURCE = `volatile long g, h;
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }
int main(void) {
  for (long i = 0; i < ${N}; i++) {
    g = g * 31 + i;
    if ((i & ${EVERY - 1}) == 0) h = i;
  }
  done();
  return (int)(g & 1);
}
`;

describe('watchpoint reverse-continues in a hot loop', () => {
  let trace: string;
  const savedTrace = process.env.REWIND_TRACE_RUNS;

  beforeAll(() => {
    const exe = compileC('hot', SOURCE, 'rewind-watch-hot-');
    trace = record(exe);
    process.env.REWIND_TRACE_RUNS = '1'; // the server says how each window ran
  });

  afterAll(() => {
    if (savedTrace === undefined) delete process.env.REWIND_TRACE_RUNS;
    else process.env.REWIND_TRACE_RUNS = savedTrace;
  });

  it('each reverse-continue lands on the previous write of h', async () => {
    const REPEAT = 5;
    const { gdb, server } = await debugReplay(trace, [
      'break done', 'continue', 'watch h',
      ...Array.from({ length: REPEAT }, () => ['reverse-continue', 'print i', 'print h']).flat(),
    ]);
    const out = afterMark(gdb);
    const context = `gdb:\n${out}\nserver:\n${server.split('\n').filter((l) => !l.startsWith('rewind: run ')).join('\n')}`;
    const prints = [...out.matchAll(/^\$\d+ = (-?\d+)$/gm)].map((m) => Number(m[1]));
    // the writes, latest first: i = the multiples of EVERY below N; at the stop
    // (before the write, going backwards) h holds the previous multiple
    const last = Math.floor((N - 1) / EVERY) * EVERY;
    const expected: number[] = [];
    for (let k = 0; k < REPEAT; k++) expected.push(last - k * EVERY, last - (k + 1) * EVERY);
    expect(prints, context).toEqual(expected);
    expect(out.match(/^Hardware watchpoint \d+: h$/gm)?.length, context).toBe(REPEAT + 1);

    // every window that ends at a state named by its fingerprint, other than the
    // breakpoint at done (gdb's own trap there names it), counts in the process
    const done = /Breakpoint 2 at (0x[0-9a-f]+)/.exec(out)?.[1];
    expect(done, context).toBeTruthy();
    const byPrint = server.split('\n').filter((l) => /^rewind: run continue .*"search":true.*"kind":2,/.test(l) && !l.includes(`"pc":"${done}"`));
    for (const l of byPrint) expect(l, context).toContain('"counterTraps":["0x');
  }, 300_000);
});
