// A differential test on programs this repository has never seen: for each of
// a fixed list of seeds, a small random C program (integer arithmetic on globals,
// locals and a global array; loops with small bounds; if/else; functions calling
// each other, one of them recursive; no library calls at all, so that gdb's own
// `record full` can record it on this machine) is written to a temporary
// directory, compiled with `cc -g -O0`, recorded with rewind, and a gdb session
// derived from the same seed (a breakpoint on a function or a line, forward
// continues, then reverse-continue/step/next/finish/stepi with prints and
// backtraces, a watchpoint on a global with two reverse-continues, and forward
// again) runs twice: natively under `record full` (started at main) and against
// the replay. The two must print exactly the same thing. (Natively the
// watchpoint is a software one: gdb 13's record full misses hardware ones in
// reverse; the replay gets a hardware one.)
//
// The sessions are built to stay inside record full's history (which starts at
// main and ends where the forward continues stopped): the forward continues go
// far enough that the reverse commands cannot reach main's breakpoint, and the
// forward commands at the end cannot get past the last stop. The native run is
// checked for that too, so a generator mistake shows as such and not as a
// difference. Nothing prints an uninitialised variable: the stack moves by a few
// bytes between a natively run program and the recorded one (gdb gives the
// former a slightly different environment), so leftover stack contents differ.
import { describe, it } from 'vitest';
import { checkSeed } from './random-programs.js';

const SEEDS = [1, 7, 42, 2024, 3, 99, 512, 31337];

describe('random programs: reverse execution prints what gdb record full prints', () => {
  for (const seed of SEEDS) it(`seed ${seed}`, () => checkSeed(seed));
});
