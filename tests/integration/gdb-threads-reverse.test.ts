// Reverse execution in a threaded stretch (issue 9, item 9; docs/timeline.md, "gdb
// with threads"): the real gdb against `rewind replay` on tests/programs/threads/
// rounds.c, three workers that take turns writing one counter. Each answer of a
// reverse command is checked against what the same replay showed going forwards, or
// against the recorded schedule (`rewind dump`), never against timing: the
// recording's schedule may differ from run to run, and the assertions follow it.
// What is new under test: checkpoints of the threaded process (every thread copied),
// which the reverse commands start from, and the end of the recording as a start.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { BUILD_DIR, requireTool, rewind } from '../helpers.js';
import { afterMark, debugReplay, record } from './gdb-support.js';

const PROGRAM = path.join(BUILD_DIR, 'threads', 'rounds');
/** 3 workers x 4 rounds (rounds.c) */
const WRITES = 12;

interface Hit {
  old: number;
  now: number;
  /** the recorded tid of the thread gdb stopped in ("Thread p.t" of `thread`) */
  tid: number;
  /** the worker's own id, a thread-local read in that thread */
  id: number;
}

/** The watchpoint stops of a transcript, each with the `thread` and `p my_id` that follow it. */
function hitsOf(text: string): Hit[] {
  const re = /hit Hardware watchpoint \d+: counter\n\nOld value = (\d+)\nNew value = (\d+)\n[^]*?\[Current thread is \d+ \(Thread \d+\.(\d+)\)\]\n\$\d+ = (\d+)\n/g;
  return [...text.matchAll(re)].map((m) => ({ old: Number(m[1]), now: Number(m[2]), tid: Number(m[3]), id: Number(m[4]) }));
}

/** The trace's events as `rewind dump` prints them: index, tid, text. */
function dump(trace: string): { index: number; tid: number; text: string }[] {
  const r = rewind(['dump', trace]);
  expect(r.status, r.stderr.toString()).toBe(0);
  return r.stdout.toString().split('\n').flatMap((l) => {
    const m = /^(\d+) \[(\d+)\] (.*)$/.exec(l);
    return m ? [{ index: Number(m[1]), tid: Number(m[2]), text: m[3] }] : [];
  });
}

describe('reverse execution in a threaded stretch', () => {
  it('from the end of the recording, reverse-continue to a watchpoint lands on each write of every worker, latest first, in the thread that made it', async () => {
    requireTool('gdb');
    const trace = record(PROGRAM);
    const after = ['thread', 'p my_id'];
    const { gdb, server, status } = await debugReplay(trace, [
      'watch counter',
      ...Array.from({ length: WRITES }, () => ['continue', ...after]).flat(),
      'echo ==end==\\n',
      'continue', // the end of the recording
      ...Array.from({ length: WRITES }, () => ['reverse-continue', ...after]).flat(),
      'monitor checkpoints',
      'delete', 'continue', 'continue',
    ]);
    expect(status, server).toBe(0);
    const out = afterMark(gdb);
    const [forwards, backwards] = out.split('==end==');
    const ahead = hitsOf(forwards);
    expect(ahead).toHaveLength(WRITES);
    // forwards: each write adds id * 100 + round, in the thread of worker `id`
    let total = 0;
    for (const h of ahead) {
      expect(h.old).toBe(total);
      expect((h.now - h.old - (h.now - h.old) % 100) / 100).toBe(h.id);
      total = h.now;
    }
    expect(new Set(ahead.map((h) => h.tid)).size).toBe(3);
    expect(backwards).toContain('No more reverse-execution history.');
    // backwards from the end: the same writes, latest first, gdb's Old/New swapped,
    // each in the same thread with the same thread-local value
    const back = hitsOf(backwards.slice(backwards.indexOf('No more reverse-execution history.')));
    expect(back, backwards).toEqual([...ahead].reverse().map((h) => ({ old: h.now, now: h.old, tid: h.tid, id: h.id })));
    // the searches started from copies of the threaded process (every thread in them)
    const threaded = [...backwards.matchAll(/^ {2}#\d+ pid \d+ after event \d+, .*, (\d+) threads$/gm)].map((m) => Number(m[1]));
    expect(threaded.length).toBeGreaterThan(0);
    expect(Math.max(...threaded)).toBeGreaterThanOrEqual(2);
    expect(out).toContain('[Inferior 1 (process N) exited normally]');
  });

  it('reverse-stepi from a worker just back from its yield crosses into the thread the recording ran before it, which gdb switches to', async () => {
    requireTool('gdb');
    const trace = record(PROGRAM);
    const events = dump(trace);
    // The yields' returns: each thread's first instruction after its sched_yield
    // (after_yield) is the start of the interval of its next record.
    const exits = events.filter((e) => /^sched_yield\(/.test(e.text));
    const resumed = exits.map((x) => ({ exit: x, next: events.find((e) => e.index > x.index && e.tid === x.tid) }))
      .filter((r) => r.next !== undefined).sort((a, b) => a.next!.index - b.next!.index);
    // one whose thread goes on right after its call's event, and whose call's event
    // came right after another thread entered a syscall (an enter event, which ends
    // that thread's run of user code): one instruction back is the yielder at its
    // entry (the interval of the call's event), two are the other thread at its
    // `syscall` instruction
    // (after the last thread is made: the stop where gdb hears of a new thread is no concern here)
    const clones = events.filter((e) => /^clone of thread \d+/.test(e.text));
    const k = resumed.findIndex((r) => r.next!.index === r.exit.index + 1 && events[r.exit.index - 1]?.tid !== r.exit.tid
      && /^enter \w+/.test(events[r.exit.index - 1].text) && r.exit.index > clones[clones.length - 1].index);
    expect(k, 'the recording has no yield right after another thread\'s syscall (rounds.c yields 12 times)').toBeGreaterThanOrEqual(0);
    const yielder = resumed[k].exit.tid;
    const before = events[resumed[k].exit.index - 1].tid;
    // which worker (the n-th thread made is worker n) and which of its rounds
    const id = clones.findIndex((c) => c.text.startsWith(`clone of thread ${yielder} `)) + 1;
    const round = exits.filter((x) => x.tid === yielder && x.index < resumed[k].exit.index).length;
    expect(id).toBeGreaterThan(0);
    const { gdb, server, status } = await debugReplay(trace, [
      `break *after_yield if my_id == ${id} && my_round == ${round}`, 'continue', 'thread', 'p $pc',
      'reverse-stepi', 'thread', 'p $pc',
      'reverse-stepi', 'thread', 'x/i $pc',
      'reverse-stepi', 'thread', 'p $pc',
      'stepi', 'thread', 'p $pc',
      'delete', 'continue', 'continue',
    ]);
    expect(status, server).toBe(0);
    const out = afterMark(gdb);
    const threads = [...out.matchAll(/\[Current thread is \d+ \(Thread \d+\.(\d+)\)\]/g)].map((m) => Number(m[1]));
    expect(threads).toEqual([yielder, yielder, before, before, before]);
    const pcs = [...out.matchAll(/^\$\d+ = \(void \(\*\)\(\)\) (0x[0-9a-f]+)/gm)].map((m) => m[1]);
    // the yielder after its call, then at its entry (the same pc, the call not yet returned)
    expect(pcs[0]).toBe(pcs[1]);
    expect(out).toMatch(/<yield_now\+\d+>/);
    // the other thread stands at the `syscall` instruction of its own call
    const at = /=> (0x[0-9a-f]+) <[^>]+>:\s+syscall/.exec(out);
    expect(at, out).not.toBeNull();
    // one instruction further back in that thread, and forwards again to its syscall
    expect(pcs[2]).not.toBe(at![1]);
    expect(pcs[3]).toBe(at![1]);
    expect(out).toContain('[Inferior 1 (process N) exited normally]');
  });
});
