// What a counted span may cross, and where it may end, in a process of several
// threads (src/debug/crossed-events.ts; docs/timeline.md, "Counting in the process",
// *Threads*): the rules read event records only, so they are checked here on
// records made by hand in the trace's format (docs/trace-format.md).
import { describe, expect, it } from 'vitest';
import { encodeJsonEvent, EventKind, HEADER_SIZE, SYSCALL_FIXED_SIZE } from '../../src/history/events.js';
import type { TraceReader } from '../../src/history/index.js';
import { intervalKind, spanEnd, spanIsCountable, spanRefusal } from '../../src/debug/crossed-events.js';
import { rangesNamedAfter, sitesMappedBy } from '../../src/debug/mapping-events.js';

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

function clone(tid: number, child: number, flags: bigint): Buffer {
  const b = header(HEADER_SIZE + 20, EventKind.Clone, tid);
  b.writeUInt32LE(child, HEADER_SIZE);
  b.writeBigUInt64LE(flags, HEADER_SIZE + 8);
  return b;
}

function mapFile(tid: number, addr: bigint, length: bigint): Buffer {
  return encodeJsonEvent(EventKind.MapFile, tid, { addr: `0x${addr.toString(16)}`, length: `0x${length.toString(16)}`, offset: '0x0', prot: 5, flags: 0x812, path: '/lib/x.so', size: Number(length) });
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

  it('still stops at a thread\'s clone event and the first thread\'s exit', () => {
    expect(spanIsCountable(traceOf([clone(MAIN, WORKER, 0x3d0f00n)]), 0, 1, MAIN)).toBe(false);
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

});

describe('spans across mapping events (issue 10: however often the breakpoint is hit in between)', () => {
  const RW = 3n;
  const RX = 5n;
  const RWX = 7n;
  const ANON_PRIVATE = 0x22n;
  const FILE_PRIVATE = 0x2n;
  const NO_FD = 0xffffffffffffffffn;
  const MUNMAP = 11;
  const BRK = 12;
  const MREMAP = 25;
  const MPROTECT = 10;
  const FORK = 57;
  const EXECVE = 59;
  const HEAP = 0x555555559000n;
  const LIB = 0x7ffff7b04000n;
  const HOT = 0x555555555261n; // a breakpoint in the program
  const IN_LIB = LIB + 0x10123n; // one in the library the span maps
  const t = traceOf([
    syscall(MAIN, BRK, HEAP, [0n]), // 0: the first brk names the break
    syscall(MAIN, 1, 0n), // 1
    syscall(MAIN, MMAP, 0x7ffff3be3000n, [0n, 0x4001000n, RW, ANON_PRIVATE, NO_FD, 0n]), // 2: malloc's own mapping
    syscall(MAIN, BRK, HEAP + 0x21000n, [HEAP + 0x21000n]), // 3: the heap grows
    syscall(MAIN, MMAP, 0x7ffff7fa8000n, [0n, 0x2000n, 1n, FILE_PRIVATE, 3n, 0n]), // 4: a file, read only
    mapFile(MAIN, 0x7ffff7fa8000n, 0x2000n), // 5
    syscall(MAIN, MUNMAP, 0n, [0x7ffff7fa8000n, 0x2000n]), // 6
    syscall(MAIN, MADVISE, 0n, [0x7ffff3be4000n, 0x100000n, 4n]), // 7: DONTNEED
    syscall(MAIN, MREMAP, 0x7fffebbe2000n, [0x7ffff3be3000n, 0x4001000n, 0x8001000n, 1n]), // 8
    syscall(MAIN, MMAP, 0x7ffff7fa9000n, [0n, 0x1000n, RWX, ANON_PRIVATE, NO_FD, 0n]), // 9: a JIT page
    syscall(MAIN, MPROTECT, 0n, [0x7ffff7fa9000n, 0x1000n, RX]), // 10
    syscall(MAIN, MMAP, LIB, [0n, 0xdf110n, 1n, FILE_PRIVATE | 0x800n, 3n, 0n]), // 11: dlopen
    mapFile(MAIN, LIB, 0xdf110n), // 12
    syscall(MAIN, MMAP, LIB + 0x10000n, [LIB + 0x10000n, 0x74000n, RX, FILE_PRIVATE | 0x10n, 3n, 0x10000n]), // 13
    mapFile(MAIN, LIB + 0x10000n, 0x74000n), // 14
    clone(MAIN, 300, 0x1200011n), // 15: a fork: its child is not replayed under a debugger
    syscall(MAIN, CLONE, 300n, [0x1200011n]), // 16
    syscall(300, 231, 0n, [7n]), // 17: the child's exit_group and death, another process's
    death(300), // 18
    syscall(MAIN, FORK, 301n), // 19
    syscall(MAIN, BRK, HEAP, [HEAP]), // 20: the heap shrinks
    syscall(MAIN, MUNMAP, 0n, [0x7fffebbe2000n, 0x8001000n]), // 21
    syscall(MAIN, 1, 0n), // 22
  ]);

  it('crosses brk, mmap of data, files and code, munmap, madvise, mremap, mprotect and forks when no patched site is in their ranges', () => {
    expect(spanRefusal(t, 1, 23, MAIN, [HOT])).toBeUndefined();
  });

  it('refuses a span whose breakpoint (or end) lies in memory an event of it maps, naming the latest such event', () => {
    expect(spanRefusal(t, 1, 23, MAIN, [HOT, IN_LIB])).toEqual({ why: `the mapping of /lib/x.so at event 14 covers 0x${IN_LIB.toString(16)}`, event: 14 });
    expect(spanRefusal(t, 1, 13, MAIN, [IN_LIB])?.event).toBe(12); // the first segment's file mapping covers it too
    expect(spanRefusal(t, 15, 23, MAIN, [IN_LIB])).toBeUndefined(); // after the mapping: countable
    // a site in the heap's growth, the madvised or the unmapped range
    expect(spanRefusal(t, 1, 23, MAIN, [HEAP + 0x100n])?.event).toBe(20);
    expect(spanRefusal(t, 1, 8, MAIN, [0x7ffff3be5000n])?.event).toBe(7);
    expect(spanRefusal(t, 1, 8, MAIN, [0x7ffff7fa8010n])?.event).toBe(6);
    // mprotect keeps the bytes: a site in the JIT page is refused by its mmap only
    expect(spanRefusal(t, 10, 11, MAIN, [0x7ffff7fa9000n])).toBeUndefined();
    expect(spanRefusal(t, 9, 11, MAIN, [0x7ffff7fa9000n])?.event).toBe(9);
  });

  it('names the breakpoints in memory the span maps, which its counted runs trap instead of patching', () => {
    expect(sitesMappedBy(t, 1, 23, new Set([MAIN]), [HOT, IN_LIB])).toEqual([IN_LIB]);
    expect(sitesMappedBy(t, 15, 23, new Set([MAIN]), [HOT, IN_LIB])).toEqual([]);
    // an mprotect keeps the bytes; another process's mapping is not the debugged one's
    expect(sitesMappedBy(t, 10, 11, undefined, [0x7ffff7fa9000n])).toEqual([]);
    expect(sitesMappedBy(t, 1, 23, new Set([WORKER]), [IN_LIB])).toEqual([]);
  });

  it('skips other processes\' events only when the debugged process is named', () => {
    expect(spanRefusal(t, 17, 19, MAIN)).toBeUndefined();
    expect(spanRefusal(t, 17, 19)?.event).toBe(18);
  });

  it('still refuses an exec and the process\'s exit', () => {
    expect(spanRefusal(traceOf([syscall(MAIN, EXECVE, 0n)]), 0, 1, MAIN)?.why).toBe('syscall 59 at event 0');
    expect(spanRefusal(traceOf([syscall(MAIN, 231, 0n)]), 0, 1, MAIN)?.event).toBe(0);
  });

  it('has counter pages avoid every range a later event names: brk from the previous break, both ends of an mremap, unmapped and advised ranges', () => {
    const later = rangesNamedAfter(t, 3).map((r) => [r.e, r.start, r.end]);
    expect(later).toContainEqual([3, HEAP, HEAP + 0x21000n]);
    expect(later).toContainEqual([5, 0x7ffff7fa8000n, 0x7ffff7faa000n]);
    expect(later).toContainEqual([7, 0x7ffff3be4000n, 0x7ffff3ce4000n]);
    expect(later).toContainEqual([8, 0x7ffff3be3000n, 0x7ffff7be4000n]);
    expect(later).toContainEqual([8, 0x7fffebbe2000n, 0x7ffff3be3000n]);
    expect(later).toContainEqual([20, HEAP, HEAP + 0x21000n]);
    expect(later).toContainEqual([21, 0x7fffebbe2000n, 0x7ffff3be3000n]);
    expect(later.some(([e]) => (e as number) < 3)).toBe(false);
  });
});
