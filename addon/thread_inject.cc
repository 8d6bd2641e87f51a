// Syscalls injected into one stopped thread of a process of several threads
// (thread_inject.h). The engine maps and unmaps the pages of its in-process hit
// counters (src/debug/hit-counters.ts) by syscalls injected into the thread the
// replay stands in; in a threaded replay that thread may be parked at a syscall's
// entry stop, where injectSyscall alone would step nowhere and read the call's
// number back as its result. Here the thread is first taken out of the entry stop
// and put back afterwards, as the copies of threads do (thread_copy.cc), and a
// signal-delivery stop keeps its siginfo.
#include "thread_inject.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

[[noreturn]] void fail(pid_t tid, int err, const std::string& what) {
  throw NativeError{err, "thread " + std::to_string(tid) + ": " + what};
}

uint64_t sigmaskOf(pid_t tid) {
  uint64_t mask = 0;
  if (ptrace(PTRACE_GETSIGMASK, tid, (void*)sizeof mask, &mask) != 0) fail(tid, errno, "ptrace(PTRACE_GETSIGMASK)");
  return mask;
}

// The registers that run the `syscall` instruction before the entry stop again.
user_regs_struct beforeSyscall(const user_regs_struct& atEntry) {
  user_regs_struct r = atEntry;
  r.orig_rax = uint64_t(-1);
  r.rax = atEntry.orig_rax;
  r.rip = atEntry.rip - 2;  // `syscall` (0f 05) is two bytes
  return r;
}

}  // namespace

bool signalWaiting(pid_t tid, uint64_t blocked) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", int(tid));
  FILE* f = std::fopen(path, "r");
  if (!f) return false;
  char line[256];
  unsigned long long pending = 0, mask = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "SigPnd: %llx", &mask) == 1 || std::sscanf(line, "ShdPnd: %llx", &mask) == 1) pending |= mask;
  std::fclose(f);
  return (pending & ~blocked) != 0;
}

void setSigmask(pid_t tid, uint64_t mask) {
  if (ptrace(PTRACE_SETSIGMASK, tid, (void*)sizeof mask, &mask) != 0) fail(tid, errno, "ptrace(PTRACE_SETSIGMASK)");
}

SignalHold::SignalHold(pid_t tid, uint64_t mask) : tid_(tid), mask_(mask), held_(signalWaiting(tid, mask)) {
  if (held_) setSigmask(tid, ~uint64_t(0));
}

SignalHold::~SignalHold() {
  if (!held_) return;
  held_ = false;
  ptrace(PTRACE_SETSIGMASK, tid_, (void*)sizeof mask_, &mask_);  // best effort: an error is on its way already
}

void SignalHold::release() {
  if (!held_) return;
  held_ = false;
  setSigmask(tid_, mask_);
}

void leaveEntry(pid_t tid, const user_regs_struct& atEntry) {
  user_regs_struct r = beforeSyscall(atEntry);
  SignalHold hold(tid, sigmaskOf(tid));
  setRegs(tid, r);
  resume(tid, PTRACE_SINGLESTEP, 0);
  Stop st = waitStop(tid);
  hold.release();
  if (st.kind != Stop::kSignal || st.sig != SIGTRAP) fail(tid, EPROTO, "it did not leave its syscall's entry for a trap");
  setRegs(tid, r);
}

void returnToEntry(pid_t tid, const user_regs_struct& atEntry) {
  user_regs_struct r = beforeSyscall(atEntry);
  SignalHold hold(tid, sigmaskOf(tid));
  setRegs(tid, r);
  Stop st;
  // a seccomp filter that traces the call stops it before its entry stop
  for (int tries = 0; tries < 3; tries++) {
    resume(tid, PTRACE_SYSCALL, 0);
    st = waitStop(tid);
    if (!(st.kind == Stop::kEvent && st.event == PTRACE_EVENT_SECCOMP)) break;
  }
  hold.release();
  if (st.kind != Stop::kSyscall) fail(tid, EPROTO, "it did not come back to its syscall's entry");
  setRegs(tid, atEntry);
}

int64_t injectSyscallInThread(pid_t tid, uint64_t insn, int64_t nr, const uint64_t args[6]) {
  struct __ptrace_syscall_info info;
  std::memset(&info, 0, sizeof info);
  if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void*)sizeof info, &info) <= 0) fail(tid, errno, "PTRACE_GET_SYSCALL_INFO");
  if (info.op == PTRACE_SYSCALL_INFO_SECCOMP) fail(tid, EBUSY, "it is stopped at a seccomp stop");
  bool atEntry = info.op == PTRACE_SYSCALL_INFO_ENTRY;
  siginfo_t si;
  bool hadInfo = ptrace(PTRACE_GETSIGINFO, tid, nullptr, &si) == 0;
  // a ptrace event's stop (PTRACE_EVENT_CLONE, EXEC...) stands inside its call: a
  // step from there would finish the call first
  if (!atEntry && info.op == PTRACE_SYSCALL_INFO_NONE && hadInfo && si.si_signo == SIGTRAP && (si.si_code >> 8) != 0)
    fail(tid, EBUSY, "it is stopped at a ptrace event (inside a clone or an exec)");
  user_regs_struct saved = getRegs(tid);
  if (atEntry) leaveEntry(tid, saved);
  SignalHold hold(tid, sigmaskOf(tid));  // the injection's single step would take a waiting signal
  int64_t r;
  try {
    r = injectSyscall(tid, insn, nr, args);
  } catch (...) {
    try {
      hold.release();
      if (atEntry) returnToEntry(tid, saved);
      else setRegs(tid, saved);
    } catch (...) {
    }
    throw;
  }
  hold.release();
  if (atEntry) returnToEntry(tid, saved);
  else if (hadInfo) ptrace(PTRACE_SETSIGINFO, tid, nullptr, &si);
  return r;
}

}  // namespace rw
