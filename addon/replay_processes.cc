// Replaying the processes a program created: see replay_processes.h.
#include "replay_processes.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>

#include "memory_io.h"
#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int kNrClone = 56, kNrFork = 57, kNrVfork = 58;
// The clone flags replay keeps: how the child shares with its parent, and its TLS.
// Not CLONE_VFORK: the recorded vfork may return to the parent (at the child's
// exec, which then completes) before the child's execve event is written, so a
// replayed parent must not wait for the child in the kernel. Without the flag
// the order of the trace keeps the parent out of user code until the child has
// exec'd or exited, as vfork did when recording: a replayed process runs only
// while its own events are replayed.
constexpr uint64_t kCloneVm = 0x100, kCloneFs = 0x200, kCloneFiles = 0x400, kCloneSighand = 0x800,
                   kCloneSettls = 0x80000;
constexpr uint64_t kKeptFlags = kCloneVm | kCloneFs | kCloneFiles | kCloneSighand | kCloneSettls;
// A thread (format 5) is made a thread again, in the same thread group; the kernel
// clears its CLONE_CHILD_CLEARTID word when it exits, as when recorded (pthread_join
// waits for that). Its tid where CLONE_PARENT_SETTID and CLONE_CHILD_SETTID put it is
// the recorded one, from the trace.
constexpr uint64_t kCloneThread = 0x10000, kCloneSysvsem = 0x40000, kCloneChildCleartid = 0x200000;
constexpr uint64_t kKeptThreadFlags = kKeptFlags | kCloneThread | kCloneSysvsem | kCloneChildCleartid;
// The replayed processes' own options (ptrace_ops.cc spawnTracee): restored after
// the call, which needs the fork events on.
constexpr long kReplayOptions = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
constexpr long kForkOptions = kReplayOptions | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;

void setOptions(pid_t pid, long opts) {
  if (ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)opts) != 0)
    throw NativeError{errno, "ptrace(PTRACE_SETOPTIONS) on replayed process " + std::to_string(pid)};
}

}  // namespace

bool isReplayChildSignal(pid_t pid, const Stop& st) {
  if (st.kind != Stop::kSignal || st.sig != SIGCHLD) return false;
  siginfo_t si;
  // The kernel's own (CLD_EXITED...): every recorded SIGCHLD is queued by replay
  // itself, with tgkill (SI_TKILL, negative).
  return ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si) == 0 && si.si_code > 0;
}

bool isForkLikeCall(int64_t nr) { return nr == kNrClone || nr == kNrFork || nr == kNrVfork; }

pid_t replayCreateChild(pid_t parent, const user_regs_struct& entry, const RecordView& ev) {
  int64_t nr = int64_t(entry.orig_rax);
  if (!isForkLikeCall(nr)) throw ReplayCloneError{"a fork-like call"};
  uint64_t recordedFlags = ev.get64(20);
  user_regs_struct r = entry;
  r.orig_rax = kNrClone;
  r.rdi = recordedFlags & (recordedFlags & kCloneThread ? kKeptThreadFlags : kKeptFlags);  // exit signal 0
  if (nr != kNrClone) r.rsi = 0;       // fork and vfork: the child runs on the parent's stack
  setRegs(parent, r);
  setOptions(parent, kForkOptions);
  resume(parent, PTRACE_SYSCALL, 0);
  Stop st = waitStop(parent);
  setOptions(parent, kReplayOptions);
  if (st.kind != Stop::kEvent ||
      (st.event != PTRACE_EVENT_FORK && st.event != PTRACE_EVENT_VFORK && st.event != PTRACE_EVENT_CLONE))
    throw ReplayCloneError{"no child was created (stop kind " + std::to_string(st.kind) + ")"};
  unsigned long msg = 0;
  ptrace(PTRACE_GETEVENTMSG, parent, nullptr, &msg);
  pid_t child = pid_t(msg);
  Stop first = waitStop(child);
  if (first.kind != Stop::kSignal || first.sig != SIGSTOP)
    throw ReplayCloneError{"the new child did not stop at its start"};
  setOptions(child, kReplayOptions);
  // The child returns from the call with the registers it was made with: the
  // program's own, not the rewritten flags and stack (glibc's vfork keeps its
  // return address in rdi).
  user_regs_struct cr = getRegs(child);
  cr.rdi = entry.rdi;
  cr.rsi = entry.rsi;
  cr.orig_rax = entry.orig_rax;
  setRegs(child, cr);
  // The bytes of the child's memory that differ from the parent's (its tid where
  // CLONE_CHILD_SETTID put it, the syscall buffer's fork guard lifted).
  uint32_t n = ev.get32(28);
  size_t at = kHeaderSize + 20;
  for (uint32_t i = 0; i < n; i++) {
    if (at + 12 > ev.n) throw NativeError{EINVAL, "clone record overruns its size"};
    uint64_t addr = ev.get64(at);
    uint32_t len = ev.get32(at + 8);
    if (at + 12 + len > ev.n) throw NativeError{EINVAL, "clone record overruns its size"};
    writeMemory(child, addr, ev.p + at + 12, len);
    at += 12 + len;
  }
  return child;
}

}  // namespace rw
