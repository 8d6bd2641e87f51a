// gdb on a threaded replay (docs/rsp.md, "Threads"; issue 9, item 8): the real gdb
// against `rewind replay` and against the same program run natively, same commands,
// compared line by line. tests/programs/threads/gdb_workers.c puts every thread at
// the same place natively and in the replay when worker 1 reaches worker_mark; a
// worker that crashes is compared too. A spinner that only preemption lets finish,
// and exit() with live threads, are checked on the replay side only (where their
// threads stand natively depends on the scheduler).
// What is normalised, and why it may honestly differ:
//   - thread ids: natively gdb names threads by libthread_db (`Thread 0x... (LWP n)`),
//     over the protocol by pid.tid (`Thread p.t`); both are mapped to gdb's thread
//     number, and the kernel's tids (LWP, recorded tid) to `<tid N>`;
//   - addresses of mmap'd memory (thread stacks, pthread_t values): the recording's
//     address space has a page natively runs do not;
//   - clone3 against clone: the recording answers clone3 ENOSYS, and glibc falls back
//     to clone (docs/usage.md);
//   - the replay's stop at the end of the recording and gdb's `[Thread ... exited]`
//     lines (on the replay the server's console text, on gdb's stderr: compared in
//     order in gdb-thread-events.test.ts).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { BUILD_DIR, compileC, requireTool, rewind } from '../helpers.js';
import { afterMark, debugReplay, gdbNative, record } from './gdb-support.js';

const PROGRAM = path.join(BUILD_DIR, 'threads', 'gdb_workers');

// Two threads that spin without syscalls, each waiting for the other: the recording
// must preempt one (docs/timeline.md, "Threads: preemption"), and the replay under
// gdb finds that switch point again with gdb's traps in.
const SPIN_SOURCE = `
#include <pthread.h>
#include <stdio.h>
static volatile int started, flag;
static volatile long spins;
__attribute__((noinline)) void seen(void) { flag = 1; }
static void* a(void* x) { (void)x; started = 1; while (!flag) spins++; return 0; }
static void* b(void* x) { (void)x; while (!started) {} seen(); return 0; }
int main(void) {
  pthread_t ta, tb;
  pthread_create(&ta, 0, a, 0);
  pthread_create(&tb, 0, b, 0);
  pthread_join(ta, 0);
  pthread_join(tb, 0);
  printf("flag seen\\n");
  return 0;
}
`;

/** gdb's thread numbers by the kernel's tid, from an `info threads` table in `text`. */
function threadNumbers(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^[* ] +(\d+) +Thread (?:0x[0-9a-f]+ \(LWP (\d+)\)|\d+\.(\d+))/.exec(line);
    if (m) out.set(m[2] ?? m[3], Number(m[1]));
  }
  return out;
}

/** The transcript with what may honestly differ put in common terms (see the top of the file). */
function normalise(text: string): string {
  const numbers = threadNumbers(text);
  const tid = (t: string) => `<tid ${numbers.get(t) ?? '?'}>`;
  return text
    .split('\n')
    .filter((l) => !/^\[Thread .* exited\]$/.test(l))
    // native gdb sometimes prints "[New process PID]" (the program's pid) as the
    // crashed worker's process dies: seen once, in the suite under two CPU hogs, a
    // matter of when its ptrace stops come; the replay's end is as recorded
    .filter((l) => !/^\[New process \d+\]$/.test(l))
    .filter((l) => !/^\[Thread debugging using libthread_db enabled\]$/.test(l) && !/^Using host libthread_db library/.test(l))
    .map((l) => l
      .replace(/Thread 0x[0-9a-f]+ \(LWP (\d+)\)/g, (_, t: string) => `Thread ${tid(t)}`)
      .replace(/Thread \d+\.(\d+)/g, (_, t: string) => `Thread ${tid(t)}`)
      .replace(/\b\d{3,7}\b/g, (n) => (numbers.has(n) ? tid(n) : n))
      .replace(/0x[0-9a-f]+ in clone3? \(\) at \S+/g, '<clone>')
      .replace(/0x(0000)?7ffff[0-9a-f]{7}/g, '0x<mmap>')
      .replace(/threadid=\d+/g, 'threadid=<pthread_t>')
      .replace(/^( +Id +Target Id) +Frame $/, '$1 Frame'))
    .map((l) => l.replace(/^([* ] +\d+ +Thread <tid \d+> "\S+") +/, '$1 '))
    .join('\n')
    .trim();
}

/**
 * A replay transcript without its one stop at the end of the recording: the line, gdb's
 * switch to the thread that stands there, its frame and that frame's source line.
 */
function withoutEnd(text: string): string {
  const lines = text.split('\n');
  const at = lines.indexOf('No more reverse-execution history.');
  if (at < 0 || lines.indexOf('No more reverse-execution history.', at + 1) >= 0) throw new Error(`expected one stop at the end of the recording in:\n${text}`);
  let end = at + 1;
  if (lines[end]?.startsWith('[Switching to Thread ')) end++;
  const frame = / at (\S+):(\d+)$/.exec(lines[end++] ?? '');
  // the frame's source line (or gdb's complaint that it has no source, on stderr: later)
  const source = frame ? lines.findIndex((l, i) => i >= end && l.startsWith(`${frame[2]}\t`) && l.includes(frame[1])) : -1;
  if (source >= 0) lines.splice(source, 1);
  const start = lines[at - 1] === '' ? at - 1 : at;
  lines.splice(start, end - start);
  return lines.join('\n').trim();
}

/** Runs `commands` natively and on the replay (one `continue` more: the stop at the end of the recording); both transcripts normalised. */
async function bothWays(commands: string[], replayOnly: string[] = []): Promise<{ native: string; replayed: string; raw: string }> {
  requireTool('gdb');
  const native = gdbNative(PROGRAM, commands);
  const { gdb, server, status } = await debugReplay(record(PROGRAM), [...commands, ...replayOnly, 'continue']);
  expect(status, server).toBe(0);
  const raw = afterMark(gdb);
  expect(raw).toContain('[Inferior 1 (process N) exited normally]');
  return { native: normalise(afterMark(native)), replayed: normalise(withoutEnd(raw)), raw };
}

describe('gdb on a threaded replay', () => {
  it('info threads, thread apply all bt, a breakpoint in a worker, thread N with registers and thread-locals, continue to the end: as natively', async () => {
    const { native, replayed, raw } = await bothWays([
      'break worker_mark',
      'continue',
      'info threads',
      'bt',
      'p tls_value',
      'p id',
      'p $_thread',
      'thread apply all bt',
      'thread 1',
      'p tls_value',
      'p errno',
      'info registers rip',
      'bt 1',
      'thread 3',
      'p tls_value',
      'p shared_total',
      'thread 2',
      'p tls_value',
      'delete',
      'continue',
    ]);
    // the stop is in worker 1, with every thread where the program put it
    expect(raw).toMatch(/Thread 2 "gdb_workers" hit Breakpoint 2, worker_mark \(id=1, sum=499500\)/);
    expect(raw).toMatch(/\$1 = 101\n\$2 = 1\n\$3 = 2\n/);
    expect(replayed).toBe(native);
  });

  it('a watchpoint set before the threads exist stops in each worker that writes, with the old and new values', async () => {
    const { native, replayed, raw } = await bothWays(['watch shared_total', 'continue', 'bt 1', 'p $_thread', 'continue', 'bt 1', 'p $_thread', 'delete', 'continue']);
    expect(raw).toMatch(/Thread 2 "gdb_workers" hit Hardware watchpoint 2: shared_total\n\nOld value = 0\nNew value = 499500\n/);
    expect(raw).toMatch(/Thread 3 "gdb_workers" hit Hardware watchpoint 2: shared_total\n\nOld value = 499500\nNew value = 1498500\n/);
    expect(replayed).toBe(native);
  });

  it('steps in a worker, then a step of the main thread blocked in pthread_join returns from its futex, as natively', async () => {
    const { native, replayed, raw } = await bothWays([
      'break worker_mark', 'continue', 'info threads', 'delete', 'next', 'next', 'next', 'stepi', 'p $pc', 'p $_thread',
      'thread 1', 'stepi', 'p $pc', 'p $_thread', 'continue',
    ]);
    expect(raw).toMatch(/\$3 = \(void \(\*\)\(\)\) 0x[0-9a-f]+ <__futex_abstimed_wait_common\+\d+>\n\$4 = 1\n/);
    expect(replayed).toBe(native);
  });

  it('Hg and T of a thread that does not exist get an E reply and change nothing', async () => {
    requireTool('gdb');
    const { gdb, server, status } = await debugReplay(record(PROGRAM), [
      'break worker_mark', 'continue',
      'maint packet g', 'maint packet Hgp0.1', 'maint packet Tp0.1', 'maint packet g', 'p $_thread', 'info registers rip',
      'delete', 'continue', 'continue',
    ]);
    expect(status, server).toBe(0);
    const out = afterMark(gdb);
    const packets = [...out.matchAll(/received: "([^"]*)"/g)].map((m) => m[1]);
    expect(packets).toHaveLength(4);
    expect(packets[1]).toMatch(/^E[0-9a-f]{2}$/);
    expect(packets[2]).toMatch(/^E[0-9a-f]{2}$/);
    expect(packets[3]).toBe(packets[0]); // the registers served are still the stopped thread's
    expect(out).toMatch(/\$1 = 2\nrip +0x[0-9a-f]+ +0x[0-9a-f]+ <worker_mark\+\d+>\n/);
    expect(out).toContain('[Inferior 1 (process N) exited normally]');
  });

  it('threads that spin until preempted: a breakpoint in one, the other standing in its loop, a watchpoint on the flag, to the end', async () => {
    requireTool('gdb');
    const exe = compileC('spin', SPIN_SOURCE, 'rewind-gdb-spin-');
    const { gdb, server, status } = await debugReplay(record(exe), [
      'break seen', 'continue', 'bt 2', 'info threads', 'p flag', 'delete', 'watch flag', 'continue', 'p $_thread', 'delete', 'continue', 'continue',
    ]);
    expect(status, server).toBe(0);
    const out = afterMark(gdb);
    expect(out).toMatch(/Thread (\d) "spin" hit Breakpoint 2, seen \(\) at [^\n]*\n[^]*#1  0x[0-9a-f]+ in b \(x=0x0\)/);
    const stopped = /Thread (\d) "spin" hit Breakpoint 2/.exec(out)![1];
    // the other worker stands in its loop, as the recording preempted it
    expect(out).toMatch(/\n {2}\d +Thread \d+\.\d+ "spin" (0x[0-9a-f]+ in )?a \(x=0x0\) at /);
    expect(out).toMatch(/\$1 = 0\n/);
    expect(out).toContain(`Thread ${stopped} "spin" hit Hardware watchpoint 3: flag\n\nOld value = 0\nNew value = 1\n`);
    expect(out).toContain(`$2 = ${stopped}\n`);
    expect(out).toContain('[Inferior 1 (process N) exited normally]');
  });

  it('a worker that crashes: the stop is in the worker before the signal is delivered, then the process dies of it, as natively', async () => {
    requireTool('gdb');
    const exe = path.join(BUILD_DIR, 'threads', 'worker_crash');
    const commands = ['continue', 'bt', 'p $_siginfo.si_signo', 'p $_siginfo._sifields._sigfault.si_addr', 'continue'];
    const native = gdbNative(exe, commands);
    const { gdb, server, status } = await debugReplay(record(exe), [...commands, 'continue']);
    expect(status, server).toBe(0);
    const raw = afterMark(gdb);
    expect(raw).toMatch(/Thread 2 "worker_crash" received signal SIGSEGV, Segmentation fault\.\n/);
    expect(raw).toContain('Program terminated with signal SIGSEGV, Segmentation fault.');
    expect(normalise(withoutEnd(raw))).toBe(normalise(afterMark(native)));
  });

  it('exit() with three threads alive: a signal stops in its thread, the end of the recording stands before the deaths, the exit status', async () => {
    requireTool('gdb');
    const exe = path.join(BUILD_DIR, 'threads', 'exit_group');
    const trace = record(exe);
    const { gdb, server, status } = await debugReplay(trace, ['continue', 'p $_siginfo.si_signo', 'continue', 'info threads', 'continue']);
    expect(status, server).toBe(0);
    const out = afterMark(gdb);
    expect(out).toMatch(/Thread (\d) "exit_group" received signal SIGUSR1, User defined signal 1\.\n/);
    expect(out).toMatch(/\$1 = 10\n/);
    // every thread still stands at the end of the recording: main back from its last
    // write, before exit() enters exit_group; the three others in their calls. Unless
    // the signalled worker's barrier wake (traced: its entry lets main run) returned
    // only after main entered exit_group (the recorded schedule says which): then main
    // stands in _exit, and gdb is in that worker, whose record comes next
    const dumped = rewind(['dump', trace]);
    expect(dumped.status, dumped.stderr.toString()).toBe(0);
    const lines = dumped.stdout.toString().split('\n').filter((l) => /^\d+ \[\d+\] /.test(l));
    // the last event before the first death
    const lastLive = lines[lines.findIndex((l) => /^\d+ \[\d+\] exit \d+$/.test(l)) - 1];
    const end = out.slice(out.indexOf('No more reverse-execution history.'));
    if (/\] enter exit_group$/.test(lastLive)) {
      expect(end).toMatch(/\* 1 +Thread \d+\.\d+ "exit_group" __GI___libc_write [^\n]*\n(  [234] +Thread [^\n]*\n){3}/);
    } else {
      expect(lastLive).toMatch(/\] futex\(/);
      expect(end).toMatch(/ {2}1 +Thread \d+\.\d+ "exit_group" __GI__exit [^\n]*\n(. [234] +Thread [^\n]*\n){3}/);
      expect(end).toMatch(/\* [234] +Thread \d+\.\d+ "exit_group" futex_wake /);
    }
    // (gdb is there in the thread that ends the process: the one whose record comes next)
    expect(out).toContain('[Inferior 1 (process N) exited with code 07]');
  });

  it('a watchpoint, then reverse-continue lands on the other threads\' writes, latest first, with gdb\'s Old/New values, switching thread; and forwards again', async () => {
    requireTool('gdb');
    const { gdb, server, status } = await debugReplay(record(PROGRAM), [
      'watch shared_total', 'continue', 'continue',
      'reverse-continue', 'p id', 'bt 2', 'p tls_value',
      'reverse-continue', 'p id', 'p tls_value',
      'reverse-stepi', 'p tls_value',
      'continue', 'p id', 'p shared_total',
      'delete', 'continue', 'continue',
    ]);
    expect(status, server).toBe(0);
    const out = afterMark(gdb);
    // forwards: worker 1 writes, then worker 2. (gdb's numbers for them depend on the
    // recorded schedule: a worker that had ended where a reverse stop stands is new to gdb
    // when it shows again. Which worker stopped is read from the program instead.)
    const hits = [...out.matchAll(/Thread \d "gdb_workers" hit Hardware watchpoint 2: shared_total\n\nOld value = (\d+)\nNew value = (\d+)\n/g)].map((m) => m.slice(1).join(' '));
    expect(hits).toEqual([
      '0 499500', '499500 1498500', // continue, continue
      '1498500 499500', '499500 0', // reverse-continue twice: the same writes backwards
      '0 499500', // continue: worker 1's write again
    ]);
    // each stop is in the thread that wrote: gdb switched to it
    expect(out).toMatch(/\$1 = 2\n#0  0x[0-9a-f]+ in worker_mark \(id=2, sum=999000\) at [^\n]*\n#1  0x[0-9a-f]+ in worker \(arg=0x2\) at [^\n]*\n\$2 = 102\n/);
    expect(out).toMatch(/\$3 = 1\n\$4 = 101\n/);
    expect(out).toMatch(/\$5 = 101\n/);
    expect(out).toMatch(/\$6 = 1\n\$7 = 499500\n/);
    expect(out).toContain('[Inferior 1 (process N) exited normally]');
  });
});
