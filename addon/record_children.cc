// The recorded program's child processes: see record_children.h.
#include "record_children.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpuid_emulation.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int kNrPrctl = 157, kPrSetTsc = 26, kPrTscEnable = 1;

// A traced child (seccomp mode) stopped: keep it running, untouched by the recording.
void serviceChild(Session& s, pid_t c, int status) {
  Stop st = decodeStatus(c, status);
  int sig = 0;
  switch (st.kind) {
    case Stop::kExited:
    case Stop::kKilled:
      s.children.erase(c);
      s.newChildren.erase(c);
      return;
    case Stop::kEvent:
      if (st.event == PTRACE_EVENT_FORK || st.event == PTRACE_EVENT_VFORK || st.event == PTRACE_EVENT_CLONE) {
        unsigned long child = 0;
        ptrace(PTRACE_GETEVENTMSG, c, nullptr, &child);
        if (child) {
          s.children.insert(pid_t(child));
          s.newChildren.insert(pid_t(child));
          // Its first stop may have been reaped before this event: serve it now.
          int early;
          if (takeStashed(pid_t(child), &early)) serviceChild(s, pid_t(child), early);
        }
      }
      break;
    case Stop::kSyscall:
      break;
    case Stop::kSignal: {
      siginfo_t si;
      if (s.newChildren.count(c) && st.sig == SIGSTOP) {
        s.newChildren.erase(c);  // the attach stop
      } else if (ptrace(PTRACE_GETSIGINFO, c, nullptr, &si) == 0) {
        sig = st.sig;
      }  // else a group-stop: resume
      break;
    }
  }
  ptrace(PTRACE_CONT, c, nullptr, (void*)(long)sig);
}

}  // namespace

double nowMs() {
  // A raw syscall: the vDSO clocks read the TSC, which traps on this thread.
  timespec t;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

void adoptForkChild(pid_t pid, pid_t child, bool sharesMemory, Session& s) {
  Stop st = waitStop(child);
  if (st.kind == Stop::kExited || st.kind == Stop::kKilled) return;
  uint64_t args[6] = {kPrSetTsc, kPrTscEnable, 0, 0, 0, 0};
  if (s.seccompMode) {
    // Its rdtsc trapping (and CPUID trapping) is turned off through the library's
    // untraced instruction.
    injectSyscall(child, s.untracedAfter - 2, kNrPrctl, args);
    cpuidReleaseChild(s.cpuid, child, sharesMemory, s.untracedAfter - 2);
    s.children.insert(child);
    ptrace(PTRACE_CONT, child, nullptr, nullptr);
    return;
  }
  // The child stands right after its fork syscall: use that instruction to turn
  // rdtsc trapping off, then let it run untraced.
  user_regs_struct r = getRegs(child);
  uint8_t insn[2] = {0, 0};
  readMemory(child, r.rip - 2, insn, 2);
  if (insn[0] == 0x0f && insn[1] == 0x05) {
    injectSyscall(child, r.rip - 2, kNrPrctl, args);
    cpuidReleaseChild(s.cpuid, child, sharesMemory, r.rip - 2);
  }
  ptrace(PTRACE_DETACH, child, nullptr, nullptr);
}

bool serveLiveChild(Session& s, pid_t c, int status) {
  if (!s.children.count(c)) return false;
  serviceChild(s, c, status);
  return true;
}

std::vector<pid_t> releaseChildren(Session& s) {
  std::vector<pid_t> released;
  for (pid_t c : s.children) {
    // A SIGSTOP of its own stops it as soon as it leaves the next ptrace-stop, so
    // that it makes no syscall (ENOSYS without a tracer) until the helper holds it.
    kill(c, SIGSTOP);
    for (;;) {
      int status;
      if (!takeStashed(c, &status) && waitpid(c, &status, __WALL) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      Stop st = decodeStatus(c, status);
      if (st.kind == Stop::kExited || st.kind == Stop::kKilled) break;
      // A signal-delivery stop hands its signal on (SIGSTOP itself included).
      siginfo_t si;
      int sig = st.kind == Stop::kSignal && ptrace(PTRACE_GETSIGINFO, c, nullptr, &si) == 0 ? st.sig : 0;
      if (ptrace(PTRACE_DETACH, c, nullptr, (void*)(long)sig) == 0) released.push_back(c);
      break;
    }
  }
  s.children.clear();
  s.newChildren.clear();
  return released;
}

}  // namespace rw
