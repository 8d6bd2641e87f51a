// gdb's thread numbers and thread exits on a threaded replay, compared with gdb on
// the same program natively (docs/rsp.md, "Threads"; issue 9, item 8). Natively gdb
// numbers threads in the order they are made and prints `[Thread ... exited]` as
// each ends; on the replay it hears of each creation from a `create` stop and the
// server prints the exits. tests/programs/threads/gdb_lifecycle.c makes a thread
// that ends before the first stop (it takes a number natively), then two that block
// in the kernel and end one after the other; recorded with the syscall buffer, its
// reader blocks in a buffered read(), whose backtrace must go on into libc and the
// program (the preload library's unwind info). main_exits.c ends its first thread with
// pthread_exit while two workers go on.
// gdb runs with its stderr in its stdout, in the order it wrote them: the exit lines
// come from the server's console text, which gdb writes to its stderr. Natively an
// exit line comes when gdb reaps the thread, which may be after the next thread is
// made: the exit lines are compared by the stop they come before, not line by line.
// What is normalised, and why it may honestly differ: a thread's name (natively
// `Thread 0x... (LWP n)` from libthread_db, over the protocol `Thread pid.tid`) and the
// kernel's tids, both put as `<tid k>`, k its place in the program's tids[] (creation
// order); mmap'd addresses (the recording has a page more); clone3 against clone
// (the recording answers clone3 ENOSYS); natively, gdb 13's `[New process N]` when the
// last thread of a process whose first thread ended exits. gdb's thread numbers are
// compared as they are.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { BUILD_DIR, requireTool } from '../helpers.js';
import { afterMark, debugReplay, gdbNative, record, withoutEndOfHistory } from './gdb-support.js';

const PROGRAM = path.join(BUILD_DIR, 'threads', 'gdb_lifecycle');
/** gdb's commands to the first stop, where the reader blocks in read() and the waiter in pthread_cond_wait */
const AT_FIRST_STOP = ['break mark', 'continue', 'p tids', 'thread apply all bt'];

/** The transcript with thread names and tids as `<tid k>` (k: the place in tids[], printed by `p tids`). */
function normalise(text: string): string {
  const printed = /^\$1 = \{([\d, ]+)\}$/m.exec(text);
  if (!printed) throw new Error(`no tids printed in:\n${text}`);
  const place = new Map(printed[1].split(', ').map((t, k) => [t, k]));
  const tid = (t: string) => `<tid ${place.get(t) ?? '?'}>`;
  return text
    .split('\n')
    .filter((l) => !/^\[Thread debugging using libthread_db enabled\]$/.test(l) && !/^Using host libthread_db library/.test(l))
    // gdb 13 natively, when the last thread of a process whose first thread ended exits
    .filter((l) => !/^\[New process \d+\]$/.test(l))
    .map((l) => l
      .replace(/Thread 0x[0-9a-f]+ \(LWP (\d+)\)/g, (_, t: string) => `Thread ${tid(t)}`)
      .replace(/Thread \d+\.(\d+)/g, (_, t: string) => `Thread ${tid(t)}`)
      .replace(/\b\d{3,7}\b/g, (n) => (place.has(n) ? tid(n) : n))
      .replace(/0x[0-9a-f]+ in clone3? \(\) at \S+/g, '<clone>')
      .replace(/0x(0000)?7ffff[0-9a-f]{7}/g, '0x<mmap>')
      .replace(/^( +Id +Target Id) +Frame $/, '$1 Frame')
      .replace(/^([* ] +\d+ +Thread <tid \d>(?: "\S+")?) +/, '$1 '))
    .join('\n')
    .trim();
}

const EXITED = /^\[Thread .* exited\]$/;

/** The exit lines before each stop (sorted: natively their order against other lines depends on when gdb reaped the thread). */
function exitsByStop(text: string): string[][] {
  const stops: string[][] = [[]];
  for (const l of text.split('\n')) {
    if (EXITED.test(l)) stops.at(-1)!.push(l);
    else if (/ hit Breakpoint \d+, |^\[Inferior 1 /.test(l)) stops.push([]);
  }
  return stops.map((s) => s.sort());
}

/**
 * Each thread's backtrace in a `thread apply all bt`, from its first frame outside the
 * syscall buffer's library (the replay's thread in a buffered call stands in it; natively
 * there is no such library), without frame numbers and that first frame's pc.
 */
function backtraces(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let frames: string[] | undefined;
  for (const l of text.split('\n')) {
    const head = /^Thread \d+ \((Thread <tid \d>)/.exec(l);
    if (head) out.set(head[1], (frames = []));
    else if (frames && /^#\d+ /.test(l)) {
      if (frames.length === 0 && / in rw_\w+ \(\) from \S*librwpreload\.so$/.test(l)) continue;
      frames.push(l.replace(/^#\d+ +/, '').replace(frames.length === 0 ? /^0x\S+ in / : /^$/, ''));
    } else frames = undefined;
  }
  return out;
}

/**
 * The transcript without what gdb shows of threads that have ended (src/rsp/threads.ts:
 * they stay in its list, so that going back over their ends keeps their numbers, where
 * natively gdb drops them): their `info threads` rows and `thread apply all` blocks.
 */
function withoutEnded(text: string): string {
  const out: string[] = [];
  let block = false;
  for (const l of text.split('\n')) {
    // a block: the blank line before it, its head, its one frame and why the backtrace stops
    if (/^Thread \d+ \(.*\(ended here\)\):$/.test(l)) {
      if (out.at(-1) === '') out.pop();
      block = true;
      continue;
    }
    if (block && /^#0 |^Backtrace stopped: /.test(l)) continue;
    block = false;
    if (!/^ +\d+ +Thread .*\(ended here\) <unavailable> in \?\? \(\)$/.test(l)) out.push(l);
  }
  return out.join('\n');
}

/** The transcript without its exit lines. */
function withoutExits(text: string): string {
  return text.split('\n').filter((l) => !EXITED.test(l)).join('\n');
}

describe('gdb thread events on a threaded replay', () => {
  it('gdb numbers the threads as natively (one that ended before the first stop too), prints their exits as natively, info threads at each stop', async () => {
    requireTool('gdb');
    const commands = [
      'break mark', 'continue', 'p tids', 'info threads', 'thread apply all bt',
      'continue', 'info threads', 'continue', 'info threads', 'delete', 'continue',
    ];
    const native = gdbNative(PROGRAM, commands, { merged: true });
    const { gdb, server, status } = await debugReplay(record(PROGRAM), [...commands, 'continue'], { merged: true });
    expect(status, server).toBe(0);
    const raw = afterMark(gdb);
    // the numbers themselves: the thread made first and ended is 2, the reader 3, the waiter 4;
    // an ended thread stays listed, ended, with nothing to show (natively gdb drops it)
    expect(raw).toMatch(/\n\* 1 +Thread \d+\.\d+ "gdb_lifecycle" +mark \(n=1\)[^\n]*\n {2}2 +Thread \d+\.\d+ "gdb_lifecycle" \(ended here\) <unavailable> in \?\? \(\)\n {2}3 +Thread [^\n]*__GI___libc_read [^\n]*\n {2}4 +Thread [^\n]*__futex_abstimed_wait_common64 /);
    expect(raw).toMatch(/\n\* 1 +Thread [^\n]* mark \(n=3\)[^\n]*\n( {2}[234] +Thread \d+\.\d+ "gdb_lifecycle" \(ended here\) <unavailable> in \?\? \(\)\n){3}/);
    expect(raw).toMatch(/\[New Thread \d+\.(\d+)\]\n\[Thread \d+\.\1 exited\]\n\[New Thread /);
    const replayed = normalise(withoutEndOfHistory(raw));
    const natively = normalise(afterMark(native));
    expect(withoutEnded(withoutExits(replayed))).toBe(withoutExits(natively));
    expect(exitsByStop(replayed)).toEqual(exitsByStop(natively));
    // (every thread that was made ended, each once)
    expect(exitsByStop(replayed).flat().sort()).toEqual(['[Thread <tid 1> exited]', '[Thread <tid 2> exited]', '[Thread <tid 3> exited]']);
  });

  it('thread apply all bt with the syscall buffer: a thread blocked in a buffered read() unwinds through the buffer\'s library into libc and its callers, as natively', async () => {
    requireTool('gdb');
    const native = gdbNative(PROGRAM, [...AT_FIRST_STOP, 'kill']);
    const { gdb, server, status } = await debugReplay(record(PROGRAM, [], { syscallbuf: true }), [...AT_FIRST_STOP, 'kill']);
    expect(status, server).toBe(0);
    const raw = afterMark(gdb);
    // the reader stands in the library's syscall, called from its entry, reached from libc's read
    expect(raw).toMatch(/\n#\d +0x[0-9a-f]+ in rw_entry \(\) from \S*librwpreload\.so\n#\d +0x[0-9a-f]+ in __GI___libc_read \(nbytes=1, buf=0x[0-9a-f]+, fd=3\) at [^\n]*\n#\d +__GI___libc_read \(fd=3, /);
    const replayed = backtraces(withoutEnded(normalise(raw)));
    const natively = backtraces(normalise(afterMark(native)));
    expect([...replayed.keys()].sort()).toEqual(['Thread <tid 0>', 'Thread <tid 2>', 'Thread <tid 3>']);
    for (const [thread, frames] of natively) expect(replayed.get(thread), thread).toEqual(frames);
  });

  it('pthread_exit in main, two workers going on: main is listed as ended (natively gone) and its exit printed, a stop in each worker, the process ends with the last, as natively', async () => {
    requireTool('gdb');
    const exe = path.join(BUILD_DIR, 'threads', 'main_exits');
    const commands = [
      'break worker_mark', 'continue', 'p tids', 'info threads', 'thread apply all bt', 'thread 1',
      'continue', 'info threads', 'bt', 'delete', 'continue',
    ];
    const native = gdbNative(exe, commands, { merged: true });
    const { gdb, server, status } = await debugReplay(record(exe), [...commands, 'continue'], { merged: true });
    expect(status, server).toBe(0);
    const raw = afterMark(gdb);
    expect(raw).toMatch(/\[Thread (\d+)\.\1 exited\]\n/); // the first thread's end
    // main stays listed, ended, with nothing to show: gdb keeps its number (natively it
    // drops it, and `thread 1` is "Unknown thread 1.")
    expect(raw).toMatch(/\nThread 2 "main_exits" hit Breakpoint 2, worker_mark \(id=1\)[^]*\n {2}Id +Target Id +Frame \n {2}1 +Thread (\d+)\.\1 "main_exits" \(ended here\) <unavailable> in \?\? \(\)\n\* 2 [^\n]*\n {2}3 [^\n]*__GI___libc_read [^\n]*\n\n/);
    expect(raw).toMatch(/\n\[Switching to thread 1 \(Thread (\d+)\.\1\)\]\n#0  <unavailable> in \?\? \(\)\n/);
    expect(afterMark(native)).toContain('Unknown thread 1.');
    const replayed = normalise(withoutEndOfHistory(raw)).replace(/\n\[Switching to thread 1 \(Thread <tid 0>\)\]\n#0  <unavailable> in \?\? \(\)\n/, '\n');
    const natively = normalise(afterMark(native)).replace(/\nUnknown thread 1\.\n/, '\n');
    expect(withoutEnded(withoutExits(replayed))).toBe(withoutExits(natively));
    expect(exitsByStop(replayed)).toEqual(exitsByStop(natively));
  });
});
