// The copy gdb's own code runs in (diversion.ts): the replayed process copied at its
// recorded state, every thread of it when it has made threads (process-copy.ts), and
// gdb's changes (the registers of the threads it wrote, the bytes it wrote) put into
// the copy. The copy is taken from the recorded state, not from gdb's: a thread that
// stands at a syscall's entry is copied by entering the same call again from its
// registers, which gdb's new pc would have sent elsewhere.
import { setReg } from '../arch/registers.js';
import { native, type NativeTracee } from '../native/addon.js';
import type { ReplayedProcess } from './forward.js';
import type { GdbWrites } from './inspector.js';
import { closeCopy, copyDebugged, type ProcessCopy } from './process-copy.js';

export interface DiversionCopy {
  copy: ProcessCopy;
  /** the copy's Tracee of thread `tid` (recorded tid), or undefined */
  thread(tid: number): NativeTracee | undefined;
}

/**
 * A copy of the replayed process (back at its recorded state) with gdb's writes, or
 * undefined where a process of several threads cannot be copied (it is ending).
 * `tidOf` names the thread of an original pid (undefined: the process's first).
 */
export async function divertedCopy(proc: ReplayedProcess, writes: GdbWrites, tidOf: (pid: number) => number | undefined): Promise<DiversionCopy | undefined> {
  const copy = await copyDebugged(proc.debugger, proc.threads.made);
  if (!copy) return undefined;
  const firstTid = proc.threads.firstTid;
  const thread = (tid: number): NativeTracee | undefined => (tid === firstTid ? copy.tracee : copy.threads?.get(tid));
  try {
    const n = native();
    for (const [pid, { user, x }] of writes.regs) {
      const t = thread(tidOf(pid) ?? firstTid);
      if (!t) throw new Error(`the diversion's copy has no thread for pid ${pid}`);
      const regs = Buffer.from(user);
      // as gdb does natively when it writes a pc (amd64_linux_write_pc): a thread that
      // stands in a syscall (at its entry, or interrupted in it) must not enter or
      // restart it when it resumes elsewhere
      setReg(regs, 'orig_rax', -1n);
      await n.setRegs(t.pid, regs);
      await n.setXState(t.pid, x);
    }
    const addrs = [...writes.mem.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 0; i < addrs.length;) {
      let j = i + 1;
      while (j < addrs.length && addrs[j] === addrs[j - 1] + 1n) j++;
      await copy.tracee.writeMemory(addrs[i], Buffer.from(addrs.slice(i, j).map((a) => writes.mem.get(a)!)));
      i = j;
    }
  } catch (e) {
    await closeCopy(copy);
    throw e;
  }
  return { copy, thread };
}
