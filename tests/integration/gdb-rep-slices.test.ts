// Copies of a program that spends its time inside one rep-string instruction (a
// memset of 64 MiB at a time: glibc's `rep stosb`), docs/timeline.md "Copies inside
// a rep-string instruction". A slice's SIGSTOP stops the program part way through
// the instruction, a state no run arrives at again; the forward continue used to
// keep the first such copy and put off every later one (the next stop was inside a
// rep again). Now the program runs on to the instruction after it and the copy is
// taken there: no checkpoint stands at a rep-string instruction, and the reverse
// commands answer from them. A watchpoint on a byte the memsets write: searched
// backwards, its trigger stands inside the rep, and going back one iteration of it
// is refused with a reason (it used to run for hours: a breakpoint on the rep
// trapped once per byte); forwards it stops at each write, also when a copy was due
// inside the rep (the trigger is then the run's stop, debugger_rep_string.cc).
import { beforeAll, describe, expect, it } from 'vitest';
import { compileC } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

const SOURCE = `#include <stdlib.h>
#include <string.h>
volatile long g;
char *big;
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }
__attribute__((noinline)) void step(long i) { g = i; }
int main(void) {
  size_t n = 64ul << 20;
  big = malloc(n);
  for (long i = 0; i < 30; i++) { memset(big, (int)i + 1, n); step(i); }
  done();
  return big[12345] == 30 ? 0 : 1;
}
`;

// gdb's python lists the checkpoints the server kept and disassembles each one's pc
const CHECKPOINTS = 'python import re; [print("CHECKPOINT " + gdb.execute("x/i " + pc, to_string=True).strip().replace("=> ", "")) '
  + 'for pc in re.findall(r"at (0x[0-9a-f]+) since", gdb.execute("monitor checkpoints", to_string=True))]';

describe('copies of a program inside rep-string instructions', () => {
  let trace: string;

  beforeAll(() => {
    trace = record(compileC('memsets', SOURCE, 'rewind-rep-slices-'));
  });

  it('stand after the instruction, and reverse commands answer from them', async () => {
    const { gdb, server } = await debugReplay(trace, [
      'break done', 'continue', CHECKPOINTS,
      'break step',
      ...Array.from({ length: 3 }, () => ['reverse-continue', 'print i']).flat(),
      'delete', 'watch -l big[40000000]',
      'reverse-continue', 'up', 'print i',
      'continue', 'up', 'print i', 'continue', 'up', 'print i',
    ], { timeoutMs: 240_000 });
    const out = afterMark(gdb);
    const context = `gdb:\n${out}\nserver:\n${server}`;
    const checkpoints = [...out.matchAll(/^CHECKPOINT (.*)$/gm)].map((m) => m[1]);
    expect(checkpoints.length, context).toBeGreaterThan(0);
    for (const c of checkpoints) expect(c, context).not.toMatch(/\brep[a-z]* +(stos|movs|cmps|scas|lods)/);
    // the forward continue left copies in the memsets (the program is almost all of it there)
    expect(checkpoints.some((c) => /<__memset/.test(c)), context).toBe(true);
    const prints = [...out.matchAll(/^\$\d+ = (-?\d+)$/gm)].map((m) => Number(m[1]));
    // step(29), step(28), step(27); the write before it (the memset of iteration 27,
    // part way through its rep stosb) is refused with a reason, and nothing moved;
    // then forwards the memsets of iterations 28 and 29 write the byte
    expect(prints, context).toEqual([29, 28, 27, 27, 28, 29]);
    expect(out, context).toContain('cannot go back to this write: a rep-string instruction');
    expect(out.match(/^Old value = (\d+) .*\nNew value = (\d+) /gm), context).toEqual(["Old value = 28 '\\034'\nNew value = 29 ", "Old value = 29 '\\035'\nNew value = 30 "]);
  }, 300_000);
});
