// A syscall injected into one thread of a replayed threaded process, whatever stop
// the replay left it in (addon/thread_inject.cc: how the in-process counters' pages
// are mapped with threads, docs/timeline.md "Counting in the process", *Threads*).
// tests/programs/threads/hot_threads.c is recorded and replayed headless to just
// after an enter event of a futex wait, where that thread is parked at the call's
// entry. Into every thread: a getpid, then the counters' mmap and munmap; each
// thread must be left as it was (registers, the syscall it stands in), and the
// replay must then run to the recorded end with the recorded output. A thread the
// native side cannot take (a pid that is not a stopped tracee) is an error that
// changes nothing.
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/history/events.js';
import { TraceReader } from '../../src/history/index.js';
import { native } from '../../src/native/addon.js';
import { Replayer } from '../../src/replay/replayer.js';
import { STUB_SYSCALL } from '../../src/replay/stub.js';
import { BUILD_DIR, describeRun, rewind, tempDir } from '../helpers.js';
import { readFileSync } from 'node:fs';

const PROGRAM = path.join(BUILD_DIR, 'threads', 'hot_threads');
const NR_MMAP = 9;
const NR_MUNMAP = 11;
const NR_GETPID = 39;
const NR_FUTEX = 202;
const PROT_RWX = 7n;
const MAP_PRIVATE_ANON = 0x22n;

/** The syscall a thread stands in, from /proc (its number, or "running"/-1). */
function syscallOf(pid: number): string {
  return readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0].trim();
}

const open: { trace?: TraceReader; replay?: Replayer } = {};
afterAll(async () => {
  await open.replay?.close();
  open.trace?.close();
});

describe('a syscall injected into a thread of a threaded replay', () => {
  it('from a thread parked at a futex entry and from the others: the right results, every thread left as it was, the replay ends as recorded', async () => {
    const root = tempDir('rewind-tinject-');
    const traceDir = path.join(root, 'trace');
    const rec = rewind(['record', '--no-syscallbuf', '-o', traceDir, '--', PROGRAM, '3', '1000'], { traceRoot: root });
    expect(rec.status, describeRun(rec)).toBe(0);
    const trace = TraceReader.open(traceDir);
    open.trace = trace;
    // the middle enter event of a futex: its thread waits for its turn there
    const enters: { index: number; tid: number }[] = [];
    for (let i = 0; i < trace.eventCount; i++) {
      const ev = decodeEvent(trace.record(i));
      if (ev.kind === 'enter' && ev.nr === NR_FUTEX) enters.push({ index: i, tid: ev.tid });
    }
    expect(enters.length).toBeGreaterThan(0);
    const at = enters[Math.floor(enters.length / 2)];
    const replay = await Replayer.start(trace);
    open.replay = replay;
    const out: Buffer[] = [];
    const hooks = { onOutput: (fd: number, data: Buffer) => fd === 1 && out.push(Buffer.from(data)) };
    expect(await replay.runTo(at.index + 1, hooks)).toBeUndefined();
    const threads = replay.threads();
    expect(threads.length).toBeGreaterThanOrEqual(2);
    const parked = threads.find((t) => t.recordedTid === at.tid)!;
    expect(syscallOf(parked.pid)).toBe(String(NR_FUTEX));
    const n = native();
    const tgid = threads[0].pid; // the replayed process's first thread leads it
    for (const t of threads) {
      const regs = await n.getRegs(t.pid);
      const standsIn = syscallOf(t.pid);
      expect(await n.injectSyscallInThread(t.pid, STUB_SYSCALL, NR_GETPID, [0n, 0n, 0n, 0n, 0n, 0n])).toBe(BigInt(tgid));
      const page = await n.injectSyscallInThread(t.pid, STUB_SYSCALL, NR_MMAP, [0n, 8192n, PROT_RWX, MAP_PRIVATE_ANON, 0xffffffffffffffffn, 0n]);
      expect(page > 0n && page % 4096n === 0n, `mmap in thread ${t.recordedTid}: ${page}`).toBe(true);
      expect(await n.injectSyscallInThread(t.pid, STUB_SYSCALL, NR_MUNMAP, [page, 8192n, 0n, 0n, 0n, 0n])).toBe(0n);
      expect((await n.getRegs(t.pid)).equals(regs), `thread ${t.recordedTid}'s registers`).toBe(true);
      expect(syscallOf(t.pid), `thread ${t.recordedTid} stands where it stood`).toBe(standsIn);
    }
    // not a stopped tracee of ours: refused
    await expect(n.injectSyscallInThread(process.pid, STUB_SYSCALL, NR_GETPID, [0n, 0n, 0n, 0n, 0n, 0n])).rejects.toThrow();
    const end = await replay.run(hooks);
    expect(end).toMatchObject({ kind: 'exited', code: 0 });
    expect(Buffer.concat(out).toString('utf8')).toBe(rec.stdout.toString('utf8'));
  });
});
