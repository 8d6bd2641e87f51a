// What a counted span may cross, and where it may end, in a process of several
// threads (src/debug/crossed-events.ts; docs/timeline.md, "Counting in the process",
// *Threads*): the rules read event records only, so they are checked here on
// records made by hand in the trace's format (docs/trace-format.md).
import { describe, expect, it } from 'vitest';
import { EventKind, HEADER_SIZE, SYSCALL_FIXED_SIZE } from '../../src/history/events.js';
import type { TraceReader } from '../../src/history/index.js';
import { dataMappingsAfter, intervalKind, spanEnd, spanIsCountable } from '../../src/debug/crossed-events.js';

const MAIN = 100;
const WORKER = 101;

function header(size: number, kind: number, tid: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(size, 0);
  b[4] = kind;
  b.writeUInt32LE(tid, 8);
  return b;
}

function syscall(tid: number, nr: number, result: bigint, args: bigint[] = []): Buffer {
  const b = header(SYSCALL_FIXED_SIZE, EventKind.Syscall, tid);
  b.writeUInt32LE(nr, 12);
  args.forEach((a, i) => b.writeBigUInt64LE(a, 20 + 8 * i));
  b.writeBigInt64LE(result, 68);
  return b;
}

function enter(tid: number, nr: number): Buffer {
  const b = header(HEADER_SIZE + 4, EventKind.Enter, tid);
  b.writeUInt32LE(nr, HEADER_SIZE);
  return b;
}

function death(tid: number): Buffer {
  return header(HEADER_SIZE + 8, EventKind.Exit, tid);
}

function traceOf(records: Buffer[]): TraceReader {
  return { eventCount: records.length, record: (i: number) => records[i] } as unknown as TraceReader;
}

const FUTEX = 202;
const MMAP = 9;
const MADVISE = 28;
const CLONE = 56;
const EXIT = 60;

describe('spans across the events of threads', () => {
  it('crosses enter events, a thread clone\'s return, a successful madvise and a worker\'s death, only with threads named', () => {
    const t = traceOf([
      syscall(MAIN, 1, 0n),
      syscall(MAIN, CLONE, BigInt(WORKER), [0x3d0f00n]),
      enter(WORKER, FUTEX),
      syscall(WORKER, FUTEX, 0n),
      syscall(WORKER, MADVISE, 0n),
      enter(WORKER, EXIT),
      syscall(WORKER, EXIT, 0n),
      death(WORKER),
      syscall(MAIN, FUTEX, 0n),
    ]);
    expect(spanIsCountable(t, 1, 9, MAIN)).toBe(true);
    // a process of one thread (no tid given): the old rules, which refuse all of these
    expect(spanIsCountable(t, 1, 9)).toBe(false);
    expect(spanIsCountable(t, 2, 3)).toBe(false);
  });

  it('still stops at an mmap, a failed madvise, a fork-like clone, and the first thread\'s exit', () => {
    expect(spanIsCountable(traceOf([enter(WORKER, MMAP), syscall(WORKER, MMAP, 0x7000n)]), 0, 2, MAIN)).toBe(false);
    expect(spanIsCountable(traceOf([syscall(WORKER, MADVISE, -12n)]), 0, 1, MAIN)).toBe(false);
    expect(spanIsCountable(traceOf([syscall(MAIN, CLONE, 200n, [0x11n])]), 0, 1, MAIN)).toBe(false);
    expect(spanIsCountable(traceOf([syscall(MAIN, CLONE, -11n, [0x3d0f00n])]), 0, 1, MAIN)).toBe(true);
    expect(spanIsCountable(traceOf([syscall(MAIN, EXIT, 0n)]), 0, 1, MAIN)).toBe(false);
    expect(spanIsCountable(traceOf([death(MAIN)]), 0, 1, MAIN)).toBe(false);
  });
});

describe('where a span may end', () => {
  const t = traceOf([
    syscall(MAIN, 1, 0n), // 0
    enter(MAIN, FUTEX), // 1: main runs user code up to its call
    syscall(WORKER, 1, 0n), // 2: the worker runs meanwhile
    syscall(MAIN, FUTEX, 0n), // 3: main's call returns: main stood in the kernel all interval
    enter(WORKER, EXIT), // 4
    syscall(WORKER, EXIT, 0n), // 5: the worker in the kernel
    death(WORKER), // 6: its death
    syscall(MAIN, 1, 0n), // 7: right after a death
  ]);

  it('at the start of an interval whose thread runs user code', () => {
    expect(intervalKind(t, 1)).toBe('start');
    expect(intervalKind(t, 2)).toBe('start');
    expect(intervalKind(t, 4)).toBe('start');
  });

  it('not where the thread stood in the kernel all along, nor right after a death', () => {
    expect(intervalKind(t, 3)).toBe('empty');
    expect(intervalKind(t, 5)).toBe('empty');
    expect(intervalKind(t, 6)).toBe('empty');
    expect(intervalKind(t, 7)).toBe('opaque');
    expect(intervalKind(t, 0)).toBe('opaque');
    expect(intervalKind(t, 8)).toBe('opaque');
  });

  it('how a counted run ends there: at the first state, once the death\'s event is replayed, or not at all', () => {
    expect(spanEnd(t, 4)).toEqual({ at: 'state' });
    // the run goes on in main across the death: it ends when the death is replayed
    // (a recording where main's join returned before the worker died: main's user
    // code follows the death directly, and a reverse-continue from there trapped a
    // whole round of 120 000 hits before)
    expect(spanEnd(t, 7)).toEqual({ at: 'event', event: 6 });
    expect(spanEnd(t, 3)).toBeUndefined();
    expect(spanEnd(t, 6)).toBeUndefined();
    expect(spanEnd(t, 0)).toBeUndefined();
    expect(spanEnd(t, 8)).toBeUndefined();
  });

  it('crosses an anonymous data mapping (a new thread\'s syscall buffer), whose range counter pages then avoid; not code, files or failures', () => {
    const RW = 3n;
    const RWX = 7n;
    const ANON_PRIVATE = 0x22n;
    const FILE_PRIVATE = 0x2n;
    const data = syscall(WORKER, MMAP, 0x7ffff7c7b000n, [0n, 0x40000n, RW, ANON_PRIVATE, -1n & 0xffffffffffffffffn, 0n]);
    expect(spanIsCountable(traceOf([syscall(MAIN, 1, 0n), data, syscall(MAIN, FUTEX, 0n)]), 0, 3)).toBe(true);
    expect(spanIsCountable(traceOf([syscall(WORKER, MMAP, 0x7ffff7c7b000n, [0n, 0x1000n, RWX, ANON_PRIVATE, 0n, 0n])]), 0, 1)).toBe(false);
    expect(spanIsCountable(traceOf([syscall(WORKER, MMAP, 0x7ffff7c7b000n, [0n, 0x1000n, RW, FILE_PRIVATE, 3n, 0n])]), 0, 1)).toBe(false);
    expect(spanIsCountable(traceOf([syscall(WORKER, MMAP, -12n, [0n, 0x1000n, RW, ANON_PRIVATE, 0n, 0n])]), 0, 1)).toBe(false);
    const t = traceOf([syscall(MAIN, 1, 0n), data, syscall(MAIN, FUTEX, 0n)]);
    expect(dataMappingsAfter(t, 0)).toEqual([{ e: 1, start: 0x7ffff7c7b000n, end: 0x7ffff7cbb000n }]);
    expect(dataMappingsAfter(t, 2)).toEqual([]);
  });
});
