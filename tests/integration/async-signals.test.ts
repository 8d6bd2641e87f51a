// Asynchronous signals delivered where they really arrived (issue 9 item 4,
// docs/timeline.md "Signals", docs/preemption.md): programs that compute without
// syscalls until a SIGALRM handler sets a flag. Before, the signal was held back to
// the next syscall and such a recording never ended. Each program prints what it
// counted up to the signal, which depends on where the signal came: the replay
// must print the same, and the trace must hold the point (an async-point event).
// Nothing depends on when the timer fires, only on the replay reproducing it.
// Negative: a trace whose recorded state hash is changed makes the replay stop with
// a divergence that names the thread, its event index and the reason.
// Under gdb: a breakpoint in the handler, the interrupted frame at the recorded
// point, reverse-finish out of the handler to it and on back into the loop, breakpoints in the
// loop before it forwards and backwards, reverse-continue over it to the
// start and forward again to the same state, checked against the program's own
// printed count (gdb's own \`record full\` cannot replay a real timer's signal).
import { beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { TraceReader } from '../../src/history/index.js';
import { decodeEvent, encodeJsonEvent, EventKind, type AsyncPointInfo } from '../../src/history/events.js';
import { compileC, describeRun, recordAndReplay, rewind, tempDir } from '../helpers.js';
import { rewriteTrace } from '../trace-edit.js';
import { afterMark, debugReplay } from './gdb-support.js';

const SOURCE = `#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static unsigned long count;
static char src[4096], dst[4096];
/* through a volatile pointer: libc's own memcpy, not an inlined copy */
static void *(*volatile copy)(void *, const void *, size_t) = memcpy;

static void on_alarm(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "flag";
  signal(SIGALRM, on_alarm);
  struct itimerval t = { { 0, 0 }, { 0, 20000 } };
  setitimer(ITIMER_REAL, &t, NULL);
  if (!strcmp(mode, "flag")) {            /* the issue's loop: its count in a register */
    unsigned long i = 0;
    while (!stop) i++;
    count = i;
  } else if (!strcmp(mode, "atomic")) {   /* the hard case: every arrival has the same registers */
    while (!stop) __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
  } else if (!strcmp(mode, "spin")) {     /* the state repeats: every arrival is the same */
    while (!stop) { }
  } else if (!strcmp(mode, "buffered")) { /* calls the syscall buffer serves, between the computing */
    int fd = open("/dev/zero", O_RDONLY);
    char b[1];
    while (!stop) {
      for (int i = 0; i < 1000; i++) count += i;
      if ((count & 0xff00) == 0 && read(fd, b, 1) == 1) count++;
    }
  } else if (!strcmp(mode, "memcpy")) {   /* the count is out of sight of memcpy's code */
    memset(src, 'x', sizeof src - 1);
    while (!stop) { copy(dst, src, sizeof src); __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED); }
  }
  printf("%s %lu\\n", mode, count);
  return 0;
}
`;

const FLAG_SOURCE = `#include <signal.h>
#include <stdio.h>
#include <sys/time.h>

static volatile sig_atomic_t stop;
static volatile unsigned long iterations;

static void on_alarm(int sig) {
  (void)sig;
  stop = 1;
}

int main(void) {
  signal(SIGALRM, on_alarm);
  struct itimerval t = { { 0, 0 }, { 0, 20000 } };
  setitimer(ITIMER_REAL, &t, NULL);
  while (!stop) iterations++;
  printf("iterations %lu\\n", iterations);
  return 0;
}
`;
const FLAG_LINE = FLAG_SOURCE.split('\n').findIndex((l) => l.includes('while (!stop) iterations++')) + 1;

/** the flag loop with its count on a line of its own, for a breakpoint hit on every iteration */
const LOOP_SOURCE = FLAG_SOURCE.replace('while (!stop) iterations++;', 'while (!stop) {\n    iterations++;\n  }');
const LOOP_LINE = LOOP_SOURCE.split('\n').findIndex((l) => l.trim() === 'iterations++;') + 1;

/** no handler: SIGALRM's default action ends the program; the loop is three instructions and a two-byte jump back */
const DIE_SOURCE = `#include <sys/time.h>
static volatile unsigned long n;
int main(void) {
  struct itimerval t = { { 0, 0 }, { 0, 20000 } };
  setitimer(ITIMER_REAL, &t, 0);
  for (;;) n++;
}
`;

/** SIGALRM every 2 ms; the handler adds up the loop's count at each: every point shows in the sum */
const PERIODIC_SOURCE = `#include <signal.h>
#include <stdio.h>
#include <sys/time.h>

static volatile unsigned long ticks, iterations, sum;

static void on_alarm(int sig) { (void)sig; ticks++; sum += iterations; }

int main(void) {
  signal(SIGALRM, on_alarm);
  struct itimerval t = { { 0, 2000 }, { 0, 2000 } };
  setitimer(ITIMER_REAL, &t, NULL);
  while (ticks < 30) iterations++;
  printf("ticks %lu iterations %lu sum %lu\\n", ticks, iterations, sum);
  return 0;
}
`;

let exe: string;
const program = () => exe;

function points(traceDir: string): { index: number; tid: number; point: AsyncPointInfo }[] {
  const t = TraceReader.open(traceDir);
  try {
    const out: { index: number; tid: number; point: AsyncPointInfo }[] = [];
    for (let i = 0; i < t.eventCount; i++) {
      const ev = decodeEvent(t.record(i));
      if (ev.kind === 'async-point') out.push({ index: i, tid: ev.tid, point: ev.point });
    }
    return out;
  } finally {
    t.close();
  }
}

/** Compiles `source` as `name`, records it, and returns the trace and the `iterations N` it printed. */
function recordIterations(name: string, source: string, prefix: string): { trace: string; printed: number } {
  const program = compileC(name, source, prefix);
  const root = tempDir(prefix);
  const trace = path.join(root, 'trace');
  const rec = rewind(['record', '-o', trace, '--', program], { traceRoot: root });
  expect(rec.status, describeRun(rec)).toBe(0);
  return { trace, printed: Number(/^iterations (\d+)$/m.exec(rec.stdout.toString())?.[1]) };
}

/** Records `mode`, replays it, and checks both printed the same count and the trace holds the signal's point. */
function recordsAndReplays(mode: string): { traceDir: string; count: number } {
  const { record, replay, traceDir } = recordAndReplay([program(), mode]);
  expect(record.status, describeRun(record)).toBe(0);
  const printed = record.stdout.toString();
  const m = new RegExp(`^${mode} (\\d+)\\n$`).exec(printed);
  expect(m, printed).not.toBeNull();
  expect(replay.status, describeRun(replay)).toBe(0);
  expect(replay.stdout.toString()).toBe(printed);
  const found = points(traceDir);
  expect(found.length, `async-point events in ${traceDir}`).toBe(1);
  expect(found[0].point.what.signal).toBe(14);
  return { traceDir, count: Number(m![1]) };
}

/** A copy of the trace whose point's recorded state hash is changed in one digit. */
function withTamperedHash(traceDir: string): string {
  const to = path.join(tempDir('rewind-async-tampered-'), 'trace');
  rewriteTrace(traceDir, to, {
    record(_i, rec) {
      const ev = decodeEvent(rec);
      if (ev.kind !== 'async-point') return rec;
      const hash = ev.point.hash;
      const flipped = (parseInt(hash[0], 16) ^ 1).toString(16) + hash.slice(1);
      return encodeJsonEvent(EventKind.AsyncPoint, ev.tid, { ...ev.point, hash: flipped });
    },
  });
  return to;
}

describe('asynchronous signals where they arrived', () => {
  beforeAll(() => {
    exe = compileC('alarmloop', SOURCE, 'rewind-async-');
  });

  it('a loop waiting for a SIGALRM handler\'s flag: recorded to its end, replayed to the same count', () => {
    const { count } = recordsAndReplays('flag');
    expect(count).toBeGreaterThan(0);
  });

  it('the hard case, count++ in memory: the same count in the replay', () => {
    const { traceDir, count } = recordsAndReplays('atomic');
    expect(count).toBeGreaterThan(0);
    // The registers at the point are the same at every arrival: the loop value
    // (count, a rip-relative operand) is in the point's name.
    expect(points(traceDir)[0].point.loopValues.length).toBeGreaterThan(0);
  });

  it('a spin on a flag (a state that repeats): replayed', () => {
    recordsAndReplays('spin');
  });

  it('memcpy in a counting loop: replayed to the same count', () => {
    const { count } = recordsAndReplays('memcpy');
    expect(count).toBeGreaterThan(0);
  });

  it('calls the syscall buffer serves before the point: replayed to the same count', () => {
    const { count } = recordsAndReplays('buffered');
    expect(count).toBeGreaterThan(0);
  });

  it('a SIGALRM without a handler kills the loop at the point, in the recording and in the replay', () => {
    const die = compileC('die', DIE_SOURCE, 'rewind-async-die-');
    const { record, replay, traceDir } = recordAndReplay([die]);
    expect(record.status, describeRun(record)).toBe(128 + 14);
    expect(replay.status, describeRun(replay)).toBe(128 + 14);
    expect(points(traceDir).length).toBe(1);
  });

  it('a periodic timer: many points, signals chained after them, the same sums in the replay', () => {
    const periodic = compileC('periodic', PERIODIC_SOURCE, 'rewind-async-periodic-');
    const { record, replay, traceDir } = recordAndReplay([periodic]);
    expect(record.status, describeRun(record)).toBe(0);
    expect(record.stdout.toString()).toMatch(/^ticks \d+ iterations \d+ sum \d+\n$/);
    expect(replay.status, describeRun(replay)).toBe(0);
    expect(replay.stdout.toString()).toBe(record.stdout.toString());
    // how many signals came while the loop computed depends on the machine's load; at least one did
    expect(points(traceDir).length).toBeGreaterThan(0);
  });

  it('a changed state hash is a divergence naming the thread, its event and why (state that cycles)', () => {
    const { traceDir } = recordsAndReplays('spin');
    const [p] = points(traceDir);
    const r = rewind(['replay', '--check', withTamperedHash(traceDir)]);
    expect(r.status, describeRun(r)).not.toBe(0);
    const err = r.stderr.toString();
    expect(err).toContain(`divergence: thread ${p.tid}'s SIGALRM at its event ${p.point.threadEvent} (event ${p.index} of the trace) (pc ${p.point.pc}) was not found`);
    expect(err).toContain('the state at its pc cycles without matching');
    // the program's output after the point never comes
    expect(r.stdout.toString()).not.toContain('spin');
  });

  it('a changed state hash in a loop whose state never repeats ends at the CPU-time budget', () => {
    const { traceDir } = recordsAndReplays('atomic');
    const [p] = points(traceDir);
    const r = rewind(['replay', '--check', withTamperedHash(traceDir)]);
    expect(r.status, describeRun(r)).not.toBe(0);
    const err = r.stderr.toString();
    expect(err).toContain(`divergence: thread ${p.tid}'s SIGALRM at its event ${p.point.threadEvent}`);
    expect(err).toContain('within the CPU-time budget');
  });

  it('gdb: a breakpoint in the handler, reverse-finish out of it to the point, on back into the loop, reverse-continue over it and back', async () => {
    const { trace, printed } = recordIterations('flagloop', FLAG_SOURCE, 'rewind-async-gdb-');
    expect(printed).toBeGreaterThan(0);
    const [p] = points(trace);
    expect(p, 'the trace holds the signal\'s point').toBeDefined();
    const { gdb } = await debugReplay(trace, [
      'break on_alarm', 'continue', 'frame 2', 'print iterations', 'frame 0',
      'reverse-finish', 'print/x $pc', 'print iterations', 'print stop', 'reverse-stepi', 'print/x $pc',
      'reverse-continue', 'continue', 'print iterations', 'print/x $pc', 'bt 1',
    ]);
    const out = afterMark(gdb);
    // the handler runs at the point: its caller frame is the loop at the recorded pc
    expect(out).toMatch(/Breakpoint \d+, on_alarm \(sig=14\) at flagloop\.c:\d+/);
    expect(out).toContain(`#2  ${p.point.pc.replace(/^0x/, '0x0000')} in main () at flagloop.c:${FLAG_LINE}`);
    const values = [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
    // iterations in the handler, at the point, and in the handler again after going back
    const [inHandler, pcBack, atPoint, stopAtPoint, pcBefore, again, pcAgain] = values;
    // the handler interrupted `iterations++` before or after its store: the program printed one of these
    expect([printed - 1, printed]).toContain(Number(inHandler));
    expect(pcBack).toBe(p.point.pc);
    expect(atPoint).toBe(inHandler);
    expect(stopAtPoint).toBe('0');
    // the history goes on before the point: one instruction back is still in the loop
    expect(pcBefore).toMatch(/^0x[0-9a-f]+$/);
    expect(pcBefore).not.toBe(p.point.pc);
    expect(out).not.toContain('No more reverse-execution history');
    expect(again).toBe(inHandler);
    expect(pcAgain).not.toBe(p.point.pc);  // in the handler again
    // reverse-continue from the loop goes back over the program's start to main's breakpoint, continue to the handler
    expect(out).toMatch(/on_alarm \(sig=14\)[\s\S]*Breakpoint \d+, main \(\)[\s\S]*Breakpoint \d+, on_alarm \(sig=14\)/);
  });

  it('gdb: the loop before the point is seen by breakpoints forwards and backwards, and reverse-step goes back into it', async () => {
    const { trace, printed } = recordIterations('loopline', LOOP_SOURCE, 'rewind-async-stretch-');
    expect(printed).toBeGreaterThan(2);
    expect(points(trace).length, 'the trace holds the signal\'s point').toBe(1);
    const { gdb } = await debugReplay(trace, [
      `break loopline.c:${LOOP_LINE}`, 'continue', 'print iterations', 'continue', 'print iterations', 'continue', 'print iterations',
      'break on_alarm', 'disable 2', 'continue', 'print iterations', 'enable 2',
      'reverse-continue', 'print iterations', 'reverse-continue', 'print iterations',
      'disable 2', 'continue', 'reverse-step', 'reverse-step', 'print iterations', 'reverse-stepi', 'print/x $pc',
    ]);
    const out = afterMark(gdb);
    const values = [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
    const [first, second, third, inHandler, lastBefore, oneBefore, afterReverseStep] = values.map(Number);
    // forwards: the loop line's first three arrivals
    expect([first, second, third], out).toEqual([0, 1, 2]);
    // the handler interrupted `iterations++` before or after its store: the program printed one of these
    expect([printed - 1, printed]).toContain(inHandler);
    // backwards from the handler: the last arrival at the loop line before the signal, then the one before
    expect([inHandler - 1, inHandler], out).toContain(lastBefore);
    expect(oneBefore, out).toBe(lastBefore - 1);
    // reverse-step out of the handler to the point, then on back into the loop: history goes on
    expect([inHandler - 1, inHandler], out).toContain(afterReverseStep);
    expect(out).not.toContain('No more reverse-execution history');
    expect(values[values.length - 1]).toMatch(/^0x[0-9a-f]+$/);
  });
  it('gdb: reverse-continue from the end to a breakpoint in the loop lands on its last iteration before the signal, then back over the stretch', async () => {
    const { trace, printed } = recordIterations('loopline', LOOP_SOURCE, 'rewind-async-fromend-');
    expect(printed).toBeGreaterThan(2);
    expect(points(trace).length, 'the trace holds the signal\'s point').toBe(1);
    const { gdb } = await debugReplay(trace, [
      'continue', `break loopline.c:${LOOP_LINE}`, 'reverse-continue', 'print iterations', 'reverse-continue', 'print iterations',
      'disable 2', 'reverse-continue', 'print iterations',
    ]);
    const out = afterMark(gdb);
    const [last, beforeLast, atMain] = [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => Number(m[1]));
    // the loop's last iteration loaded printed - 1 and stored the printed count, wherever the signal came in it
    expect(last, out).toBe(printed - 1);
    expect(beforeLast, out).toBe(printed - 2);
    // with the loop's breakpoint disabled, back over the stretch and the point to main's
    expect(out).toMatch(/Breakpoint 1, main \(\)[^\n]*\n[^$]*\$3 = 0/);
    expect(atMain).toBe(0);
  });
  it('gdb: from the end of a periodic timer\'s run (many points), reverse-continue goes back over all of them to main', async () => {
    // The search walks back window by window through every point's stretch. It used
    // to trap the target's pc (the loop's) in every interval from far back, one stop
    // per iteration, and then to lose its way at an earlier point ("lost the way back").
    const periodic = compileC('periodic', PERIODIC_SOURCE, 'rewind-async-periodic-gdb-');
    const { record, traceDir } = recordAndReplay([periodic]);
    expect(record.status, describeRun(record)).toBe(0);
    expect(points(traceDir).length).toBeGreaterThan(1);
    // the guard against a hang only: a window that crosses into a stretch whose end is
    // hot traps each arrival there (docs/timeline.md), 17 s idle for some recordings
    const { gdb } = await debugReplay(traceDir, ['continue', 'print ticks', 'reverse-continue', 'print ticks', 'print iterations'], { timeoutMs: 280_000 });
    const out = afterMark(gdb);
    const v = [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
    expect(out).toContain('No more reverse-execution history');
    expect(Number(v[0]), out).toBeGreaterThanOrEqual(30);
    expect(out).toMatch(/Breakpoint 1, main \(\)/);
    expect(v.slice(1), out).toEqual(['0', '0']);
  });
  it('gdb: a breakpoint at the point\'s own pc: the point is hit forwards and found backwards, then the handler', async () => {
    const { trace, printed } = recordIterations('loopline', LOOP_SOURCE, 'rewind-async-atpc-');
    const [p] = points(trace);
    expect(p, 'the trace holds the signal\'s point').toBeDefined();
    const { gdb } = await debugReplay(trace, [
      'break on_alarm', 'continue', 'print iterations', `break *${p.point.pc}`,
      'reverse-continue', 'print iterations', 'print/x $pc', 'reverse-continue', 'print iterations',
      'continue', 'print iterations', 'print/x $pc', 'continue', 'print iterations', 'print stop',
    ]);
    const out = afterMark(gdb);
    const v = [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
    const inHandler = Number(v[0]);
    expect([printed - 1, printed]).toContain(inHandler);
    // back from the handler: the point itself (the handler's state before it ran), then the arrival before it
    expect(Number(v[1]), out).toBe(inHandler);
    expect(v[2]).toBe(p.point.pc);
    expect(Number(v[3]), out).toBeLessThan(inHandler);
    // forwards again: the point, stopped at its breakpoint with the signal not yet delivered, then the handler
    expect(Number(v[4]), out).toBe(inHandler);
    expect(v[5]).toBe(p.point.pc);
    expect(out).toMatch(/Breakpoint \d+, on_alarm[\s\S]*Breakpoint \d+, on_alarm/);
    expect(Number(v[6])).toBe(inHandler);
    expect(v[7]).toBe('0');
    expect(out).not.toContain('No more reverse-execution history');
  });
});
