// Shared memory under gdb (issue 14): the replay maps a MAP_SHARED file from an
// emulated file, so its two mappings stay coherent; the checkpoints that reverse
// execution restores are forked copies of the replay, which must not see the
// stores it makes after them. tests/programs/edge/shared_rounds.c stores round*11
// through one mapping and reads it through the other, a round per syscall.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

let trace: string;
const program = path.join(BUILD_DIR, 'edge', 'shared_rounds');

beforeAll(() => {
  trace = record(program);
});

describe('MAP_SHARED under reverse execution', () => {
  it('back at round 5 after round 9, both mappings show round 5', async () => {
    const forward = (n: number) => Array.from({ length: n }, () => 'continue');
    const back = (n: number) => Array.from({ length: n }, () => 'reverse-continue');
    const { gdb, server } = await debugReplay(trace, [
      'break round_done', ...forward(5), 'print round', 'print *b', ...forward(4), 'print round', 'print *b',
      ...back(4), 'print round', 'print *b', 'print *a', 'print seen', ...forward(1), 'print round', 'print *b',
    ]);
    const out = afterMark(gdb);
    expect(out, `server stderr:\n${server}`).not.toMatch(/Remote failure|Remote connection closed|internal error/i);
    const values = [...out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
    // (round, *b) at 5 and 9; back at 5: *b, *a and seen are 55 (a copy that shared
    // the replay's pages would show a later round's store); forward to 6 again.
    expect(values, out).toEqual([5, 55, 9, 99, 5, 55, 55, 55, 6, 66]);
  });
});
