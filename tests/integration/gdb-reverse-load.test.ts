// The reverse differential test (gdb-reverse-random.test.ts) while two CPU hogs
// run on the machine's cores: timing may change how fast an answer comes, never
// which answer comes or whether it comes (issue 10; seed 512 once lost its way
// back under load). The hogs are busy loops that exit by themselves when this
// process goes away, so a killed test run leaves none behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSeed } from './random-programs.js';

const SEEDS = [512, 2024];
/** a hang is what a timeout is for here: a loaded machine only makes the answers slower */
const TIMEOUT_MS = 240_000;

/** a busy loop that checks now and then that its parent is still there */
const HOG = `const parent = ${process.pid}; for (;;) { for (let i = 0; i < 1e7; i++); if (process.ppid !== parent) process.exit(0); }`;

describe('random programs under load: the same answers with two CPU hogs running', () => {
  const hogs: ChildProcess[] = [];

  beforeAll(() => {
    for (let i = 0; i < 2; i++) hogs.push(spawn(process.execPath, ['-e', HOG], { stdio: 'ignore' }));
  });

  afterAll(() => {
    for (const h of hogs) h.kill('SIGKILL');
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}`, async () => {
      // the load is really there while the session runs
      for (const h of hogs) expect(h.exitCode, 'a CPU hog ended early').toBeNull();
      await checkSeed(seed);
      for (const h of hogs) expect(h.exitCode, 'a CPU hog ended early').toBeNull();
    }, TIMEOUT_MS);
  }
});
