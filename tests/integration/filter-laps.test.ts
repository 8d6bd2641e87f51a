// The replay's filter running a preempted loop as laps (src/points/loop-laps.ts):
// four threads of an -O2 program, each in a loop of another shape (an LCG counted up
// by one as bench threads_cpu's, a counter stepping down by 3, a loop that writes a
// table the state hash sees, a 32-bit counter stepping by 5 that may wrap), preempted
// every 4 ms, so that their points fall at
// many places in the loops and at any counter value. The replay must find every
// point (a lap skipped wrongly is a point not found, a divergence) and print what
// the recording printed, with the laps (REWIND_TRACE_RUNS counts them) and without
// (REWIND_FILTER_LAPS=off).
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describeRun, rewind, runNative, tempDir } from '../helpers.js';

const SOURCE = `
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static long rounds;
static unsigned long result[4];
static unsigned long table[256];
static void *up(void *arg) {
  unsigned long x = 1;
  for (long n = 0; n < rounds; n++) x = x * 6364136223846793005UL + 1442695040888963407UL;
  result[0] = x;
  return arg;
}
static void *down(void *arg) {
  unsigned long x = 7;
  for (long n = 3 * rounds; n > 0; n -= 3) x = (x ^ (x >> 7)) * 0x9e3779b97f4a7c15UL + (unsigned long)n;
  result[1] = x;
  return arg;
}
static void *store(void *arg) {
  for (long n = 0; n < rounds; n++) table[n & 255] += (unsigned long)n * 3 + 1;
  unsigned long s = 0;
  for (int i = 0; i < 256; i++) s ^= table[i] << (i & 31);
  result[2] = s;
  return arg;
}
static void *step32(void *arg) {
  unsigned long x = 3;
  for (unsigned n = 7; n != (unsigned)rounds * 5u + 7u; n += 5u) x = (x ^ n) * 0xff51afd7ed558ccdUL;
  result[3] = x;
  return arg;
}
int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 50000000;
  pthread_t t[4];
  void *(*work[4])(void *) = {up, down, store, step32};
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, work[i], NULL);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  printf("%lx %lx %lx %lx\\n", result[0], result[1], result[2], result[3]);
  return 0;
}
`;

let program = '';

/** The counts `replay --check` prints with REWIND_TRACE_RUNS: points by the filter, of them with laps. */
function pointCounts(stderr: string): { filter: number; laps: number } {
  const m = /points reached by the filter (\d+) \((\d+) of them running the loop as laps\)/.exec(stderr);
  expect(m, stderr).not.toBeNull();
  return { filter: Number(m![1]), laps: Number(m![2]) };
}

describe('the filter\'s laps', () => {
  beforeAll(() => {
    const dir = tempDir('rewind-laps-');
    writeFileSync(path.join(dir, 'laps.c'), SOURCE);
    program = path.join(dir, 'laps');
    const cc = runNative(['cc', '-O2', '-pthread', '-o', program, 'laps.c'], { cwd: dir });
    expect(cc.status, describeRun(cc)).toBe(0);
  });

  it('four loops preempted every 4 ms: every point found with laps and without, the same output', () => {
    const native = runNative([program, '50000000']);
    expect(native.status, describeRun(native)).toBe(0);
    const root = tempDir('rewind-laps-trace-');
    const traceDir = path.join(root, 'trace');
    const record = rewind(['record', '--slice', '4', '-o', traceDir, '--', program, '50000000'], { traceRoot: root, timeoutMs: 120_000 });
    expect(record.status, describeRun(record)).toBe(0);
    expect(record.stdout.toString()).toBe(native.stdout.toString());

    const laps = rewind(['replay', '--check', traceDir], { traceRoot: root, env: { REWIND_TRACE_RUNS: '1' }, timeoutMs: 120_000 });
    expect(laps.status, describeRun(laps)).toBe(0);
    expect(laps.stdout.toString()).toBe(record.stdout.toString());
    const withLaps = pointCounts(laps.stderr.toString());
    // the four loops have dead flags at most of their instructions: most points run laps
    expect(withLaps.filter, `points in ${traceDir}`).toBeGreaterThanOrEqual(4);
    expect(withLaps.laps).toBeGreaterThan(withLaps.filter / 2);

    const off = rewind(['replay', '--check', traceDir], { traceRoot: root, env: { REWIND_TRACE_RUNS: '1', REWIND_FILTER_LAPS: 'off' }, timeoutMs: 120_000 });
    expect(off.status, describeRun(off)).toBe(0);
    expect(off.stdout.toString()).toBe(record.stdout.toString());
    expect(pointCounts(off.stderr.toString())).toEqual({ filter: withLaps.filter, laps: 0 });
  });
});
