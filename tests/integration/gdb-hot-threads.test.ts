// Breakpoints hit millions of times in a threaded process, searched backwards with
// the hits counted in the process (docs/timeline.md, "Counting in the process" and
// "gdb with threads"): the real gdb against `rewind replay` on
// tests/programs/threads/hot_threads.c, two workers that take turns, five rounds
// each, calling hot(id, n) 120 000 times a round (1.2e6 calls; n numbers the calls
// in the order they ran). From the end of the work (finish()), reverse-continue
// must land on the last call, in the thread that made it, then on the one before;
// from the start of the last round, on the last call of the round before, made by
// the other thread, and a forward continue from there on the first call of the last
// round, back in the first thread. Which recorded thread is which worker is taken
// from the forward run (a breakpoint at each round's start), never assumed. That
// the hits were counted, not trapped one by one, is read from `monitor stats`:
// with a trap per hit the searches would trap at least a round's 120 000 calls.
// Nothing here depends on time.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DIR, requireTool } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

const PROGRAM = path.join(BUILD_DIR, 'threads', 'hot_threads');
const ROUNDS = 5;
const CALLS = 120000;
const TOTAL = 2 * ROUNDS * CALLS;

/** the values gdb printed ($N = V), in order */
function printed(out: string): number[] {
  return [...out.matchAll(/^\$\d+ = (-?\d+)$/gm)].map((m) => Number(m[1]));
}

/** the recorded tids gdb said were current (`thread`: "[Current thread is N (Thread p.t)]"), in order */
function currentThreads(out: string): number[] {
  return [...out.matchAll(/^\[Current thread is \d+ \(Thread \d+\.(\d+)\)\]$/gm)].map((m) => Number(m[1]));
}

/** `monitor stats` lines as numbers */
function stats(out: string): Record<string, number> {
  return Object.fromEntries([...out.matchAll(/^(\w+): (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

/** After a stop at the start of each round going forwards: which recorded tid runs worker 1 and which worker 2. */
function workersOf(forward: string): Map<number, number> {
  const ids = printed(forward);
  const tids = currentThreads(forward);
  expect(ids).toEqual(Array.from({ length: 2 * ROUNDS }, (_, k) => 1 + (k % 2)));
  const byId = new Map<number, number>();
  ids.forEach((id, k) => {
    if (byId.has(id)) expect(byId.get(id), `worker ${id} ran in two threads:\n${forward}`).toBe(tids[k]);
    else byId.set(id, tids[k]);
  });
  expect(new Set(byId.values()).size).toBe(2);
  return byId;
}

const BACKWARDS = [
  'delete', 'break finish', 'continue', 'print n',
  // the last call, then the one before, both worker 2's
  'delete', 'break hot', 'reverse-continue', 'print n', 'print id', 'print my_id', 'print calls', 'thread',
  'reverse-continue', 'print n', 'print id', 'thread',
  // back to the start of the last round, then the last call before it: worker 1's, across the switch
  'delete', 'break round_begin', 'reverse-continue', 'print id', 'print r',
  'delete', 'break hot', 'reverse-continue', 'print n', 'print id', 'print my_id', 'thread',
  // and forwards from there: the next call is the last round's first, worker 2's again
  'continue', 'print n', 'print id', 'thread',
  'echo ==stats==\\n', 'monitor stats',
];

/** checks the transcript of BACKWARDS (after `echo ==back==`) against the workers' threads */
function checkBackwards(back: string, workers: Map<number, number>, server: string): void {
  const [answers, statText] = back.split('==stats==');
  expect(printed(answers), `${answers}\n${server.slice(-8000)}`).toEqual([
    TOTAL,
    TOTAL - 1, 2, 2, TOTAL - 1,
    TOTAL - 2, 2,
    2, ROUNDS - 1,
    TOTAL - CALLS - 1, 1, 1,
    TOTAL - CALLS, 2,
  ]);
  expect(currentThreads(answers)).toEqual([workers.get(2), workers.get(2), workers.get(1), workers.get(2)]);
  expect(answers).not.toContain('No more reverse-execution history');
  // counted in the process: arrivals counted by the stubs, next to no hit trapped by a search
  const s = stats(statText);
  expect(s.countedRuns, statText).toBeGreaterThan(0);
  expect(s.countedArrivals, statText).toBeGreaterThanOrEqual(CALLS);
  // (the server's runs say which window trapped, with REWIND_TRACE_RUNS=1)
  expect(s.trappedHits, `${statText}\n${server.split('\n').filter((l) => /windows from|counted|slices":\d|lost/.test(l)).join('\n').slice(-12000)}`).toBeLessThan(1000);
}

/** Each worker's rounds forwards (which thread is which worker), then the reverse commands, checked. */
async function forwardThenBack(trace: string, env: Record<string, string> = {}): Promise<void> {
  const { gdb, server, status } = await debugReplay(trace, [
    'break round_begin',
    ...Array.from({ length: 2 * ROUNDS }, () => ['continue', 'print id', 'thread']).flat(),
    'echo ==back==\\n',
    ...BACKWARDS,
  ], { timeoutMs: 240_000, env: { REWIND_TRACE_RUNS: '1', ...env } });
  expect(status, server).toBe(0);
  const out = afterMark(gdb);
  const [forward, back] = out.split('==back==');
  checkBackwards(back, workersOf(forward), server);
}

describe('reverse-continue to a breakpoint hit millions of times in two threads', () => {
  it('from the end of the work: the last calls, in the thread that made them, and across a thread switch, counted in the process', async () => {
    requireTool('gdb');
    await forwardThenBack(record(PROGRAM));
  });

  it('with the syscall buffer (the turns handed over by buffered futex calls): the same answers', async () => {
    requireTool('gdb');
    await forwardThenBack(record(PROGRAM, [], { syscallbuf: true }));
  });

  // Which windows a search runs goes by the run time they cover, which load stretches
  // unevenly: under load, one window went back from the end to a copy before the
  // threads were made, and trapped every call (a thread parked inside its clone could
  // not take the counters' mmap; the part after a thread's clone event could not be
  // counted on its own). REWIND_WINDOWS=widest plans that window whatever the timing.
  it('with the widest windows a loaded machine may plan, with and without the syscall buffer: the same answers, counted', async () => {
    requireTool('gdb');
    await forwardThenBack(record(PROGRAM), { REWIND_WINDOWS: 'widest' });
    await forwardThenBack(record(PROGRAM, [], { syscallbuf: true }), { REWIND_WINDOWS: 'widest' });
  });
});
