// The syscall buffer per thread (docs/syscallbuf.md, "Threads"): threaded programs
// whose buffered calls interleave (workers handing a turn over a condition variable,
// each pread-ing and fstat-ing a shared file; several threads writing to one pipe
// and one file; a read that blocks on a pipe another thread fills) are recorded and
// replayed with `replay --check`, their output and status compared with the native
// run; and the trace shows that each thread's calls really went through its own
// buffer (in a process with threads every traced call has an enter event before it,
// a buffered one none), and that a buffered call that blocked was caught by the
// thread's desched event (its record returns RW_INTERRUPTED, and the call follows,
// traced).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DIR, describeRun, recordAndReplay, runNative } from '../helpers.js';
import { TraceReader } from '../../src/history/index.js';
import { CLONE_THREAD, decodeEvent } from '../../src/history/events.js';

const text = (b: Buffer) => b.toString('utf8');
const program = (name: string) => path.join(BUILD_DIR, 'threads', name);
const INTERRUPTED = -0x5257000000n;  // a buffered call the recorder sent the traced way

interface ThreadCalls {
  /** calls that went through the thread's buffer, by call number */
  buffered: Map<number, number>;
  /** buffered calls the desched event caught blocking (made again traced), by call number */
  descheduled: Map<number, number>;
}

const bump = (m: Map<number, number>, nr: number) => m.set(nr, (m.get(nr) ?? 0) + 1);

/** Per thread made by the trace (clone events with CLONE_THREAD): its buffered and descheduled calls. */
function callsByThread(traceDir: string): Map<number, ThreadCalls> {
  const trace = TraceReader.open(traceDir);
  try {
    const threads = new Map<number, ThreadCalls>();
    const entered = new Map<number, number>();  // tid -> the call its enter event named
    for (const { record } of trace.records(0)) {
      const e = decodeEvent(record);
      if (e.kind === 'clone' && (e.flags & CLONE_THREAD) !== 0n) threads.set(e.child, { buffered: new Map(), descheduled: new Map() });
      else if (e.kind === 'enter') entered.set(e.tid, e.nr);
      else if (e.kind === 'syscall') {
        const traced = entered.get(e.tid) === e.nr;
        entered.delete(e.tid);
        const calls = threads.get(e.tid);
        if (traced || !calls) continue;
        bump(e.result === INTERRUPTED ? calls.descheduled : calls.buffered, e.nr);
      }
    }
    return threads;
  } finally {
    trace.close();
  }
}

function expectSameAsNative(cmd: string[]) {
  const native = runNative(cmd);
  expect(native.status, describeRun(native)).toBe(0);
  const rr = recordAndReplay(cmd);
  expect(rr.record.status, describeRun(rr.record)).toBe(0);
  expect(text(rr.record.stdout)).toBe(text(native.stdout));
  expect(rr.replay.status, describeRun(rr.replay)).toBe(0);
  expect(text(rr.replay.stdout)).toBe(text(native.stdout));
  return rr;
}

const NR_READ = 0, NR_WRITE = 1, NR_PREAD64 = 17, NR_NEWFSTATAT = 262, NR_FUTEX = 202;

describe('a syscall buffer per thread', () => {
  it('workers taking turns on a condvar pread, fstat and wake through their own buffers; a reader blocks on a pipe', () => {
    const rr = expectSameAsNative([program('buffered_mix'), '150']);
    expect(text(rr.replay.stdout)).toContain('reader got 5 bytes: token');
    const threads = [...callsByThread(rr.traceDir).values()];
    expect(threads).toHaveLength(5);
    const workers = threads.filter((c) => (c.buffered.get(NR_PREAD64) ?? 0) > 0);
    expect(workers).toHaveLength(4);  // every worker, through its own buffer
    for (const { buffered } of workers) {
      expect(buffered.get(NR_PREAD64)).toBe(150);
      expect(buffered.get(NR_NEWFSTATAT)).toBe(150);
      expect(buffered.get(NR_FUTEX) ?? 0).toBeGreaterThan(0);  // the condvar's and the mutex's wakes
    }
    // The reader's read blocks until main writes, after every worker has ended: its
    // desched event caught it, and the call was made again, traced.
    const reader = threads.find((c) => !workers.includes(c));
    expect(reader?.descheduled.get(NR_READ)).toBe(1);
  });

  it('three threads write records through one pipe (blocking when it is full) and to one file while main reads', () => {
    const rr = expectSameAsNative([program('buffered_writers')]);
    expect(text(rr.replay.stdout)).toContain('file: 115200 bytes, out of order 0');
    const writers = [...callsByThread(rr.traceDir).values()];
    expect(writers).toHaveLength(3);
    for (const { buffered } of writers) expect(buffered.get(NR_WRITE) ?? 0).toBeGreaterThan(0);
  });
});
