// Reaching a point named by its state in a replay: see replay_points.h.
#include "replay_points.h"

#include <errno.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "memory_io.h"
#include "replay_divergence.h"
#include "cpu_budget.h"
#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr uint64_t kTrapFlags = 0x10100;  // TF, RF: the tracer's, not the program's
constexpr uint64_t kArithmeticFlags = 0x8d5;  // OF SF ZF AF PF CF

// The CPU time a search has used: the program's, and the tracer's own (hashing
// candidates: where the name is weak, arrivals with the recorded registers and loop
// values come often and cost the tracer far more than the program).
struct SearchClock {
  pid_t pid;
  uint64_t program0, tracer0;
  explicit SearchClock(pid_t p) : pid(p), program0(processUserTicks(p)), tracer0(callingThreadTicks()) {}
  uint64_t used() const { return processUserTicks(pid) - program0 + callingThreadTicks() - tracer0; }
};

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

}  // namespace

user_regs_struct pointComparable(user_regs_struct r) {
  r.orig_rax = 0;
  r.eflags &= ~kTrapFlags;
  return r;
}

CandidateJudge::Verdict CandidateJudge::judge(pid_t pid, const PointSearch& p, const user_regs_struct& atPc) {
  const user_regs_struct want = pointComparable(p.regs);
  const user_regs_struct got = pointComparable(atPc);
  if (std::memcmp(&want, &got, sizeof want) != 0) return kMiss;
  StateHash h = stateHash(pid, p.excluded);
  if (h == p.hash) return kFound;
  // The same registers and state again: the loop is periodic at this pc and can
  // never reach the recorded state (the spin on a flag that nothing sets).
  return rejected_.insert({h.low, h.high}).second ? kMiss : kCycles;
}

PointFound reachPoint(Tracee& t, const PointSearch& p) {
  const pid_t pid = t.pid;
  PointFound out;
  CandidateJudge judge;
  auto restoreCode = [&] {
    if (!p.original.empty()) t.write(p.pc, p.original.data(), p.original.size());
  };
  // The signal the replay loop would deliver on its next resume (a recorded signal
  // just before the point) goes with the search's first resume.
  int sig = t.replay.pendingSig;
  siginfo_t info = t.replay.pendingInfo;
  t.replay.pendingSig = 0;
  if (sig) ptrace(PTRACE_SETSIGINFO, pid, nullptr, &info);
  SearchClock clock(pid);
  const std::string overBudget = "no arrival with the recorded state within the CPU-time budget";
  for (;;) {
    if (clock.used() > p.budgetTicks) {  // stopped at a rejected candidate
      restoreCode();
      out.why = overBudget;
      return out;
    }
    resume(pid, PTRACE_SYSCALL, sig);
    sig = 0;
    int status = 0;
    // Only CPU time counts, never the wall clock: a loaded machine slows the search
    // but does not end it.
    if (!waitWithinBudget(pid, status, [&] { return clock.used() > p.budgetTicks; })) {
      // Stopped where it is, so that the caller can look at it (or kill it).
      kill(pid, SIGSTOP);
      waitpid(pid, &status, __WALL);
      restoreCode();
      out.why = overBudget;
      return out;
    }
    Stop st = decodeStatus(pid, status);
    if (st.kind == Stop::kExited || st.kind == Stop::kKilled) {
      t.ended();
      out.why = "the program ended before it";
      return out;
    }
    if (st.kind == Stop::kSyscall) {
      restoreCode();
      out.why = "the program made a syscall before it (" + std::to_string(int64_t(getRegs(pid).orig_rax)) + ")";
      return out;
    }
    if (st.kind != Stop::kSignal) continue;  // an event stop: nothing to deliver
    user_regs_struct r = getRegs(pid);
    if (st.sig != SIGTRAP || r.rip != p.trapAfter) {
      restoreCode();
      out.why = "signal " + std::to_string(st.sig) + " at " + hex(r.rip) + " came before it";
      return out;
    }
    out.candidates++;
    r.rip = p.pc;
    // Dead flags (src/points/dead-flags.ts): the code from pc on writes them all
    // before it reads one, so the recorded ones are as good as the program's.
    if (p.flagsDead) r.eflags = (r.eflags & ~kArithmeticFlags) | (p.regs.eflags & kArithmeticFlags);
    CandidateJudge::Verdict v = judge.judge(pid, p, r);
    if (v != CandidateJudge::kMiss) {
      restoreCode();
      setRegs(pid, r);
      out.found = v == CandidateJudge::kFound;
      if (!out.found) out.why = "the state at its pc cycles without matching (after " + std::to_string(out.candidates) + " candidates)";
      return out;
    }
    if (p.miss) {
      r.rip = p.miss;
      setRegs(pid, r);
      continue;
    }
    // No filter (an int3 at pc): the program's instruction runs, stepped, and the
    // int3 goes back in behind it.
    setRegs(pid, r);
    t.write(p.pc, p.original.data(), p.original.size());
    resume(pid, PTRACE_SINGLESTEP, 0);
    Stop step = waitStop(pid);
    if (step.kind == Stop::kExited || step.kind == Stop::kKilled) {
      t.ended();
      out.why = "the program ended before it";
      return out;
    }
    if (step.kind != Stop::kSignal || step.sig != SIGTRAP) {
      out.why = "a step from its pc stopped with " + describeStop(pid, step) + " before it";
      return out;
    }
    static const uint8_t kInt3 = 0xcc;
    t.write(p.pc, &kInt3, 1);
  }
}

}  // namespace rw
