// Threads are recorded and replayed (docs/timeline.md, "Threads"): C programs that
// lock, race, wait on condition variables, block in pipe reads while another thread
// runs, crash in a worker and exit with live threads, each compared with its native run where the output is deterministic and
// with the recording's own output otherwise; python3's ThreadPoolExecutor and
// node's crypto thread pool; a divergence in a thread names the process, the thread
// and the event; a worker's exec (the kernel ends the other threads, the process
// goes on at its first thread's pid) while main waits in a join or a read.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DIR, describeRun, PROGRAMS_DIR, recordAndReplay, requireTool, rewind, runNative, tempDir } from '../helpers.js';
import { rewriteTrace } from '../trace-edit.js';
import { TraceReader } from '../../src/history/index.js';
import { CLONE_THREAD, decodeEvent } from '../../src/history/events.js';
import { cpuidMetaOf } from '../../src/cpuid/replaying.js';

const text = (b: Buffer) => b.toString('utf8');
const program = (name: string) => path.join(BUILD_DIR, 'threads', name);
const NR_EXECVE = 59;

/** The threads the trace made (clone events with CLONE_THREAD), by recorded tid. */
function threadsOf(traceDir: string): number[] {
  const trace = TraceReader.open(traceDir);
  try {
    const threads: number[] = [];
    for (const { record } of trace.records(0)) {
      const e = decodeEvent(record);
      if (e.kind === 'clone' && (e.flags & CLONE_THREAD) !== 0n) threads.push(e.child);
    }
    return threads;
  } finally {
    trace.close();
  }
}

/** Records CMD and replays it; the recording prints what the native run does (unless told otherwise), the replay what the recording did. */
function expectRecordedAndReplayed(cmd: string[], opts: { status?: number; nativeSignal?: string; nativeOrder?: 'same' | 'any' | 'differs' } = {}) {
  const status = opts.status ?? 0;
  const native = runNative(cmd);
  const rr = recordAndReplay(cmd);
  expect(rr.record.status, describeRun(rr.record)).toBe(status);
  const sorted = (b: Buffer) => text(b).split('\n').sort().join('\n');
  if (opts.nativeOrder !== 'differs') {
    if (opts.nativeSignal) expect(native.signal, describeRun(native)).toBe(opts.nativeSignal);
    else expect(native.status, describeRun(native)).toBe(status);
    if (opts.nativeOrder === 'any') expect(sorted(rr.record.stdout)).toBe(sorted(native.stdout));
    else expect(text(rr.record.stdout)).toBe(text(native.stdout));
  }
  expect(rr.replay.status, describeRun(rr.replay)).toBe(status);
  expect(text(rr.replay.stdout)).toBe(text(rr.record.stdout));
  return rr;
}

describe('threads', () => {
  it('a mutex-protected counter in 8 threads (gdb on threaded replays: gdb-threads.test.ts)', () => {
    const rr = expectRecordedAndReplayed([program('mutex_counter')]);
    expect(text(rr.replay.stdout)).toBe('counter 160000\n');
    expect(threadsOf(rr.traceDir)).toHaveLength(8);
  });

  it('statically linked (no syscall buffer): the mutex counter, and threads that end while main joins them', () => {
    const dir = tempDir('rewind-threads-static-');
    const exe = path.join(dir, 'mutex_counter.static');
    const cc = runNative(['cc', '-O1', '-static', '-pthread', '-o', exe, path.join(PROGRAMS_DIR, 'threads', 'mutex_counter.c')]);
    expect(cc.status, describeRun(cc)).toBe(0);
    const rr = expectRecordedAndReplayed([exe]);
    expect(text(rr.replay.stdout)).toBe('counter 160000\n');
  });

  it('an unprotected counter in 4 threads loses updates, and the replay loses the same ones', () => {
    const rr = expectRecordedAndReplayed([program('racy_counter')], { nativeOrder: 'differs' });
    expect(text(rr.record.stdout)).toMatch(/^total \d+ of 80000 \(updates lost\)\n$/);
    expect(threadsOf(rr.traceDir)).toHaveLength(4);
  });

  it("threads that map and unmap at once: each call's address space is the recorded one in replay", () => {
    // Before a thread kept its process through an munmap, nearly every recording of
    // this replayed to an mprotect failing with ENOMEM; two recordings make a miss unlikely.
    for (let round = 0; round < 2; round++) {
      const rr = expectRecordedAndReplayed([program('mm_race')]);
      expect(text(rr.replay.stdout)).toBe('ok\n');
    }
  });

  it('producer and consumer on a condition variable', () => {
    const rr = expectRecordedAndReplayed([program('condvar')]);
    expect(text(rr.replay.stdout)).toBe('sum 2001000\n');
  });

  it('two threads pass a number through two pipes, each blocked in a read while the other runs', () => {
    const rr = expectRecordedAndReplayed([program('pipe_pingpong')]);
    expect(text(rr.replay.stdout)).toBe('after 1000 rounds: 2000\n');
  });

  it("a worker signals its process while the main thread sleeps: main's sleep is restarted, the handler runs in the thread the kernel chose", () => {
    const rr = expectRecordedAndReplayed([program('signal_threads')]);
    expect(text(rr.replay.stdout)).toBe('got at least 10 signals\n');
  });

  it('a worker thread dies of SIGSEGV while the main thread joins it', () => {
    const rr = expectRecordedAndReplayed([program('worker_crash')], { status: 139, nativeSignal: 'SIGSEGV' });
    expect(text(rr.replay.stdout)).toBe('main starts a worker\nworker about to crash\n');
  });

  it('exit with three live threads (blocked in a futex wait and a read), tgkill to a thread, its sigaltstack', () => {
    const rr = expectRecordedAndReplayed([program('exit_group')], { status: 7 });
    expect(text(rr.replay.stdout)).toBe("handler ran on the thread's sigaltstack\nmain exits with three threads alive\n");
    expect(threadsOf(rr.traceDir)).toHaveLength(3);
  });

  it('main ends with pthread_exit while two workers go on: its exit is reported after the last worker\'s exit_group, which ends the process', () => {
    const rr = expectRecordedAndReplayed([program('main_exits')]);
    expect(text(rr.replay.stdout)).toBe('second worker done\n');
    expect(threadsOf(rr.traceDir)).toHaveLength(2);
  });

  // exec from a thread other than the first (docs/timeline.md, "Threads", exec from a thread)
  const mainDoes: Record<string, string> = {
    join: 'waits in pthread_join (a futex wait)',
    read: 'waits in a read',
    spin: 'computes in a loop (it is the runner)',
    exit: 'has left with pthread_exit',
  };
  for (const how of ['join', 'read', 'join busy', 'read busy', 'spin', 'exit']) {
    const [waits, busy] = how.split(' ');
    it(`a worker execs a program that prints while main ${mainDoes[waits]}${busy ? ' and a second worker computes in a loop' : ''}`, () => {
      const rr = expectRecordedAndReplayed([program('thread_exec'), ...how.split(' ')]);
      expect(text(rr.replay.stdout)).toBe(`main starts a worker that execs${busy ? ', and a busy one' : ''}\nexec from a thread\n`);
      // The trace as it happened: the worker's execve (entered and returned in its
      // own stream), the busy worker's death in between, then the new image under
      // the process's pid, which exits with echo's status.
      const threads = threadsOf(rr.traceDir);
      expect(threads).toHaveLength(busy ? 2 : 1);
      const worker = threads[threads.length - 1];
      const trace = TraceReader.open(rr.traceDir);
      try {
        const events = [...trace.records(0)].map(({ record }) => decodeEvent(record));
        const process = events[0].tid;
        const entered = events.findIndex((e) => e.kind === 'enter' && e.nr === NR_EXECVE);
        const returned = events.findIndex((e) => e.kind === 'syscall' && e.nr === NR_EXECVE);
        const exec = events.findIndex((e, i) => e.kind === 'exec' && i > 0);
        expect(events[entered].tid).toBe(worker);
        expect(events[returned]).toMatchObject({ tid: worker, result: 0n });
        expect(exec).toBe(returned + 1);
        expect(events[exec].tid).toBe(process);
        const deaths = events.slice(entered, returned).filter((e) => e.kind === 'exit');
        expect(deaths).toEqual(busy ? [{ kind: 'exit', tid: threads[0], killed: false, code: 0 }] : []);
        expect(events.slice(exec).every((e) => e.tid === process)).toBe(true);
        expect(events[events.length - 1]).toMatchObject({ kind: 'exit', tid: process, killed: false, code: 0 });
      } finally {
        trace.close();
      }
    });
  }

  it('a worker execs while a second worker computes, without CPUID faulting (patched CPUID sites, as on a CPU without it)', () => {
    const cmd = [program('thread_exec'), 'join', 'busy'];
    const rr = recordAndReplay(cmd, { env: { REWIND_CPUID_FAULTING: '0' } });
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    expect(rr.replay.status, describeRun(rr.replay)).toBe(0);
    expect(text(rr.replay.stdout)).toBe('main starts a worker that execs, and a busy one\nexec from a thread\n');
    expect(text(rr.replay.stdout)).toBe(text(rr.record.stdout));
    const trace = TraceReader.open(rr.traceDir);
    try {
      expect(cpuidMetaOf(trace)?.trap).toBe('patched');
    } finally {
      trace.close();
    }
  });

  it('a worker execs a program that makes threads of its own (mutex_counter), while a second worker computes', () => {
    const rr = expectRecordedAndReplayed([program('thread_exec'), 'join', 'busy', program('mutex_counter')]);
    expect(text(rr.replay.stdout)).toBe('main starts a worker that execs, and a busy one\ncounter 160000\n');
    expect(threadsOf(rr.traceDir)).toHaveLength(2 + 8);
  });

  it('python3 with a ThreadPoolExecutor', () => {
    const script = [
      'from concurrent.futures import ThreadPoolExecutor',
      'def work(n): return sum(i * i for i in range(n))',
      'with ThreadPoolExecutor(max_workers=4) as ex: print("results", sum(ex.map(work, [10000 + i for i in range(16)])))',
    ].join('\n');
    // The system's python3, not a version manager's shim (a shell script that runs several processes first).
    if (!fs.existsSync('/usr/bin/python3')) requireTool('python3');
    const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const rr = expectRecordedAndReplayed([python, '-c', script]);
    expect(text(rr.replay.stdout)).toBe('results 5344544564200\n');
    expect(threadsOf(rr.traceDir).length).toBeGreaterThanOrEqual(1);
  });

  it("node -e with the crypto thread pool (libuv's workers)", () => {
    const script = "const c = require('crypto'); let n = 0; for (let i = 0; i < 4; i++) "
      + "c.pbkdf2('pw', 'salt' + i, 2000, 32, 'sha256', (e, k) => { console.log(i, k.toString('hex').slice(0, 16)); if (++n === 4) console.log('done'); });";
    // The pool finishes the four jobs in any order natively; the replay keeps the recorded one.
    const rr = expectRecordedAndReplayed([process.execPath, '-e', script], { nativeOrder: 'any' });
    expect(text(rr.replay.stdout)).toContain('0 ca2d50c68dd20689\n');
    expect(threadsOf(rr.traceDir).length).toBeGreaterThanOrEqual(4);
  });

  it('a divergence in a thread names the process, the thread and the event', () => {
    const rr = recordAndReplay([program('worker_crash')]);
    expect(rr.record.status, describeRun(rr.record)).toBe(139);
    const trace = TraceReader.open(rr.traceDir);
    const first = decodeEvent(trace.record(0)).tid;
    let target = -1;
    let thread = 0;
    for (const { index, record } of trace.records(0)) {
      const e = decodeEvent(record);
      if (e.kind === 'syscall' && e.nr === 1 && e.tid !== first) {
        target = index;
        thread = e.tid;
        break;
      }
    }
    trace.close();
    expect(target).toBeGreaterThan(0);
    const edited = path.join(tempDir('rewind-threads-edit-'), 'edited');
    rewriteTrace(rr.traceDir, edited, {
      record(i, rec) {
        if (i === target) rec.writeUInt32LE((rec.readUInt32LE(80) ^ 1) >>> 0, 80); // the recorded crc of the bytes written
        return rec;
      },
    });
    const again = rewind(['replay', '--check', edited]);
    expect(again.status, describeRun(again)).toBe(125);
    expect(text(again.stderr)).toContain(`replay diverged from the recording at event ${target}: the recording has write(`);
    expect(text(again.stderr)).toContain(`(process ${first}, thread ${thread})`);
  });
});
