// A debug run across an asynchronous signal's point (docs/timeline.md, "Under a
// debugger"): the stretch between the thread's previous event and the point is run
// by the debugger itself, with gdb's breakpoints, watchpoints, stepping, targets and
// counts, so every position in it is reachable forwards and backwards. The point is
// the first arrival at its pc with the recorded state, judged by the same
// CandidateJudge as replay_points.cc. How arrivals at pc are seen:
//   - continue mode, nothing trapped under the filter's jump: the filter (patched over
//     pc for the run only) traps on candidates; a miss goes on invisibly;
//   - continue mode with a breakpoint under the jump: an int3 at pc, every arrival
//     judged (slow, exact);
//   - step modes: each landing at pc is judged (the code is never patched).
// The found point ends the run with reason "point" (the event not consumed), and
// "then": the stop gdb must see at the point too ("swbreak", "step") or "". JS then
// unmaps the filter's pages and has the signal delivered (src/debug/point-stretch.ts).
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>

#include <cstdio>

#include "debugger.h"
#include "replay_divergence.h"
#include "tracer_thread.h"

namespace rw {
namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

}  // namespace

void Debugger::armPoint(const RunRequest& req) {
  point = req.point;
  pointPatch = req.pointPatch;
  pointArrivals = req.pointArrivals;
  pointEvent = req.event;
  pointPatched = false;
  pointJudge.reset(point ? new CandidateJudge() : nullptr);
  if (point) sliceAt.clear();  // a copy would hold the filter's jump
}

bool Debugger::armedFor(uint8_t kind) const { return point && kind == kEvAsyncPoint && event == pointEvent; }

// The filter's jump over pc, or the program's bytes back. While the jump is in,
// the filter counts the arrivals at pc: taking it out adds them to the count.
void Debugger::setPatch(bool on) {
  if (on == pointPatched) return;
  uint64_t arrived = 0;
  if (tracee->read(pointArrivals, &arrived, 8) != 8) throw NativeError{EFAULT, "the filter's pages are not mapped"};
  if (on) pointArrivedBefore = arrived;
  else counts[point->pc] += arrived - pointArrivedBefore;
  const std::vector<uint8_t>& bytes = on ? pointPatch : point->original;
  tracee->write(point->pc, bytes.data(), bytes.size());
  pointPatched = on;
}

// The candidate test at an arrival at pc (the process's registers there).
void Debugger::judgeArrival(const char* then) {
  user_regs_struct r = regs();
  CandidateJudge::Verdict v = pointJudge->judge(pid, *point, r);
  if (v == CandidateJudge::kMiss) return;
  if (v == CandidateJudge::kFound) {
    DebugStop d = stopWith("point");
    d.info.str("then", then);
    d.info.big("pc", point->pc);
    throw d;
  }
  DebugStop d = stopWith("divergence");
  d.info.str("expected", "the asynchronous signal's point at pc " + hex(point->pc));
  d.info.str("actual", "the state at its pc cycles without matching");
  throw d;
}

// A trap of the filter (rip just after its int3): a candidate, judged as at pc.
bool Debugger::filterTrap(user_regs_struct r) {
  if (!pointPatched || r.rip != point->trapAfter) return false;
  r.rip = point->pc;
  setRegs(pid, r);
  regsCache = r;
  regsValid = true;
  try {
    judgeArrival("");
  } catch (...) {
    setPatch(false);  // the point (or the end): the program's code back, standing at pc
    throw;
  }
  r.rip = point->miss;
  setRegs(pid, r);
  regsCache = r;
  return true;
}

// The user's interrupt stopped the program inside the filter: it is stepped out to
// a state of the program (the moved instructions run, then the jump back), judging a
// candidate it passes, so gdb never sees the filter's addresses. An arrival where it
// comes out, at a trapped address, is counted (as a stop there would have been).
void Debugger::leaveFilter() {
  const uint64_t page = point->trapAfter & ~uint64_t(0xfff);
  for (int i = 0; i < 4096; i++) {
    user_regs_struct r = getRegs(pid);
    regsCache = r;
    regsValid = true;
    if ((r.rip & ~uint64_t(0xfff)) != page) {
      if (trapAt(r.rip)) counts[r.rip]++;
      return;
    }
    resume(pid, PTRACE_SINGLESTEP, 0);
    Stop st = waitStop(pid);
    if (st.kind != Stop::kSignal || st.sig != SIGTRAP) throw NativeError{EIO, "the program did not step out of the filter of the point at " + hex(point->pc)};
    regsValid = false;
    user_regs_struct at = getRegs(pid);
    if (at.rip == point->trapAfter) {
      try {
        filterTrap(at);  // a miss goes on at `miss`; the point ends the run there, as the interrupt
      } catch (DebugStop& d) {
        if (d.info.reason == "point") d.info.str("then", "interrupted");
        throw;
      }
    }
  }
  throw NativeError{EIO, "the program did not step out of the filter of the point at " + hex(point->pc)};
}

void Debugger::runToPoint(pid_t, int& sig) {
  const uint64_t pc = point->pc, len = point->original.size();
  auto notThere = [&](const Stop& st) {
    DebugStop d = stopWith("divergence");
    d.info.str("expected", "the asynchronous signal's point at pc " + hex(pc));
    d.info.str("actual", describeStop(pid, st));
    return d;
  };
  // A target in the stretch (a mark in it, a counted window's end) comes before the
  // point: the run ends there, and needs neither the filter nor the judging.
  if (targetKind != kNoTarget && targetEvent == event) {
    pointJudge.reset();
    Stop st = runUserCode(pid, sig);
    throw notThere(st);
  }
  // A resume from a state at pc (a stop named by its count in the stretch): that
  // arrival may be the point itself, which no run judged yet.
  regsValid = false;
  if (fresh && pointJudge && regs().rip == pc) judgeArrival("");
  // Under the filter's jump an int3 would not be seen (its instruction runs in the
  // filter's copy). gdb's traps there, and a target's counting there, need every
  // arrival at pc judged with an int3; the run's other silent breakpoints only count
  // arrivals, which no one asks for in this interval: they come out for the stretch.
  bool underJump = false;
  std::vector<uint64_t> lifted;
  for (auto& [a, b] : sw) {
    if (a < pc || a >= pc + len) continue;
    if (silent.count(a) && !(targetKind != kNoTarget && targetEvent == event && targetPc == a)) lifted.push_back(a);
    else underJump = true;
  }
  for (auto& sl : slots) underJump |= sl.used && sl.type == 0 && sl.addr >= pc && sl.addr < pc + len;
  // No filter for this point (its code cannot hold one): every arrival at an int3.
  underJump |= pointPatch.empty();
  // A data watchpoint could trigger inside the filter (its own reads of the loop's
  // values, or a moved instruction's write): gdb would see the filter's addresses.
  for (auto& sl : slots) underJump |= sl.used && sl.type != 0;
  for (auto& [stub, counted] : counterTraps)
    if (counted + 16 > pc && counted < pc + len)
      throw NativeError{EINVAL, "a counted run cannot cross the asynchronous signal's point at " + hex(pc) +
                                    " (a counting stub beside its pc)"};
  // The jump cannot go in where the program stands inside its window: a resume from
  // the middle (a handler returned there, after a point at the next instruction)
  // would run the jump's bytes as code; and a fresh resume standing at pc has had
  // that arrival judged above and counted at the stop (runUserCode steps over a trap
  // there as over one it already took), so under the jump it would be taken again,
  // and a lifted int3's step-over would write its byte into the jump (a run met
  // SIGILL at pc+3). Both step out of the window first. (Judging every arrival of the
  // stretch at an int3 instead took minutes: a trap per loop iteration.) With a
  // signal to deliver first, the int3 it is.
  const uint64_t at = regs().rip;
  bool stepOff = mode == kCont && !underJump && ((fresh && at == pc) || (at > pc && at < pc + len));
  if (stepOff && sig != 0) underJump = true;
  bool filter = mode == kCont && !underJump;
  std::vector<uint64_t> added;
  if (!filter && mode == kCont) added = insertSilent({pc});
  if (filter)
    for (uint64_t a : lifted) tracee->write(a, &sw[a], 1);
  auto undo = [&] {
    try {
      setPatch(false);
      if (filter)
        for (uint64_t a : lifted) tracee->write(a, "\xcc", 1);
      for (uint64_t a : added) {
        tracee->write(a, &sw[a], 1);
        sw.erase(a);
        silent.erase(a);
      }
    } catch (const NativeError&) {
    }
  };
  if (filter && stepOff) {
    // the window's instructions run unpatched, stepped, before the patch goes in; an
    // arrival at pc on the way (a loop inside the window) is judged as any other
    for (int i = 0;; i++) {
      if (i == 64) {
        undo();
        throw NativeError{EIO, "the program did not step out of the asynchronous signal's point at " + hex(pc)};
      }
      resume(pid, PTRACE_SINGLESTEP, 0);
      Stop step = waitStop(pid);
      regsValid = false;
      if (step.kind != Stop::kSignal || step.sig != SIGTRAP) {
        undo();
        throw notThere(step);
      }
      uint64_t now = regs().rip;
      if (now == pc) {
        arrive(pc);
        try {
          judgeArrival("");
        } catch (...) {
          undo();
          throw;
        }
      }
      if (now < pc || now >= pc + len) break;
    }
    fresh = false;  // out of the window: runUserCode has no stop to step over
  }
  if (filter) setPatch(true);
  Stop st;
  try {
    st = runUserCode(pid, sig);
  } catch (DebugStop& d) {
    try {
      if (d.info.reason == "interrupted" && pointPatched) leaveFilter();
    } catch (...) {
      undo();
      throw;
    }
    undo();
    throw;
  } catch (...) {
    undo();
    throw;
  }
  undo();
  throw notThere(st);
}

}  // namespace rw
