// Checkpoints of a multi-threaded process (addon/thread_copy.cc, docs/timeline.md
// "Checkpoints of threads"), on a live program: tests/programs/threadcopy.c runs four
// threads, each stopped at an int3 halfway through its own loop on its own TLS. The
// process is copied whole with forkThreads; every copy and the original then run to
// their ends and must print what a native run prints (each thread's results, and
// its own checks that its vector registers, TLS, name, signal mask, sigaltstack,
// robust list and clear-tid address are what they were before the stop; main's
// pthread_join of each worker waits on that clear-tid address). Each copy's
// threads start with their originals' registers and XSAVE state.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native, type NativeTracee, type ThreadCopy } from '../../src/native/addon.js';
import { programPath, tempDir } from '../helpers.js';

const SIGTRAP = 5;
const SIGSTOP = 19;
const PTRACE_EVENT_CLONE = 3;
const THREADS = 4;
const SYS_FUTEX = 202;
const SYS_RT_SIGTIMEDWAIT = 128;
const RESTART_CODES = [-512n, -513n, -514n, -516n]; // ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK

const program = programPath('threadcopy');
const n = native();
/** Every process the tests made (originals and copies): closed (killed) at the end whatever happened. */
const processes: NativeTracee[] = [];

function threadsOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
}

function sorted(xs: number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** A thread's state letter (R, S, t, Z...), or undefined when it is gone. */
function stateOf(tid: number): string | undefined {
  if (!existsSync(`/proc/${tid}`)) return undefined;
  return /State:\s+(\S)/.exec(readFileSync(`/proc/${tid}/status`, 'utf8'))?.[1];
}

/** The syscall a stopped thread stands in (its number), or -1 (/proc/TID/syscall). */
function syscallOf(tid: number): string {
  return readFileSync(`/proc/${tid}/syscall`, 'utf8').split(' ')[0].trim();
}

/** The children of the given threads (a copy is a child of the original's parent: this process's tracer thread). */
function childrenOf(tids: number[]): number[] {
  return sorted(tids.flatMap((t) => readFileSync(`/proc/${t}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number)));
}

/** A line of /proc/TID/status (SigBlk: blocked signals, SigPnd: the thread's pending, ShdPnd: the process's). */
function statusLine(tid: number, field: string): string {
  const line = readFileSync(`/proc/${tid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/${tid}/status`);
  return line;
}

const SIGUSR2 = 12;

/** Whether signal sig is in a /proc mask line. */
function hasSignal(line: string, sig: number): boolean {
  return ((BigInt(`0x${line.split(/\s+/)[1]}`) >> BigInt(sig - 1)) & 1n) === 1n;
}

/** Where the program's `syscall` instruction is in the process (a PIE: its load base plus nm's offset). */
function syscallInsn(pid: number): bigint {
  const nm = spawnSync('nm', [program], { encoding: 'utf8' });
  if (nm.status !== 0) throw new Error(`nm ${program} failed (binutils is needed): ${nm.stderr}`);
  const sym = nm.stdout.split('\n').find((l) => l.endsWith(' rw_syscall_insn'));
  if (!sym) throw new Error(`no rw_syscall_insn in ${program}`);
  const file = realpathSync(program);
  const first = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .find((l) => l.endsWith(` ${file}`));
  if (!first) throw new Error(`${file} is not mapped in ${pid}`);
  return BigInt(`0x${first.split('-')[0]}`) + BigInt(`0x${sym.split(' ')[0]}`);
}

interface Original {
  tracee: NativeTracee;
  leader: number;
  /** the leader (main) first, then the workers in creation order */
  tids: number[];
  insn: bigint;
  /** the program's thread 1, for which a SIGUSR2 waits at the copy point */
  thread1: number;
}

/**
 * The program under ptrace with every thread traced from its birth, run until each
 * of its four threads stands at its int3: main first, then each worker in turn (a
 * worker's first stop, before any of its code, is its auto-attach SIGSTOP).
 */
async function startStopped(out: number): Promise<Original> {
  const { tracee, leader, tids } = await startWithWorkers(out, [], THREADS - 1);
  expect(await n.resumeAndWait(leader, 'cont', 0)).toMatchObject({ kind: 'signal', signal: SIGTRAP });
  for (const t of tids.slice(1)) expect(await n.resumeAndWait(t, 'cont', 0)).toMatchObject({ kind: 'signal', signal: SIGTRAP });
  expect(threadsOf(leader)).toEqual(sorted(tids));
  return { tracee, leader, tids, insn: syscallInsn(leader), thread1: tids[1] };
}

/**
 * The program ("join": four workers compute, main joins them) with each worker at
 * its int3 and main stopped by a SIGSTOP inside the futex wait of its
 * pthread_join, interrupted (rax holds a restart code, orig_rax the futex call).
 */
async function startJoining(out: number): Promise<Original> {
  const { tracee, leader, tids } = await startWithWorkers(out, ['join'], THREADS);
  await n.resume(leader, 'cont', 0);
  for (const t of tids.slice(1)) expect(await n.resumeAndWait(t, 'cont', 0)).toMatchObject({ kind: 'signal', signal: SIGTRAP });
  // main reaches its wait by itself (the first worker it joins is stopped): wait
  // for that, not for a time
  while (readFileSync(`/proc/${leader}/syscall`, 'utf8').split(' ')[0] !== String(SYS_FUTEX))
    await new Promise((resolve) => setTimeout(resolve, 5));
  process.kill(leader, 'SIGSTOP');
  expect(await n.waitStop(leader)).toMatchObject({ kind: 'signal', signal: SIGSTOP });
  return { tracee, leader, tids, insn: syscallInsn(leader), thread1: tids[2] };
}

/** The program under ptrace, every thread traced from birth; main stopped after making `workers` threads, each stopped before its first instruction. */
async function startWithWorkers(
  out: number,
  args: string[],
  workers: number,
): Promise<{ tracee: NativeTracee; leader: number; tids: number[] }> {
  const devnull = openSync('/dev/null', 'r');
  let leader: number;
  try {
    leader = await n.spawn({ path: program, argv: [program, ...args], envp: [], trapTsc: false, traceForks: true, stdio: [devnull, out, out] });
  } finally {
    closeSync(devnull);
  }
  const tracee = new n.Tracee(leader);
  processes.push(tracee);
  const tids = [leader];
  for (let i = 0; i < workers; i++) {
    expect(await n.resumeAndWait(leader, 'cont', 0)).toMatchObject({ kind: 'event', event: PTRACE_EVENT_CLONE });
    const fresh = threadsOf(leader).filter((t) => !tids.includes(t));
    expect(fresh).toHaveLength(1);
    expect(await n.waitStop(fresh[0])).toMatchObject({ kind: 'signal', signal: SIGSTOP });
    tids.push(fresh[0]);
  }
  return { tracee, leader, tids };
}

interface Copied {
  tracee: NativeTracee;
  pairs: ThreadCopy[];
}

/** A copy of process `of` forked in its thread `caller`, checked to be one process of stopped threads. */
async function copy(of: NativeTracee, caller: number, insn: bigint, originals: number[]): Promise<Copied> {
  const { tracee, threads: pairs } = await n.forkThreads(of, caller, insn);
  processes.push(tracee);
  expect(tracee.pid).toBe(pairs[0].copy);
  expect(pairs[0].original).toBe(caller);
  expect(sorted(pairs.map((p) => p.original))).toEqual(sorted(originals));
  expect(threadsOf(tracee.pid)).toEqual(sorted(pairs.map((p) => p.copy)));
  for (const p of pairs) expect(originals).not.toContain(p.copy);
  return { tracee, pairs };
}

/**
 * Runs every thread of process `pid` to its end: all set going, then each waited
 * for, a signal it stops for delivered. Thread 1 first: it stops at once for the
 * SIGUSR2 waiting for it, which nothing else may wait behind (main joins it). Then
 * the other workers (they end by themselves), main (it joins them), and the
 * process's own pid last (a leader's end is reported only after its other threads
 * are reaped).
 */
async function runToEnd(pid: number, tids: number[], main: number, thread1: number): Promise<void> {
  for (const t of tids) await n.resume(t, 'cont', 0);
  expect(await n.waitStop(thread1), `thread ${thread1}'s SIGUSR2`).toMatchObject({ kind: 'signal', signal: SIGUSR2 });
  await n.resume(thread1, 'cont', SIGUSR2);
  const order = [...tids.filter((t) => t !== pid && t !== main), ...(main !== pid ? [main] : []), pid];
  for (const t of order) expect(await n.waitStop(t), `the end of thread ${t}`).toMatchObject({ kind: 'exited', code: 0 });
}

/** runToEnd for a copy of `original`: the copies of its main thread and thread 1. */
async function runCopyToEnd(pairs: ThreadCopy[], original: { leader: number; thread1: number }): Promise<void> {
  const copyOf = (t: number): number => pairs.find((p) => p.original === t)!.copy;
  await runToEnd(pairs[0].copy, pairs.map((p) => p.copy), copyOf(original.leader), copyOf(original.thread1));
}

/** What each process printed, in the order they ran (each writes its lines at its exit, in one write). */
function blocks(file: string, expected: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (let at = 0; at < text.length; at += expected.length) out.push(text.slice(at, at + expected.length));
  return out;
}

describe('checkpoints of a multi-threaded process (forkThreads)', () => {
  let expected: string;

  beforeAll(() => {
    const r = spawnSync(program, ['native'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expected = r.stdout;
    expect(expected.split('\n').filter((l) => l.startsWith('t'))).toHaveLength(THREADS);
    expect(expected).not.toContain('BAD');
  });

  afterAll(async () => {
    for (const t of processes) if (!t.closed) await t.close();
  });

  function outputFile(): { file: string; fd: number } {
    const file = path.join(tempDir('rewind-thread-copy-'), 'out');
    return { file, fd: openSync(file, 'w') };
  }

  it("gives each copied thread its original's registers, and the copy ends as a native run does", async () => {
    const { file, fd } = outputFile();
    const o = await startStopped(fd);
    const regs = new Map<number, Buffer>();
    const xstate = new Map<number, Buffer>();
    for (const t of o.tids) {
      regs.set(t, await n.getRegs(t));
      xstate.set(t, await n.getXState(t));
    }
    // thread 1 has a SIGUSR2 waiting (not blocked), each thread two values of its own
    // realtime signal (blocked), the process one of its own
    expect(hasSignal(statusLine(o.tids[1], 'SigPnd'), SIGUSR2)).toBe(true);
    expect(hasSignal(statusLine(o.tids[1], 'SigBlk'), SIGUSR2)).toBe(false);
    expect(statusLine(o.leader, 'ShdPnd')).not.toBe('ShdPnd:\t0000000000000000');
    const { pairs } = await copy(o.tracee, o.leader, o.insn, o.tids);
    for (const { original, copy: c } of pairs) {
      expect(await n.getRegs(c), `registers of ${c}, the copy of ${original}`).toEqual(regs.get(original));
      expect(await n.getXState(c), `XSAVE area of ${c}, the copy of ${original}`).toEqual(xstate.get(original));
      for (const field of ['SigBlk', 'SigPnd', 'ShdPnd']) expect(statusLine(c, field)).toBe(statusLine(original, field));
      // the original is as it was
      expect(await n.getRegs(original)).toEqual(regs.get(original));
      expect(await n.getXState(original)).toEqual(xstate.get(original));
    }
    // the registers differ between the threads (each has its own TLS base): a copy
    // that gave every thread one thread's registers would have failed above
    expect(new Set(o.tids.map((t) => regs.get(t)!.readBigUInt64LE(21 * 8))).size).toBe(THREADS);

    await runCopyToEnd(pairs, o);
    await runToEnd(o.leader, o.tids, o.leader, o.thread1);
    closeSync(fd);
    expect(blocks(file, expected)).toEqual([expected, expected]);
  });

  it('copies twice, copies a copy, and copies from a worker thread: all end as a native run does', async () => {
    const { file, fd } = outputFile();
    const o = await startStopped(fd);
    const firstCopy = await copy(o.tracee, o.leader, o.insn, o.tids);
    const first = firstCopy.pairs;
    const second = (await copy(o.tracee, o.leader, o.insn, o.tids)).pairs;
    const ofCopy = (await copy(firstCopy.tracee, first[0].copy, o.insn, first.map((p) => p.copy))).pairs;
    // a worker's copy leads this one; main's copy is one of its other threads. The
    // worker is thread 1, with a signal waiting that the injected fork must not take
    const fromWorker = (await copy(o.tracee, o.tids[1], o.insn, o.tids)).pairs;
    expect(fromWorker.find((p) => p.original === o.leader)!.copy).not.toBe(fromWorker[0].copy);

    for (const pairs of [first, second, fromWorker]) await runCopyToEnd(pairs, o);
    const copyOf = (t: number): number => first.find((p) => p.original === t)!.copy;
    await runCopyToEnd(ofCopy, { leader: copyOf(o.leader), thread1: copyOf(o.thread1) });
    await runToEnd(o.leader, o.tids, o.leader, o.thread1);
    closeSync(fd);
    expect(blocks(file, expected)).toEqual([expected, expected, expected, expected, expected]);
  });

  it('copies a thread stopped inside a blocking syscall: in the copy the call starts again', async () => {
    const { file, fd } = outputFile();
    const o = await startJoining(fd);
    const main = await n.getRegs(o.leader);
    expect(main.readBigInt64LE(15 * 8)).toBe(BigInt(SYS_FUTEX)); // orig_rax
    expect(RESTART_CODES).toContain(main.readBigInt64LE(10 * 8)); // rax
    const regs = new Map<number, Buffer>();
    for (const t of o.tids) regs.set(t, await n.getRegs(t));
    // copied from a worker, so that main's copy is a cloned thread, not the forked one
    const { pairs } = await copy(o.tracee, o.tids[1], o.insn, o.tids);
    for (const { original, copy: c } of pairs) expect(await n.getRegs(c)).toEqual(regs.get(original));
    await runCopyToEnd(pairs, o);
    await runToEnd(o.leader, o.tids, o.leader, o.thread1);
    closeSync(fd);
    expect(blocks(file, expected)).toEqual([expected, expected]);
  });

  it('kills every thread of a copy with it, and leaves the original as it was', async () => {
    const { file, fd } = outputFile();
    const o = await startStopped(fd);
    const { tracee, pairs } = await copy(o.tracee, o.leader, o.insn, o.tids);
    for (const p of pairs) expect(existsSync(`/proc/${p.copy}`)).toBe(true);
    await tracee.close();
    // every thread is reaped, the leader too: a copy is the original's sibling
    // (CLONE_PARENT), a child of this process, which reaps it whole
    for (const p of pairs) expect(existsSync(`/proc/${p.copy}`), `thread ${p.copy} of the killed copy`).toBe(false);
    await expect(n.forkThreads(tracee, pairs[0].copy, o.insn)).rejects.toMatchObject({ code: 'EDISPOSED' });
    await expect(n.forkReplayed(tracee, o.insn)).rejects.toMatchObject({ code: 'EDISPOSED' });
    await runToEnd(o.leader, o.tids, o.leader, o.thread1);
    closeSync(fd);
    expect(blocks(file, expected)).toEqual([expected]);
  });

  it('copies threads stopped at a syscall entry and exit; refuses one it cannot copy, changing nothing', async () => {
    const { file, fd } = outputFile();
    const o = await startStopped(fd);
    const refused = async (copying: () => Promise<unknown>, message: RegExp): Promise<void> => {
      const regs = await Promise.all(o.tids.map((t) => n.getRegs(t)));
      const calls = o.tids.map(syscallOf);
      const ours = threadsOf(process.pid);
      const children = childrenOf([...o.tids, ...ours]);
      await expect(copying()).rejects.toThrow(message);
      expect(await Promise.all(o.tids.map((t) => n.getRegs(t)))).toEqual(regs);
      expect(o.tids.map(syscallOf)).toEqual(calls);
      expect(childrenOf([...o.tids, ...ours])).toEqual(children);
      expect(threadsOf(o.leader)).toEqual(sorted(o.tids));
    };
    // a worker goes on to its next syscall's entry (its end-of-run checks begin with
    // sigtimedwait)
    const worker = o.tids[2];
    expect(await n.resumeAndWait(worker, 'syscall', 0)).toMatchObject({ kind: 'syscall' });
    expect(syscallOf(worker)).toBe(String(SYS_RT_SIGTIMEDWAIT));
    await refused(() => n.forkThreads(o.tracee, 0x3fffffff, o.insn), /not a thread of process/);
    // a replay's copy wants every thread's replay: these threads have none
    await refused(() => n.forkReplayed(o.tracee, o.insn), /thread \d+ has no Tracee in its replay/);
    // arguments of the wrong kind are refused at the call, before any work
    expect(() => n.forkThreads(o.leader as never, o.leader, o.insn)).toThrow(/usage: forkThreads/);
    expect(() => n.forkThreads(o.tracee, o.leader, 0 as never)).toThrow(/usage: forkThreads/);
    expect(() => n.forkReplayed(o.leader as never, o.insn)).toThrow(/usage: forkReplayed/);
    expect(() => n.resume(o.leader, 'run' as never, 0)).toThrow(/usage: resume/);
    expect(() => n.waitStop(-1)).toThrow(/usage: waitStop/);
    // a thread whose stack pointer points nowhere: the threads captured before it
    // (the leader first) get their registers and memory back, the worker its entry
    const last = o.tids[THREADS - 1];
    const saved = await n.getRegs(last);
    const bad = Buffer.from(saved);
    bad.writeBigUInt64LE(0x1000n, 19 * 8); // rsp
    await n.setRegs(last, bad);
    await refused(() => n.forkThreads(o.tracee, o.leader, o.insn), /stack is not readable/);
    await n.setRegs(last, saved);

    // copied in the worker at its entry: its copy leads the copy, at the entry of the
    // same call with the same registers, and the worker is there still
    const regs = await n.getRegs(worker);
    const atEntry = await copy(o.tracee, worker, o.insn, o.tids);
    expect(syscallOf(atEntry.tracee.pid)).toBe(String(SYS_RT_SIGTIMEDWAIT));
    expect(await n.getRegs(atEntry.tracee.pid)).toEqual(regs);
    expect(syscallOf(worker)).toBe(String(SYS_RT_SIGTIMEDWAIT));
    expect(await n.getRegs(worker)).toEqual(regs);
    // and copied at the call's exit
    expect(await n.resumeAndWait(worker, 'syscall', 0)).toMatchObject({ kind: 'syscall' });
    const atExit = await copy(o.tracee, o.leader, o.insn, o.tids);
    for (const c of [atEntry, atExit]) await runCopyToEnd(c.pairs, o);
    await runToEnd(o.leader, o.tids, o.leader, o.thread1);
    closeSync(fd);
    expect(blocks(file, expected)).toEqual([expected, expected, expected]);
  });
});
