// forkCopy, fingerprint and the pending-signal mask of a stopped tracee (see
// process_copy.h).
#include "process_copy.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <cstdio>
#include <cstring>

#include "ptrace_ops.h"
#include "replay_files.h"
#include "replay_loop.h"
#include "thread_copy.h"
#include "tracer_thread.h"

namespace rw {

constexpr uint64_t kCloneParent = 0x8000;  // CLONE_PARENT

// A process of several threads is copied whole (thread_copy.cc), around a copy of
// its calling thread.
// The thread stands at a syscall's entry stop (the end of a recording stands at
// exit_group's).
static bool atSyscallEntry(pid_t pid) {
  struct __ptrace_syscall_info info;
  std::memset(&info, 0, sizeof info);
  return ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void*)sizeof info, &info) > 0 && info.op == PTRACE_SYSCALL_INFO_ENTRY;
}

TraceePtr forkCopy(Tracee& t, uint64_t insn, const std::map<uint64_t, uint8_t>* sw) {
  if (t.gone) throw NativeError{ESRCH, "process " + std::to_string(t.pid) + " has ended"};
  // A thread at a syscall's entry would leave it with the injected clone's step (the
  // call skipped, nothing run: "no clone event") and not be there again afterwards:
  // the copy of threads leaves the entry and goes back to it, in the original and the copy.
  if (threadIds(t.pid).size() > 1 || atSyscallEntry(t.pid)) return forkCopyThreads(t, t.pid, insn, sw).process;
  return forkCopyCaller(t, t.pid, insn, sw);
}

// A copy of the stopped tracee's thread `caller`: clone(CLONE_PARENT, no exit signal,
// so that no process sees a SIGCHLD) injected at the `syscall` instruction at
// insn. The child is auto-attached (PTRACE_O_TRACECLONE), gets the thread's
// registers and the replay session, and stays stopped. The breakpoints in `sw` are
// lifted around the fork so that the copy holds none; debug registers are not
// inherited.
TraceePtr forkCopyCaller(Tracee& t, pid_t caller, uint64_t insn, const std::map<uint64_t, uint8_t>* sw) {
  if (t.gone) throw NativeError{ESRCH, "process " + std::to_string(t.pid) + " has ended"};
  const pid_t pid = caller;
  if (sw)
    for (auto& [a, b] : *sw) t.write(a, &b, 1);
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE;
  user_regs_struct saved = getRegs(pid), r = saved;
  pid_t child = -1;
  auto restoreParent = [&] {
    setRegs(pid, saved);
    if (sw)
      for (auto& [a, b] : *sw) t.write(a, "\xcc", 1);
  };
  try {
    if (ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)opts) != 0) throw NativeError{errno, "ptrace(PTRACE_SETOPTIONS)"};
    r.rax = 56;  // clone
    r.orig_rax = uint64_t(-1);
    // flags: a new process, exit signal 0, a sibling of the original (CLONE_PARENT):
    // its parent is then the original's, this tracer for a process it started,
    // which reaps it whole when the copy is killed. A child of the original would
    // stay a zombie until the original is reaped: a debugging session's dropped
    // checkpoints piled up under the replayed process.
    r.rdi = kCloneParent;
    r.rsi = 0;  // same stack (copy-on-write)
    r.rdx = r.r10 = r.r8 = r.r9 = 0;
    r.rip = insn;
    // gdb may have left segment selectors the kernel accepts but no instruction runs
    // with (any selector with RPL 3): the clone runs in the standard 64-bit user
    // segments, and the copy gets gdb's registers back with the others
    r.cs = 0x33;  // __USER_CS
    r.ss = 0x2b;  // __USER_DS
    setRegs(pid, r);
    // a SIGSTOP still pending (an interrupt that came as the run ended) is reported
    // before the instruction runs: swallow it and step again
    Stop st;
    for (int tries = 0; tries < 4; tries++) {
      resume(pid, PTRACE_SINGLESTEP, 0);
      st = waitStop(pid);
      if (!(st.kind == Stop::kSignal && st.sig == SIGSTOP)) break;
    }
    if (st.kind != Stop::kEvent || st.event != PTRACE_EVENT_CLONE) {
      siginfo_t si;
      std::memset(&si, 0, sizeof si);
      ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si);
      char buf[160];
      std::snprintf(buf, sizeof buf, "checkpoint: no clone event (stop kind %d, signal %d, code %d, addr %p, rip 0x%llx)",
                    int(st.kind), st.sig, si.si_code, si.si_addr, (unsigned long long)getRegs(pid).rip);
      throw NativeError{EPROTO, buf};
    }
    unsigned long msg = 0;
    ptrace(PTRACE_GETEVENTMSG, pid, nullptr, &msg);
    child = pid_t(msg);
    resume(pid, PTRACE_SINGLESTEP, 0);
    st = waitStop(pid);
    if (st.kind != Stop::kSignal || st.sig != SIGTRAP)
      throw NativeError{EPROTO, "checkpoint: the clone did not return to a single-step trap"};
    Stop cs = waitStop(child);
    if (cs.kind != Stop::kSignal) throw NativeError{EPROTO, "checkpoint: the copy did not stop"};
    setRegs(child, saved);
  } catch (...) {
    if (child > 0) killTracee(child);
    restoreParent();
    throw;
  }
  restoreParent();
  TraceePtr copy = t.forkedAs(child);
  // The copy must not see the original's later stores to shared memory.
  emuUnshareWritable(child);
  return copy;
}

// A state's fingerprint: its registers (orig_rax and the trap flags left out) and
// the 64 bytes at the stack pointer. Names a point when no count can (docs/timeline.md).
constexpr size_t kFpStack = 64;
std::vector<uint8_t> fingerprint(pid_t pid) {
  user_regs_struct r = getRegs(pid);
  r.orig_rax = 0;
  r.eflags &= ~uint64_t(0x10100);  // RF, TF
  std::vector<uint8_t> fp(sizeof r + kFpStack, 0);
  std::memcpy(fp.data(), &r, sizeof r);
  readMemory(pid, r.rsp, fp.data() + sizeof r, kFpStack);
  return fp;
}


}  // namespace rw
