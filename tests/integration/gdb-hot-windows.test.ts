// reverse-continue windows that cross events into an interval where a breakpoint is
// hit on every iteration (docs/timeline.md, "reverse-continue", the tail of a
// window): tests/programs/hotwindow.c calls hot(i) 300 000 times right after a
// syscall, then computes without calls. gdb stops at mid() and then at after(), so
// that the search's first window starts at mid's checkpoint and the next one comes
// from before the syscall; that window used to trap each of the 300 000 hits (30 s),
// and a window ending at after(), whose instruction cannot be moved (a `ret` within
// its 5 bytes), used to give up counting altogether. The answers are checked, never
// the time: reverse-continue lands on the last three calls, in reverse order, and a
// forward continue from there reports the same calls in forward order; the server's
// trace of runs shows the hits were counted in the process. With a periodic timer
// (SIGALRM every 2 ms, many points), the same answers through every stretch.
// tests/programs/bufhot.c: buffered reads with 2000 calls of hot(j) after each; a
// window back over many reads is one counted run with the reads served from the
// feed (counted-spans.ts), then the interval of the last hit is found by counting.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { programPath, rewind, tempDir } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

/** Records with the syscall buffer (gdb-support's record() leaves it out), so that replay feeds the buffered reads. */
function recordBuffered(program: string, args: string[] = []): string {
  const root = tempDir('rewind-hot-windows-');
  const trace = path.join(root, 'trace');
  const r = rewind(['record', '-o', trace, '--', program, ...args], { traceRoot: root });
  if (!/trace saved to/.test(r.stderr.toString())) throw new Error(`recording ${program} failed:\n${r.stderr}`);
  return trace;
}

const HOTS = 300000;

/** the values gdb printed ($N = V), in order */
function printed(out: string): number[] {
  return [...out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
}

const REVERSE_THEN_FORWARD = [
  'break hot', 'reverse-continue', 'print i', 'reverse-continue', 'print i', 'reverse-continue', 'print i',
  'continue', 'print i', 'continue', 'print i', 'print last',
];
/** reverse: the last three calls, latest first; forward from there: the two after, in order; `last` is what the call before stored */
const ANSWERS = [HOTS - 1, HOTS - 2, HOTS - 3, HOTS - 2, HOTS - 1, HOTS - 2];

describe('reverse-continue windows that cross events into a hot interval', () => {
  const savedTrace = process.env.REWIND_TRACE_RUNS;

  beforeAll(() => {
    process.env.REWIND_TRACE_RUNS = '1'; // the server says how each run counted
  });

  afterAll(() => {
    if (savedTrace === undefined) delete process.env.REWIND_TRACE_RUNS;
    else process.env.REWIND_TRACE_RUNS = savedTrace;
  });

  it('from a stop after the hot loop: the last calls, counted in the process, in reverse order, then forward again', async () => {
    const trace = record(programPath('hotwindow'));
    const { gdb, server } = await debugReplay(trace, ['break mid', 'continue', 'break after', 'continue', 'delete', ...REVERSE_THEN_FORWARD]);
    const out = afterMark(gdb);
    expect(out).toMatch(/Breakpoint \d+, after \(\)/);
    expect(printed(out), `${out}\n${server}`).toEqual(ANSWERS);
    expect(out).toMatch(new RegExp(`Breakpoint \\d+, hot \\(i=${HOTS - 1}\\)[^]*hot \\(i=${HOTS - 2}\\)[^]*hot \\(i=${HOTS - 3}\\)[^]*hot \\(i=${HOTS - 2}\\)[^]*hot \\(i=${HOTS - 1}\\)`));
    // the loop's 300 000 arrivals at hot were counted in one run, not trapped one by one
    expect(server).toMatch(new RegExp(`counted window: .*x${HOTS}\\b`));
  });

  it('with a periodic timer (many asynchronous signals\' points): the same answers through the stretches', async () => {
    const trace = record(programPath('hotwindow'), [String(HOTS), '20000000', 'timer']);
    const { gdb, server } = await debugReplay(trace, ['break after', 'continue', ...REVERSE_THEN_FORWARD], { timeoutMs: 280_000 });
    const out = afterMark(gdb);
    expect(out).toMatch(/Breakpoint \d+, after \(\)/);
    expect(printed(out), `${out}\n${server.slice(-4000)}`).toEqual(ANSWERS);
    expect(out).not.toContain('No more reverse-execution history');
  });

  it('back over buffered reads with a hot function between them: counted across the reads, served from the feed', async () => {
    const trace = recordBuffered(programPath('bufhot'));
    // stop at hot(0) right after the middle read (marker's iteration), then back over the reads before it
    const { gdb, server } = await debugReplay(trace, [
      'break marker', 'continue', 'print k', 'delete', 'break hot', 'continue', 'print j',
      'reverse-continue', 'print j', 'reverse-continue', 'print j', 'continue', 'print j', 'continue', 'print j',
      'delete', 'break marker', 'break done', 'continue', 'reverse-continue', 'print k',
    ]);
    const out = afterMark(gdb);
    // k = 100; hot(0) after its read; back: hot(1999), hot(1998) of the iteration before; forward: hot(1999), hot(0); back from done: marker(100)
    expect(printed(out), `${out}\n${server.slice(-4000)}`).toEqual([100, 0, 1999, 1998, 1999, 0, 100]);
    // the window over the reads was counted, and its run took the reads from the feed
    expect(server).toMatch(/counted span from .* to interval \d+: last at 0x/);
    const spanRuns = server.split('\n').filter((l) => /"counterSeq"/.test(l) && /, [1-9]\d* served in-process,/.test(l));
    expect(spanRuns.length, server.slice(-4000)).toBeGreaterThan(0);
  });
});
