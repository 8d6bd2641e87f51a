// The pure parts of the debug engine: names of points and their arithmetic, the
// checkpoint store, debug-register pieces, the stop report's decoding, the call
// site before a return address, and the planners of reverse-continue.
import { describe, expect, it } from 'vitest';
import { describeMark, lower, raise, rename, sameMark, type Checkpoint, type Mark } from '../../src/debug/marks.js';
import type { NativeTracee } from '../../src/native/addon.js';
import { CheckpointStore, MAX_CHECKPOINTS } from '../../src/debug/checkpoint-store.js';
import type { ProcessCopy } from '../../src/debug/process-copy.js';
import { alignedPieces } from '../../src/debug/traps.js';
import { callSiteBefore } from '../../src/debug/reverse-step.js';
import { FINE_NS, firstNarrowingSchedule, INITIAL_NARROWING, nextNarrowing, planWindows, windowSliceTimes } from '../../src/debug/search-plans.js';
import { decodeStopReport } from '../../src/native/stop-report.js';
import { seekProgress } from '../../src/debug/monitor.js';

const PC = 0x401000n;
const OTHER = 0x401234n;

function checkpoint(id: number, mark: Mark, counts: [bigint, number][] = []): Checkpoint {
  return { id, pid: 1000 + id, mark, boundary: false, counts: new Map(counts), bytes: 0, t: 0 };
}

describe('marks', () => {
  // interval 7: a checkpoint #3 after 10 arrivals at PC and 4 at OTHER since the interval start
  const c3 = checkpoint(3, { e: 7, base: 0, pc: OTHER, n: 5, steps: 0 }, [[PC, 10], [OTHER, 4]]);
  // and #4, a copy left later, counted from #3: 6 more arrivals at PC
  const c4 = checkpoint(4, { e: 7, base: 3, pc: PC, n: 7, steps: 0 }, [[PC, 6]]);
  const get = (id: number) => ({ 3: c3, 4: c4 })[id];

  it('raise and lower are inverse through one checkpoint', () => {
    const m: Mark = { e: 7, base: 0, pc: PC, n: 15, steps: 2 };
    const up = raise(m, c3)!;
    expect(up).toEqual({ e: 7, base: 3, pc: PC, n: 5, steps: 2 });
    expect(lower(up, c3)).toEqual(m);
  });

  it('an arrival at or before the checkpoint cannot be named from it', () => {
    expect(raise({ e: 7, base: 0, pc: PC, n: 10, steps: 0 }, c3)).toBeUndefined();
    expect(raise({ e: 7, base: 0, pc: 0x999n, n: 3, steps: 0 }, c3)).toBeUndefined(); // pc not counted there
    expect(raise({ e: 8, base: 0, pc: PC, n: 30, steps: 0 }, c3)).toBeUndefined(); // another interval
  });

  it('rename goes down through bases and up again', () => {
    const fromC4: Mark = { e: 7, base: 4, pc: PC, n: 2, steps: 0 }; // 10 + 6 + 2 since the start
    expect(rename(fromC4, 0, get)).toEqual({ e: 7, base: 0, pc: PC, n: 18, steps: 0 });
    expect(rename(fromC4, c3, get)).toEqual({ e: 7, base: 3, pc: PC, n: 8, steps: 0 });
    expect(rename({ e: 7, base: 0, pc: PC, n: 18, steps: 0 }, c4, get)).toEqual(fromC4);
  });

  it('a fingerprint names a state from any earlier base of its interval', () => {
    const fp = Buffer.from('state');
    const m: Mark = { e: 7, base: 4, pc: 0x999n, n: 0, steps: 0, fp };
    expect(rename(m, 0, get)).toEqual({ ...m, base: 0 });
    expect(rename(m, c3, get)).toEqual({ ...m, base: 3 });
  });

  it('sameMark compares counts, or fingerprints when there is no count', () => {
    const a: Mark = { e: 1, base: 0, pc: PC, n: 0, steps: 0, fp: Buffer.from([1]) };
    expect(sameMark(a, { ...a, fp: Buffer.from([1]) })).toBe(true);
    expect(sameMark(a, { ...a, fp: Buffer.from([2]) })).toBe(false);
    expect(sameMark({ ...a, n: 3 }, { ...a, n: 3, fp: undefined })).toBe(true);
    expect(sameMark({ ...a, n: 3 }, { ...a, n: 3, steps: 1 })).toBe(false);
    expect(describeMark({ e: 5, base: 3, pc: 0x10n, n: 2, steps: 4 })).toBe('arrival 2 at 0x10 since checkpoint #3 after event 4 + 4 steps');
  });
});

describe('the checkpoint store', () => {
  it('keeps the root, drops the least recently used beyond its bound, keeps every record', async () => {
    const dropped: number[] = [];
    const store = new CheckpointStore(async (c) => void dropped.push(c.tracee.pid));
    // a checkpoint holds a copy of its process (process-copy.ts); only its pid matters here
    const proc = (pid: number): ProcessCopy => ({ tracee: { pid } as NativeTracee });
    const mark = (e: number): Mark => ({ e, base: 0, pc: PC, n: 1, steps: 0 });
    const root = store.add(proc(1), mark(1), true, 0);
    const made = Array.from({ length: MAX_CHECKPOINTS + 1 }, (_, i) => store.add(proc(100 + i), mark(2 + i), true, i));
    expect(store.root).toBe(root);
    expect(dropped).toEqual([100]); // the oldest non-root copy
    expect(made[0].pid).toBe(0);
    expect(store.get(made[0].id)).toBe(made[0]); // the record stays: names refer to it
    expect(store.alive()).toHaveLength(MAX_CHECKPOINTS + 1);
    store.touch(made[1]);
    store.add(proc(999), mark(999), true, 0);
    expect(dropped).toEqual([100, 102]); // made[1] was used, so made[2] went
    store.revive(made[0], proc(555));
    expect(store.find((c) => c.mark.e === 2)?.pid).toBe(555);
    store.release(made[0]);
    expect(made[0].pid).toBe(0);
    await store.clear();
    expect(store.alive()).toHaveLength(0);
    expect(dropped).toContain(1);
  });
});

describe('debug-register pieces', () => {
  it('covers a range with aligned 1, 2, 4 and 8-byte pieces', () => {
    expect(alignedPieces(0x1000n, 8)).toEqual([{ addr: 0x1000n, len: 8 }]);
    expect(alignedPieces(0x1003n, 8)).toEqual([
      { addr: 0x1003n, len: 1 }, { addr: 0x1004n, len: 4 }, { addr: 0x1008n, len: 2 }, { addr: 0x100an, len: 1 },
    ]);
    expect(alignedPieces(0x1000n, 16)).toEqual([{ addr: 0x1000n, len: 8 }, { addr: 0x1008n, len: 8 }]);
    expect(alignedPieces(0x1001n, 0)).toEqual([]);
  });
});

describe('the stop report', () => {
  it('is decoded once into a union, with the last search hit apart', () => {
    const r = decodeStopReport({ reason: 'watch', slot: 2, event: 9, at: 0x10n, n: 3, exact: 1, steps: 4, watchHits: 1, ranNs: 5e6, thread: 77, lastReason: 'swbreak', lastEvent: 9, lastPc: 0x20n, lastN: 2, lastExact: 1, lastWatch: 0, lastSlot: -1, lastSeq: 7, lastSteps: 0, lastOrder: 5 });
    expect(r.reason).toBe('watch');
    if (r.reason === 'watch') expect(r.slot).toBe(2);
    expect(r.position).toEqual({ event: 9, at: 0x10n, n: 3, exact: true, steps: 4, watchHits: 1, ranNs: 5e6, thread: 77 });
    expect(r.lastHit).toEqual({ event: 9, reason: 'swbreak', pc: 0x20n, n: 2, exact: true, watch: 0, slot: -1, seq: 7, steps: 0, order: 5 });
    const e = decodeStopReport({ reason: 'exited', code: 3 });
    expect(e).toMatchObject({ reason: 'exited', code: 3, threadsLeft: 0 });
    // a thread's death, its process living on (gdb on threaded replays)
    expect(decodeStopReport({ reason: 'killed', signal: 9, tid: 12, threadsLeft: 2 })).toMatchObject({ reason: 'killed', signal: 9, tid: 12, threadsLeft: 2 });
    expect(decodeStopReport({ reason: 'clone', recordedChild: 13 })).toMatchObject({ reason: 'clone', recordedChild: 13 });
    expect(e.lastHit).toBeUndefined();
    expect(decodeStopReport({ reason: 'what' })).toMatchObject({ reason: 'unknown', name: 'what' });
  });
});

describe('the call site before a return address', () => {
  const ret = 0x5000n;
  it('recognises the call forms compilers emit', () => {
    expect(callSiteBefore(ret, Buffer.from([0x90, 0x90, 0xe8, 1, 2, 3, 4]))).toBe(ret - 5n); // call rel32
    expect(callSiteBefore(ret, Buffer.from([0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xd0]))).toBe(ret - 2n); // call *%rax
    expect(callSiteBefore(ret, Buffer.from([0x90, 0xff, 0x15, 1, 2, 3, 4]))).toBe(ret - 6n); // call *disp32(%rip)
    expect(callSiteBefore(ret, Buffer.from([0x90, 0x90, 0x90, 0x90, 0xff, 0x50, 8]))).toBe(ret - 3n); // call *8(%rax)
    expect(callSiteBefore(ret, Buffer.from([0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90]))).toBeUndefined();
    expect(callSiteBefore(ret, Buffer.from([0xe8]))).toBeUndefined(); // unreadable
  });
});

describe('the planners of reverse-continue', () => {
  it('the first narrowing level measures with copies at 1, 2, 4 ... ms', () => {
    const s = firstNarrowingSchedule();
    expect(s.slice(0, 4)).toEqual([1e6, 2e6, 4e6, 8e6]);
    expect(s).toHaveLength(17);
  });

  it('each level aims at halves of what is left, corrected by the measured cost per copy', () => {
    // level 0 ran 10 ms to the end and left copies 9, 8, 6 and 2 ms before it
    const a = nextNarrowing(INITIAL_NARROWING, 10e6, [9e6, 8e6, 6e6, 2e6]);
    expect(a.fromClosest).toBe(true);
    expect(a.state.left).toBe(2e6);
    expect(a.schedule![0]).toBe(1e6); // half of what is left
    expect(a.schedule![1]).toBe(1.5e6 + INITIAL_NARROWING.cost);
    // the next level took 2.2 ms where 2 were expected, over 3 copies: about 67 us each
    const b = nextNarrowing(a.state, 2.2e6, [1e6, 0.5e6, 0.1e6]);
    expect(b.state.cost).toBeCloseTo(0.2e6 / 3);
    expect(b.state.left).toBe(0.1e6);
    expect(b.fromClosest).toBe(true);
    // a level that gets no closer aims closer from the same copy
    const c = nextNarrowing(b.state, 0.05e6, []);
    expect(c.fromClosest).toBe(false);
    expect(c.state.left).toBe(0.025e6);
    // and narrowing ends at the timer's precision
    expect(nextNarrowing(c.state, 0.005e6, [2 * FINE_NS - 1]).schedule).toBeUndefined();
    // without any copy and nothing measured, there is nothing to narrow
    expect(nextNarrowing(INITIAL_NARROWING, 0.5e6, []).schedule).toBeUndefined();
  });

  it('windows: the narrowing copies closest first, growing, then the known starts', () => {
    const anchors = [{ start: 'a', dist: 8e6 }, { start: 'b', dist: 4e6 }, { start: 'c', dist: 3e6 }, { start: 'd', dist: 1e6 }, { start: 'z', dist: 0 }];
    const starts = [{ start: 's1', dist: 9e6 }, { start: 's2', dist: 12e6 }, { start: 's3', dist: 40e6 }, { start: 's4', dist: Infinity }];
    // d (1 ms), then c (3 ms >= 1.7 * 1), then a (8 ms >= 1.7 * 3); b is too close to c; z
    // is at the end; then s1 (the first start), s3 (40 ms >= 1.8 * 9), s4 (the last)
    expect(planWindows(anchors, starts)).toEqual(['d', 'c', 'a', 's1', 's3', 's4']);
    expect(planWindows([], [{ start: 'only', dist: 5 }])).toEqual(['only']);
  });

  it('a window leaves a copy every 10 ms, or 16 over a long one', () => {
    expect(windowSliceTimes(50e6).slice(0, 2)).toEqual([10e6, 20e6]);
    expect(windowSliceTimes(320e6)[0]).toBe(20e6);
    expect(windowSliceTimes(Infinity)[0]).toBe(10e6);
  });
});

describe('a seek\'s progress lines', () => {
  it('says at most one line a tenth of the way, counted in events, never 100%', () => {
    const lines: string[] = [];
    const replayed = seekProgress(1000, (l) => lines.push(l));
    // first where the run starts, then after each batch of events: next is the next event to replay
    for (const next of [1, 65, 129, 150, 401, 402, 999, 1001]) replayed(next);
    expect(lines).toEqual(['seek: 10% (event 128 of 1000)', 'seek: 40% (event 400 of 1000)', 'seek: 90% (event 998 of 1000)']);
    // a seek back runs from an earlier checkpoint: the way is counted from there
    const back: string[] = [];
    const fromCheckpoint = seekProgress(300, (l) => back.push(l));
    for (const next of [201, 251, 301]) fromCheckpoint(next);
    expect(back).toEqual(['seek: 50% (event 250 of 300)']);
  });
});
