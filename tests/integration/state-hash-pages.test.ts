// The state hash of a point without copying untouched anonymous pages
// (addon/untouched_pages.h): the pages pagemap shows neither present nor swapped are
// hashed as the zeros they read as, so a point's name is the one every page read
// gives. Tested for real: two threads computing in a loop, preempted every 2 ms, with
// a 64 MiB anonymous buffer of which they write one page in 64 and an 8 MiB stack
// each that they hardly touch; recorded with every page read (REWIND_HASH_READ_ALL,
// the hash as traces recorded before it had) and replayed with untouched pages
// skipped, and the other way round: every point must be found (a hash that differs is
// a point not found, a divergence).
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describeRun, rewind, runNative, tempDir } from '../helpers.js';

const SOURCE = `
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#define SIZE (64L << 20)
static long rounds;
static unsigned char *buffer;
static unsigned long result[2];
static void *work(void *arg) {
  long id = (long)arg;
  unsigned long x = (unsigned long)id + 1;
  for (long n = 0; n < rounds; n++) {
    x = x * 6364136223846793005UL + 1442695040888963407UL;
    if ((n & 0xfffff) == 0) buffer[(x >> 20) % (SIZE / 4096 / 64) * 4096 * 64 + id] = (unsigned char)x;
  }
  result[id] = x;
  return NULL;
}
int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 100000000;
  buffer = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buffer == MAP_FAILED) return 1;
  pthread_t t[2];
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, work, (void *)i);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  unsigned long sum = 0;
  for (long i = 0; i < SIZE; i += 4096) sum += buffer[i] + buffer[i + 1];
  printf("%lx %lx %lx\\n", result[0], result[1], sum);
  return 0;
}
`;

let program = '';

describe('the state hash with untouched pages skipped', () => {
  beforeAll(() => {
    const dir = tempDir('rewind-hash-pages-');
    writeFileSync(path.join(dir, 'pages.c'), SOURCE);
    program = path.join(dir, 'pages');
    const cc = runNative(['cc', '-O2', '-pthread', '-o', program, 'pages.c'], { cwd: dir });
    expect(cc.status, describeRun(cc)).toBe(0);
  });

  for (const [recordedWith, replayedWith] of [['every page read', 'untouched pages skipped'], ['untouched pages skipped', 'every page read']]) {
    it(`recorded with ${recordedWith}, replayed with ${replayedWith}: every point found, the same output`, () => {
      const readAll = (how: string) => (how === 'every page read' ? { REWIND_HASH_READ_ALL: '1' } : {});
      const root = tempDir('rewind-hash-pages-trace-');
      const traceDir = path.join(root, 'trace');
      const record = rewind(['record', '--slice', '2', '-o', traceDir, '--', program, '60000000'],
        { traceRoot: root, env: readAll(recordedWith), timeoutMs: 120_000 });
      expect(record.status, describeRun(record)).toBe(0);
      expect(record.stdout.toString()).toMatch(/^[0-9a-f]+ [0-9a-f]+ [0-9a-f]+\n$/);
      const replay = rewind(['replay', '--check', traceDir],
        { traceRoot: root, env: { REWIND_TRACE_RUNS: '1', ...readAll(replayedWith) }, timeoutMs: 120_000 });
      expect(replay.status, describeRun(replay)).toBe(0);
      expect(replay.stdout.toString()).toBe(record.stdout.toString());
      const m = /points reached by the filter (\d+)/.exec(replay.stderr.toString());
      expect(Number(m?.[1]), replay.stderr.toString()).toBeGreaterThanOrEqual(2);
    });
  }
});
