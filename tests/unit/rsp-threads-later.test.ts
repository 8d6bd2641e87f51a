// The thread packets' threads absent here (src/rsp/threads.ts), against a stand-in
// engine whose live threads and creation points the test sets: gdb keeps a thread's
// number only while every thread list has it, so a thread gdb heard of stays listed
// while the replay stands before its creation or after its end, marked and without
// registers; one gdb never heard of is not. (The real thing, gdb on a replay going
// back past creations: tests/integration/gdb-threads-call.test.ts.)
import { describe, expect, it } from 'vitest';
import type { DebugTarget } from '../../src/debug/target.js';
import { ThreadPackets } from '../../src/rsp/threads.js';

/** A stand-in engine: `live` threads now, `later` ones the replay makes further on. */
function engine(state: { live: number[]; later: number[] }): { target: DebugTarget; selected: () => number } {
  let selected = state.live[0];
  const target = {
    tid: 100,
    alive: true,
    threads: () => state.live,
    madeLater: (tid: number) => state.later.includes(tid),
    selectThread: (tid: number) => {
      if (!state.live.includes(tid)) throw new Error(`no thread ${tid}`);
      selected = tid;
    },
    get selectedThread() {
      return selected;
    },
  } as unknown as DebugTarget;
  return { target, selected: () => selected };
}

const tids = (p: ThreadPackets) => p.list().map((t) => t.tid);

describe('threads made later', () => {
  it('a thread gdb heard of stays listed before its creation, marked, not selectable for registers, not steppable', () => {
    const state = { live: [100, 101, 102], later: [] as number[] };
    const { target, selected } = engine(state);
    const p = new ThreadPackets(target);
    p.events = true; // gdb (qSupported: QThreadEvents+)
    expect(tids(p)).toEqual([100, 101, 102]); // gdb hears of all three
    // back before 101 and 102 were made
    state.live = [100];
    state.later = [101, 102];
    expect(tids(p)).toEqual([100, 101, 102]);
    expect(p.ours({ tid: 101 })).toBe(true);
    expect(p.extraInfo(101)).toBe('not made yet here');
    expect(p.extraInfo(100)).toBe('replayed');
    expect(p.xml('prog', true)).toContain('<thread id="p64.65" core="0" name="prog">not made yet here</thread>');
    expect(p.xml('prog', true)).toContain('<thread id="p64.64" core="0" name="prog"/>');
    // Hg to it: its registers are unavailable, the engine's selection stays
    expect(p.set('g', { tid: 101 })).toBe(true);
    expect(p.absentSelected).toBe(true);
    expect(selected()).toBe(100);
    // a step of it is refused; a stop ends the Hg
    expect(p.set('c', { tid: 101 })).toBe(false);
    expect(p.vCont([{ action: 's', thread: { tid: 101 } }])).toEqual({ kind: 'no-thread' });
    p.stopped();
    expect(p.absentSelected).toBe(false);
    // made again: an ordinary thread
    state.live = [100, 101];
    state.later = [102];
    expect(tids(p)).toEqual([100, 101, 102]);
    expect(p.set('g', { tid: 101 })).toBe(true);
    expect(p.absentSelected).toBe(false);
    expect(selected()).toBe(101);
  });

  it('a thread that has ended stays listed, marked ended here, with nothing to show; gone back before its end it is live again; one made later that gdb never heard of is not listed', () => {
    const state = { live: [100, 101], later: [] as number[] };
    const { target, selected } = engine(state);
    const p = new ThreadPackets(target);
    p.events = true;
    expect(tids(p)).toEqual([100, 101]);
    state.live = [100]; // 101 ended
    expect(tids(p)).toEqual([100, 101]);
    expect(p.ours({ tid: 101 })).toBe(true);
    expect(p.extraInfo(101)).toBe('ended here');
    expect(p.xml('prog', true)).toContain('<thread id="p64.65" core="0" name="prog">ended here</thread>');
    expect(p.set('g', { tid: 101 })).toBe(true);
    expect(p.absentSelected).toBe(true);
    expect(selected()).toBe(100);
    expect(p.set('c', { tid: 101 })).toBe(false);
    expect(p.vCont([{ action: 'r', start: 1n, end: 2n, thread: { tid: 101 } }])).toEqual({ kind: 'no-thread' });
    p.stopped();
    state.live = [100, 101]; // back before its end
    expect(tids(p)).toEqual([100, 101]);
    expect(p.extraInfo(101)).toBe('replayed');
    expect(p.xml('prog', true)).toContain('<thread id="p64.65" core="0" name="prog"/>');
    state.later = [103]; // made later, never heard of
    expect(tids(p)).toEqual([100, 101]);
    expect(p.ours({ tid: 103 })).toBe(false);
    expect(p.ours({ tid: 104 })).toBe(false);
  });

  it('not for a client without thread events (LLDB): only the live threads', () => {
    const state = { live: [100, 101], later: [] as number[] };
    const p = new ThreadPackets(engine(state).target);
    expect(tids(p)).toEqual([100, 101]);
    state.live = [100];
    state.later = [101];
    expect(tids(p)).toEqual([100]);
    expect(p.ours({ tid: 101 })).toBe(false);
  });
});
