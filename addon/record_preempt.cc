// Asynchronous signals at their real arrival point, record side: see record_preempt.h.
#include "record_preempt.h"

#include <errno.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "memory_io.h"
#include "cpu_budget.h"
#include "record_buffer.h"
#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

Session& pointSession(Recording& rec, pid_t pid) {
  auto it = rec.procs.find(pid);
  // (or a thread preempted at the end of its slice, whose point is steered alike: record_slices.h)
  if (it == rec.procs.end() || !(it->second.pointSig || it->second.preempting))
    throw NativeError{EINVAL, "process " + std::to_string(pid) + " has no asynchronous signal to place"};
  return it->second;
}

// The stop that ended a run to a point was not its breakpoint: the record loop
// takes it as its next stop, and the signal goes back to being held to the next
// syscall.
void leaveToLoop(Recording& rec, pid_t pid, Session& s, int status) {
  stashStatus(pid, status);
  rec.held.erase(pid);  // stopped at the stashed stop: the loop resumes it after handling it
  pointHoldBack(rec, pid);
}

// The stop is another asynchronous signal's delivery (not a trap of ours, not a
// fault or trap the program's own instruction raised, which the loop must record).
bool otherSignalArrived(pid_t pid, int status, siginfo_t& si) {
  if (!WIFSTOPPED(status) || (status >> 16) != 0) return false;
  int sig = WSTOPSIG(status);
  if (sig == SIGTRAP || sig == SIGSTOP || sig == (SIGTRAP | 0x80)) return false;
  std::memset(&si, 0, sizeof si);
  if (ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si) != 0) return false;  // a group-stop
  switch (sig) {
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGSYS:
      return si.si_code <= 0;
  }
  return true;
}

// Another signal stopped the process on the way: the point is where it stands (an
// instruction boundary). The same standard signal merges with the one being placed,
// as two pending occurrences do natively; another one waits for the next syscall,
// as a second signal did before points.
void standAtOtherSignal(Session& s, int status, const siginfo_t& si) {
  int sig = WSTOPSIG(status);
  if (sig == s.pointSig && sig < SIGRTMIN) return;
  if (!s.deferredSig) {
    s.deferredSig = sig;
    s.deferredInfo = si;
  }
}

}  // namespace

bool asyncPointStop(Recording& rec, pid_t pid, Session& s, LoopResult& out) {
  if (!s.pointSig) return false;
  out.stop.reason = "async-signal";
  out.stop.num("signal", s.pointSig);
  static const char digits[] = "0123456789abcdef";
  std::string info;
  const uint8_t* b = reinterpret_cast<const uint8_t*>(&s.pointInfo);
  for (size_t i = 0; i < sizeof s.pointInfo; i++) info += {digits[b[i] >> 4], digits[b[i] & 15]};
  out.stop.str("siginfo", info);
  // The syscall buffers: the replay's library writes them differently (their feed
  // fields, records served from the feed), so the state hash leaves them out.
  std::vector<uint64_t> buffers = bufferRanges(rec, pid, s);
  if (!buffers.empty()) out.stop.bigs("buffer", buffers);
  return true;
}

bool pointRunTo(Recording& rec, pid_t pid, uint64_t addr, uint64_t wantRsp, uint64_t budgetTicks,
                user_regs_struct& out, bool& arrived, std::vector<uint8_t>& flushed) {
  Session& s = pointSession(rec, pid);
  // Calls the syscall buffer served on the way come before the point in the trace.
  auto flush = [&] {
    RecordWriter w(flushed);
    uint32_t count = 0;
    flushBuffer(pid, s, w, count);
  };
  arrived = true;
  // The point is where the process stands now, not the arrival asked for.
  auto standHere = [&] {
    out = getRegs(pid);
    arrived = false;
    flush();
    return true;
  };
  const uint64_t limit = processUserTicks(pid) + budgetTicks;
  int request = s.seccompMode ? PTRACE_CONT : PTRACE_SYSCALL;
  int status = 0;
  auto wait = [&] {
    while (waitpid(pid, &status, __WALL) < 0)
      if (errno != EINTR) throw NativeError{errno, "waitpid(" + std::to_string(pid) + ")"};
  };
  user_regs_struct r = getRegs(pid);
  siginfo_t other;
  if (addr == 0 || r.rip == addr) {  // one instruction on (addr 0), or the next arrival is after this one
    resume(pid, PTRACE_SINGLESTEP, 0);
    wait();
    if (otherSignalArrived(pid, status, other)) {
      standAtOtherSignal(s, status, other);
      return standHere();
    }
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
      leaveToLoop(rec, pid, s, status);
      return false;
    }
    if (addr == 0) {
      out = getRegs(pid);
      flush();
      return true;
    }
  }
  uint8_t original = 0, trap = 0xcc;
  if (readMemory(pid, addr, &original, 1) != 1) {
    pointHoldBack(rec, pid);
    return false;
  }
  for (;;) {
    writeMemory(pid, addr, &trap, 1);
    resume(pid, request, 0);
    if (!waitWithinBudget(pid, status, [&] { return processUserTicks(pid) > limit; })) {
      // Too long to the next arrival (the loop ended, say): the point is where the
      // process stands once stopped. A SIGSTOP of ours stops it; should the
      // breakpoint come first, the SIGSTOP is taken before any instruction runs.
      syscall(SYS_tkill, pid, SIGSTOP);  // pid may be a thread other than the first
      wait();
      bool atBreakpoint = WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP;
      if (WIFSTOPPED(status)) writeMemory(pid, addr, &original, 1);
      if (atBreakpoint) {
        resume(pid, PTRACE_CONT, 0);
        int bp = status;
        wait();
        if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
          leaveToLoop(rec, pid, s, status);
          return false;
        }
        status = bp;
        r = getRegs(pid);
        if (r.rip == addr + 1) {
          r.rip = addr;
          setRegs(pid, r);
        }
      } else if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP ||
                 (s.seccompMode && getRegs(pid).rip == s.untracedAfter)) {
        // Not stopped, or stopped in a buffered call that was blocked: the loop
        // takes it (our SIGSTOP is not delivered: the point's signal is held back).
        leaveToLoop(rec, pid, s, status);
        return false;
      }
      return standHere();
    }
    if (WIFSTOPPED(status)) writeMemory(pid, addr, &original, 1);
    if (otherSignalArrived(pid, status, other)) {
      standAtOtherSignal(s, status, other);
      return standHere();
    }
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP || (status >> 16) != 0) {
      leaveToLoop(rec, pid, s, status);
      return false;
    }
    r = getRegs(pid);
    if (r.rip != addr + 1) {  // a trap of the program's own (int3, a single-step flag)
      leaveToLoop(rec, pid, s, status);
      return false;
    }
    r.rip = addr;
    setRegs(pid, r);
    if (!wantRsp || r.rsp == wantRsp) break;
    resume(pid, PTRACE_SINGLESTEP, 0);  // past this arrival, which is not the caller's frame
    wait();
    if (otherSignalArrived(pid, status, other)) {
      standAtOtherSignal(s, status, other);
      return standHere();
    }
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
      leaveToLoop(rec, pid, s, status);
      return false;
    }
  }
  out = r;
  flush();
  return true;
}

void pointDeliver(Recording& rec, pid_t pid) {
  Session& s = pointSession(rec, pid);
  // The process may stand at a breakpoint's stop now (steered): the signal replaces
  // that SIGTRAP, with the siginfo it arrived with.
  siginfo_t si = s.pointInfo;
  if (ptrace(PTRACE_SETSIGINFO, pid, nullptr, &si) != 0) throw NativeError{errno, "ptrace(PTRACE_SETSIGINFO)"};
  s.pendingSig = s.pointSig;
  s.pointSig = 0;
  // Signals pending now are delivered right after it, before any instruction: the
  // loop records them as delivered there (record_signals.cc).
  s.chainArmed = true;
  s.chainPending = pendingSignals(pid);
  s.chainRegs = getRegs(pid);
}

void pointHoldBack(Recording& rec, pid_t pid) {
  Session& s = pointSession(rec, pid);
  if (!s.deferredSig) {
    s.deferredSig = s.pointSig;
    s.deferredInfo = s.pointInfo;
  }
  s.pointSig = 0;
}

}  // namespace rw
