// The process in-process hit counters are installed in (hit-counters.ts), as the
// replay stands between two runs (docs/timeline.md, "Counting in the process", and
// "gdb with threads"). Counters need three things of it: its memory (one for all its
// threads), syscalls run in it (the mmap and munmap of the stubs' pages), and where
// each of its threads stands (a patch must never cover the middle of an instruction
// a thread resumes at).
//
// With one thread, the syscalls are injected in the process as it stands. With
// several, they are injected in the thread the replay stands in (the one whose
// record comes next: the others are parked where the schedule left them, most at a
// syscall's entry). That thread may be parked at an entry too (its next record is
// its call's return), where a plain injection steps nowhere: the native side leaves
// the entry and goes back to it (addon/thread_inject.h). Whichever thread runs, the
// counters count every arrival at their pcs: the threads share the pages, and only
// one of them runs user code at a time in a replay, so the shared hit sequence is
// the recorded order of the hits across threads.
import { getReg } from '../arch/registers.js';
import { native, type NativeTracee } from '../native/addon.js';
import { STUB_SYSCALL } from '../replay/stub.js';
import { rangesNamedAfter } from './mapping-events.js';
import type { ReplayedProcess } from './forward.js';

const EBUSY = 16;

export interface CounterHost {
  /** the process's memory, as gdb sees it (patched CPUID sites read as CPUID) */
  readonly tracee: NativeTracee;
  /** a syscall run in the process (its result: a negative errno is the call's) */
  syscall(nr: number, args: bigint[]): Promise<bigint>;
  /** the pc of every thread of the process */
  threadPcs(): Promise<bigint[]>;
  /** ranges later events name (mapped, unmapped, moved, advised: mapping-events.ts): counter pages go elsewhere */
  readonly later: { start: bigint; end: bigint }[];
}

/** The replayed process as counters see it, or why counters cannot go in it now. */
export function counterHost(proc: ReplayedProcess): CounterHost | { refused: string } {
  const n = native();
  const tracee = proc.tracee;
  const ripOf = async (pid: number) => getReg(await n.getRegs(pid), 'rip');
  if (!proc.threads.made) {
    return {
      tracee,
      syscall: async (nr, args) => BigInt.asIntN(64, await n.injectSyscall(tracee.pid, STUB_SYSCALL, nr, args)),
      threadPcs: async () => [await ripOf(tracee.pid)],
      later: rangesNamedAfter(proc.trace, proc.next),
    };
  }
  // the first thread gone (pthread_exit in main): its zombie's /proc files show no memory
  if (proc.threads.firstEnded) return { refused: 'the first thread has ended' };
  const pids = () => proc.threads.ids().map((tid) => proc.threads.pidOf(tid, tracee));
  return {
    tracee,
    // The thread the replay stands in when the call is made (after a run, the one it
    // stopped in); one parked at a ptrace event's stop (inside a clone: a search that
    // starts at a thread's creation) refuses any injection, and then another thread
    // makes the call, since they share the memory it maps. Refused like that, the
    // counters could not go in, and the whole window trapped each hit.
    syscall: async (nr, args) => {
      const running = proc.runningPid;
      let busy: unknown;
      for (const pid of [running, ...pids().filter((p) => p !== running)]) {
        try {
          return BigInt.asIntN(64, await n.injectSyscallInThread(pid, STUB_SYSCALL, nr, args));
        } catch (e) {
          if ((e as { errno?: number }).errno !== EBUSY) throw e;
          busy ??= e;
        }
      }
      throw busy;
    },
    threadPcs: async () => Promise.all(pids().map(ripOf)),
    later: rangesNamedAfter(proc.trace, proc.next),
  };
}
