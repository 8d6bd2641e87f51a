// Copies of a replayed threaded process that replay on (addon/replay_thread_copy.cc,
// Replayer.fork, docs/timeline.md "Checkpoints of threads"). Real threaded programs
// are recorded, then replayed headless (the native loop `replay --check` runs) to
// several points: after a number of events, right after an enter event that left a
// thread parked at the entry of a futex wait or a read, just before a preemption
// point, or between two buffered calls of one thread. There the replay is copied,
// and the copy runs to the end: it must print what the recording printed and end as
// it did, with as many calls served from the syscall buffer's feeds as a replay
// that paused where it did (a pause cuts a thread's fed stretch: the call before
// it stops). The original then runs on from there and must too. A copy of a copy; a copy closed where it stands leaves no
// thread behind, not even a zombie; a copy of a process that is ending is refused
// and changes nothing, as is one of a replay standing in several processes; a
// process of one thread is copied the same way; a small sweep copies two
// programs at 40 points each.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/history/events.js';
import { native } from '../../src/native/addon.js';
import { STUB_SYSCALL } from '../../src/replay/stub.js';
import { TraceReader } from '../../src/history/index.js';
import { type ReplayHooks, type ReplayOutcome, Replayer } from '../../src/replay/replayer.js';
import { BUILD_DIR, describeRun, programPath, PROGRAMS_DIR, rewind, runNative, tempDir } from '../helpers.js';

const SYS_READ = 0;
const SYS_FUTEX = 202;
const SYS_CLOCK_NANOSLEEP = 230;
/** the result of a buffered call that blocked, recorded as interrupted (docs/syscallbuf.md, Threads) */
const DESCHED_INTERRUPTED = -0x5257000000n;

interface Recorded {
  traceDir: string;
  stdout: string;
  status: number;
}

function record(exe: string): Recorded {
  const root = tempDir('rewind-tcopy-');
  const traceDir = path.join(root, 'trace');
  const r = rewind(['record', '-o', traceDir, '--', exe], { traceRoot: root });
  expect(r.status, describeRun(r)).not.toBeNull();
  expect(r.status, describeRun(r)).toBeLessThan(125);
  return { traceDir, stdout: r.stdout.toString('utf8'), status: r.status! };
}

/** What a replay printed on fd 1, from its start: a copy starts with its original's. */
class Output {
  constructor(private readonly chunks: Buffer[] = []) {}
  readonly hooks: ReplayHooks = { onOutput: (fd, data) => fd === 1 && this.chunks.push(Buffer.from(data)) };
  copy(): Output {
    return new Output([...this.chunks]);
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** A process or thread, named by its pid and its start time (pids are reused: pid_max may be 32768). */
interface Task {
  pid: number;
  start: string;
}

function startTime(pid: number): string | undefined {
  try {
    // after the command's parentheses: state is field 3, starttime field 22
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Every thread of every process a replay holds, as the kernel lists them. */
function tasksOf(r: Replayer): Task[] {
  const pids = new Set<number>();
  for (const { pid } of r.threads()) for (const t of readdirSync(`/proc/${pid}/task`)) pids.add(Number(t));
  return [...pids].map((pid) => ({ pid, start: startTime(pid)! }));
}

/** None of the tasks exists any more, not even as a zombie. */
function expectGone(tasks: Task[], what: string): void {
  expect(tasks.length).toBeGreaterThan(0);
  const left = tasks.filter((t) => startTime(t.pid) === t.start);
  expect(left.map((t) => `${t.pid} (${readFileSync(`/proc/${t.pid}/stat`, 'utf8').split(') ')[1]?.[0]})`), what).toEqual([]);
}

/** This process's children (a replay's processes and copies are: CLONE_PARENT makes a copy its original's sibling). */
function ourChildren(): number[] {
  return readdirSync('/proc/self/task')
    .flatMap((t) => readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number))
    .sort((a, b) => a - b);
}

/** The syscall a thread stands in, from /proc (its number, or -1 / running). */
function syscallOf(pid: number): string {
  return readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0].trim();
}

interface Point {
  index: number;
  why: string;
  /** the recorded thread parked at this syscall's entry there */
  parked?: { tid: number; nr: number };
}

interface PointsWanted {
  /** after these fractions of the trace's events */
  fractions: number[];
  /** right after an enter event of each of these calls (its thread parked at the call's entry) */
  parkedAt?: number[];
  /** right after the last clone event: its parent stands inside the clone */
  inClone?: boolean;
  /** just before the first switch point */
  beforeSwitch?: boolean;
  /** between a thread's buffered write and its next buffered call (its fed stretch cut) */
  inFedStretch?: boolean;
}

/** The points wanted in the trace, in order. */
function pointsOf(traceDir: string, { fractions, parkedAt = [], inClone = false, beforeSwitch = false, inFedStretch = false }: PointsWanted): Point[] {
  const trace = TraceReader.open(traceDir);
  try {
    const n = trace.eventCount;
    const points: Point[] = fractions.map((f) => ({ index: Math.floor(n * f), why: `after ${Math.floor(n * f)} of ${n} events` }));
    for (const nr of parkedAt) {
      // the middle one of those enter events, whose call's own event comes later
      const enters: { index: number; tid: number }[] = [];
      for (let i = 0; i < n; i++) {
        const ev = decodeEvent(trace.record(i));
        if (ev.kind === 'enter' && ev.nr === nr) enters.push({ index: i, tid: ev.tid });
      }
      expect(enters.length, `enter events of syscall ${nr}`).toBeGreaterThan(0);
      const e = enters[Math.floor(enters.length / 2)];
      points.push({ index: e.index + 1, why: `thread ${e.tid} parked at the entry of syscall ${nr} (enter event ${e.index})`, parked: { tid: e.tid, nr } });
    }
    if (inClone) {
      const clones = [...Array(n).keys()].filter((i) => decodeEvent(trace.record(i)).kind === 'clone');
      expect(clones.length, 'clone events').toBeGreaterThan(0);
      const last = clones[clones.length - 1];
      points.push({ index: last + 1, why: `right after the last clone event, ${last} (its parent inside the call)` });
    }
    if (beforeSwitch) {
      const at = [...Array(n).keys()].find((i) => {
        const ev = decodeEvent(trace.record(i));
        return ev.kind === 'async-point' && 'switch' in ev.point.what;
      });
      expect(at, 'a switch point in the trace').toBeDefined();
      points.push({ index: at!, why: `before the switch point at event ${at}` });
    }
    if (inFedStretch) {
      // a thread's write, then its read that the desched event interrupted (the result
      // only a buffered call is recorded with): both in its buffer, and a replay that
      // runs on serves the write from the feed
      const at = [...Array(n).keys()].find((i) => {
        if (i < n / 2) return false;
        const write = decodeEvent(trace.record(i - 1));
        const read = decodeEvent(trace.record(i));
        return write.kind === 'syscall' && write.nr === 1 && read.kind === 'syscall' && read.tid === write.tid && read.result === DESCHED_INTERRUPTED;
      });
      expect(at, 'a write and an interrupted buffered read of one thread in a row').toBeDefined();
      points.push({ index: at!, why: `between two buffered calls of one thread, events ${at! - 1} and ${at}` });
    }
    return points.sort((a, b) => a.index - b.index);
  } finally {
    trace.close();
  }
}

/** The end of a replay as the recording's: the same exit, and every event replayed. */
function expectEnd(outcome: ReplayOutcome | undefined, rec: Recorded, out: Output, what: string): void {
  expect(outcome, what).toMatchObject({ kind: 'exited', code: rec.status });
  expect(out.text(), what).toBe(rec.stdout);
}

const open: { trace?: TraceReader; replays: Replayer[] } = { replays: [] };

afterAll(async () => {
  for (const r of open.replays) await r.close();
  open.trace?.close();
});

/**
 * How a replay of `trace` that paused at each of `pauses` (runTo) and then ran to
 * the end ended. A pause counts: the calls it finds in the middle of a thread's
 * stretch of buffered ones are served one fewer (the run before it stops at the call
 * before it, as no fill may take the thread past the pause), so copies made at other
 * points serve other numbers of calls, and each is compared with its own.
 */
async function endPausedAt(trace: TraceReader, pauses: number[]): Promise<ReplayOutcome> {
  const r = await Replayer.start(trace);
  open.replays.push(r);
  for (const p of pauses) expect(await r.runTo(p)).toBeUndefined();
  return r.run();
}

/**
 * Replays `rec` to each point in turn; at each, a copy runs to the end and is
 * checked; at the second point a copy of a copy too, and a copy closed where it
 * stands. The original runs to the end last. Each ends as a replay that paused
 * where it and its originals did.
 */
async function copiesReplayOn(rec: Recorded, points: Point[]): Promise<void> {
  const trace = TraceReader.open(rec.traceDir);
  open.trace = trace;
  const original = await Replayer.start(trace);
  open.replays.push(original);
  const out = new Output();
  const pauses: number[] = [];
  for (const [k, p] of points.entries()) {
    pauses.push(p.index);
    expect(await original.runTo(p.index, out.hooks), `the replay ended before ${p.why}`).toBeUndefined();
    expect(original.eventIndex, p.why).toBe(p.index);
    const copy = await original.fork();
    open.replays.push(copy);
    expect(copy.eventIndex).toBe(p.index);
    const threads = original.threads();
    const copied = copy.threads();
    expect(copied.map((t) => t.recordedTid).sort()).toEqual(threads.map((t) => t.recordedTid).sort());
    for (const t of copied) expect(threads.map((o) => o.pid)).not.toContain(t.pid);
    if (p.parked) {
      // the parked thread stands at its call's entry in the original and in the copy
      const pidIn = (r: Replayer) => r.threads().find((t) => t.recordedTid === p.parked!.tid)!.pid;
      expect(syscallOf(pidIn(original)), p.why).toBe(String(p.parked.nr));
      expect(syscallOf(pidIn(copy)), `the copy, ${p.why}`).toBe(String(p.parked.nr));
    }
    const tasks = tasksOf(copy);
    expect(tasks.length).toBe(copied.length);
    const copyOut = out.copy();
    if (k === 1) {
      // a copy of the copy, a little further on
      const further = p.index + Math.max(1, Math.floor((trace.eventCount - p.index) / 3));
      expect(await copy.runTo(further, copyOut.hooks)).toBeUndefined();
      const second = await copy.fork();
      open.replays.push(second);
      const secondTasks = tasksOf(second);
      const secondOut = copyOut.copy();
      const secondEnd = await second.run(secondOut.hooks);
      expectEnd(secondEnd, rec, secondOut, `a copy made at event ${further} of the copy made ${p.why}`);
      expectGone(secondTasks, 'the copy of the copy, ended');
      pauses.push(further);
      expect(secondEnd).toEqual(await endPausedAt(trace, pauses));
      // and one closed where it stands
      const closed = await original.fork();
      const closedTasks = tasksOf(closed);
      await closed.close();
      expectGone(closedTasks, `a copy closed ${p.why}`);
    }
    const end = await copy.run(copyOut.hooks);
    expectEnd(end, rec, copyOut, `the copy made ${p.why}`);
    expectGone(tasks, `the copy made ${p.why}, ended`);
    expect(end, `the copy made ${p.why}`).toEqual(await endPausedAt(trace, pauses));
    // the copy's own pause is not the original's
    if (k === 1) pauses.pop();
  }
  const tasks = tasksOf(original);
  const end = await original.run(out.hooks);
  expectEnd(end, rec, out, 'the original, after its copies');
  expect(end, 'the original, after its copies').toEqual(await endPausedAt(trace, pauses));
  expectGone(tasks, 'the original, ended');
  open.replays = [];
  trace.close();
  open.trace = undefined;
}

const program = (name: string) => path.join(BUILD_DIR, 'threads', name);

describe('copies of a threaded replay replay on', () => {
  // two threads spinning on flags each other sets: the recording ends only by
  // preempting one, so its trace has switch points, which a copy's replay must reach
  // again by running the program's code
  const spin = program('spin_flags');

  it('mutex_counter: 8 threads, copies where a thread waits on the lock and where one is being made', async () => {
    const rec = record(program('mutex_counter'));
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.5], parkedAt: [SYS_FUTEX], inClone: true }));
  });

  it('condvar: a producer and main waiting on condition variables', async () => {
    const rec = record(program('condvar'));
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.3, 0.6], parkedAt: [SYS_FUTEX] }));
  });

  it('pipe_pingpong: two threads, each parked in a read of an empty pipe in turn; a copy between two buffered calls', async () => {
    const rec = record(program('pipe_pingpong'));
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.2, 0.5], parkedAt: [SYS_READ], inFedStretch: true }));
  });

  it('pipe_pingpong statically linked: every call an event, no syscall buffer', async () => {
    const exe = path.join(tempDir('rewind-tcopy-static-'), 'pipe_pingpong.static');
    const cc = runNative(['cc', '-O1', '-static', '-pthread', '-o', exe, path.join(PROGRAMS_DIR, 'threads', 'pipe_pingpong.c')]);
    expect(cc.status, describeRun(cc)).toBe(0);
    const rec = record(exe);
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.1, 0.5, 0.9], parkedAt: [SYS_READ], inClone: true }));
  });

  it('racy_counter: the copies lose the updates the recording lost', async () => {
    const rec = record(program('racy_counter'));
    expect(rec.stdout).toMatch(/^total \d+ of 80000/);
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.1, 0.4, 0.8] }));
  });

  it("mm_race: four threads mapping and unmapping; each copy's address space is the recorded one", async () => {
    const rec = record(program('mm_race'));
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.25, 0.5, 0.75] }));
  });

  it('signal_threads: copies while a worker signals its process and main sleeps', async () => {
    const rec = record(program('signal_threads'));
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.3, 0.6], parkedAt: [SYS_CLOCK_NANOSLEEP] }));
  });

  it('exit_group: a copy asked while the process ends is refused, and the replay ends as recorded', async () => {
    const rec = record(program('exit_group'));
    expect(rec.status).toBe(7);
    const trace = TraceReader.open(rec.traceDir);
    open.trace = trace;
    const original = await Replayer.start(trace);
    open.replays.push(original);
    const out = new Output();
    // the last event is a thread's death in the exit_group main called: every
    // thread is on its way out, none stopped
    expect(await original.runTo(trace.eventCount - 1, out.hooks)).toBeUndefined();
    const threads = original.threads();
    const children = ourChildren();
    await expect(original.fork()).rejects.toThrow(/it is ending \(thread \d+ is dying\): there is nothing left to copy/);
    expect(original.threads()).toEqual(threads);
    expect(ourChildren()).toEqual(children);
    expectEnd(await original.run(out.hooks), rec, out, 'the replay after the refused copy');
    open.replays = [];
  });

  it('copies at 40 points of condvar and signal_threads each replay 300 events on', async () => {
    for (const name of ['condvar', 'signal_threads']) {
      const rec = record(program(name));
      const trace = TraceReader.open(rec.traceDir);
      open.trace = trace;
      const original = await Replayer.start(trace);
      open.replays.push(original);
      const n = trace.eventCount;
      const out = new Output();
      for (let at = 1; at < n; at += Math.max(1, Math.floor(n / 40))) {
        expect(await original.runTo(at, out.hooks), `${name}: the replay ended before event ${at}`).toBeUndefined();
        const copy = await original.fork();
        open.replays.push(copy);
        const tasks = tasksOf(copy);
        // a divergence throws; the end, if it comes, is the recording's
        const copyOut = out.copy();
        const end = await copy.runTo(Math.min(n, at + 300), copyOut.hooks);
        if (end) expectEnd(end, rec, copyOut, `${name}: the copy made at event ${at}`);
        await copy.close();
        expectGone(tasks, `${name}: the copy made at event ${at}, closed`);
      }
      expectEnd(await original.run(out.hooks), rec, out, `${name}: the original`);
      open.replays = [];
      trace.close();
      open.trace = undefined;
    }
  });

  it('signals: a process of one thread is copied the same way, its pending signals with it', async () => {
    const rec = record(programPath('signals'));
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.25, 0.5, 0.75] }));
  });

  it('fork_pipes: a replay that stands in several processes is not copied', async () => {
    const rec = record(path.join(BUILD_DIR, 'procs', 'fork_pipes'));
    const trace = TraceReader.open(rec.traceDir);
    open.trace = trace;
    const original = await Replayer.start(trace);
    open.replays.push(original);
    const out = new Output();
    // after the third child's clone event, all four processes live
    const clones = [...Array(trace.eventCount).keys()].filter((i) => decodeEvent(trace.record(i)).kind === 'clone');
    expect(clones).toHaveLength(3);
    expect(await original.runTo(clones[2] + 1, out.hooks)).toBeUndefined();
    const children = ourChildren();
    await expect(original.fork()).rejects.toThrow(/a copy of a replay is made of one process and its threads; this one stands in 4 processes/);
    expect(ourChildren()).toEqual(children);
    expectEnd(await original.run(out.hooks), rec, out, 'the replay after the refused copy');
    open.replays = [];
  });

  it("a debugged thread's process is copied without the debugger's breakpoints", async () => {
    const rec = record(program('condvar'));
    const [point] = pointsOf(rec.traceDir, { fractions: [], parkedAt: [SYS_FUTEX] });
    const trace = TraceReader.open(rec.traceDir);
    open.trace = trace;
    const original = await Replayer.start(trace);
    open.replays.push(original);
    const out = new Output();
    expect(await original.runTo(point.index, out.hooks)).toBeUndefined();
    const parked = original.tracee(point.parked!.tid)!;
    // a breakpoint on the parked thread's `syscall` instruction (rip is past it)
    const rip = (await native().getRegs(parked.pid)).readBigUInt64LE(16 * 8);
    const d = new (native().Debugger)(parked);
    const byte = await d.insertBreakpoint(rip - 2n);
    expect((await native().readMemory(parked.pid, rip - 2n, 1))[0]).toBe(0xcc);
    const copies = await d.forkReplayed(STUB_SYSCALL);
    const tasks = copies.map((c) => ({ pid: c.tracee.pid, start: startTime(c.tracee.pid)! }));
    try {
      expect(copies[0].recordedTid).toBe(point.parked!.tid);
      expect(copies.map((c) => c.recordedTid).sort()).toEqual(original.threads().map((t) => t.recordedTid).sort());
      expect(syscallOf(copies[0].tracee.pid)).toBe(String(SYS_FUTEX));
      expect([...(await native().readMemory(copies[0].tracee.pid, rip - 2n, 2))]).toEqual([byte, 0x05]);
      expect((await native().readMemory(parked.pid, rip - 2n, 1))[0]).toBe(0xcc);
    } finally {
      // closing any one kills the whole copy; the others' close only lets them go
      await copies[1].tracee.close();
      for (const c of copies) if (c !== copies[1]) await c.tracee.close();
    }
    expectGone(tasks, 'the closed copy of the debugged process');
    await d.removeBreakpoint(rip - 2n);
    await d.dispose();
    expectEnd(await original.run(out.hooks), rec, out, 'the debugged original, its breakpoint removed');
    open.replays = [];
  });

  it('a preempted spinner: copies made before a switch point reach it again', async () => {
    const rec = record(spin);
    await copiesReplayOn(rec, pointsOf(rec.traceDir, { fractions: [0.5], beforeSwitch: true }));
  });
});
