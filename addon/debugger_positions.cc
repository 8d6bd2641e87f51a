// Positions (docs/timeline.md): the Debugger counts arrivals at the addresses it
// traps, per interval between two events, so that any stop can be named again as
// "the n-th arrival at pc in interval e" and reached by a later run (a target).
// Here: the counters and their exactness, targets, the search's record of the last
// trap, and the stop report JS decodes (src/native/stop-report.ts).
#include <cstring>

#include "debugger.h"
#include "process_copy.h"
#include "tracer_thread.h"

namespace rw {

DebugStop stopWith(const char* reason) {
  DebugStop d;
  d.info.reason = reason;
  return d;
}

user_regs_struct Debugger::regs() {
  if (!regsValid) {
    regsCache = getRegs(pid);
    regsValid = true;
  }
  return regsCache;
}

// The process stands at the start of interval `event`: arrival 1 at its pc, every
// count exact, and the instruction here is not trapped on again.
void Debugger::resetBoundary() {
  // a thread of a process whose threads are dying (an exit_group, a fatal signal) has
  // no registers left to read: no position is named there
  if (cur->replay.exiting) {
    counts.clear();
    allExact = false;
    exact.clear();
    watchHits = 0;
    skipAt = kNone;
    boundaryPending = false;
    return;
  }
  uint64_t pc = getRegs(pid).rip;
  counts.clear();
  counts[pc] = 1;
  allExact = true;
  exact.clear();
  watchHits = 0;
  skipAt = pc;
  boundaryPending = true;
}

void Debugger::setPosition(uint32_t ev, bool boundary, uint64_t pc, uint64_t n) {
  event = ev;
  if (boundary) {
    resetBoundary();
    boundaryPending = false;
  } else {
    counts.clear();
    exact.clear();
    allExact = false;
    watchHits = 0;
    if (n) {
      counts[pc] = n;
      exact.insert(pc);
    }
  }
}

// Continue mode sees only arrivals at breakpoints: from here on only their counts
// stay exact.
void Debugger::enterContinue() {
  std::set<uint64_t> trapped;
  for (auto& [a, b] : sw) trapped.insert(a);
  for (auto& sl : slots)
    if (sl.used && sl.type == 0) trapped.insert(sl.addr);
  if (pointPatched) trapped.insert(point->pc);  // the filter counts its arrivals (debugger_point.cc)
  if (allExact) exact = trapped;
  else {
    std::set<uint64_t> keep;
    for (uint64_t a : exact)
      if (trapped.count(a)) keep.insert(a);
    exact.swap(keep);
  }
  allExact = false;
}

void Debugger::targetReached(uint64_t pc) {
  DebugStop d = stopWith("target");
  d.info.big("pc", pc);
  throw d;
}

bool Debugger::fpMatches() {
  std::vector<uint8_t> fp = fingerprint(pid);
  return fp.size() == targetFp.size() && std::memcmp(fp.data(), targetFp.data(), fp.size()) == 0;
}

// One more arrival at pc; ends the run when it is the target.
void Debugger::arrive(uint64_t pc) {
  uint64_t c = ++counts[pc];
  if (event != targetEvent || pc != targetPc) return;
  if ((targetKind == kTargetArrival && c == targetN) || (targetKind == kTargetFingerprint && fpMatches()))
    targetReached(pc);
}

void Debugger::record(const char* reason, uint64_t pc, int slot) {
  last.have = true;
  last.event = event;
  last.reason = reason;
  last.pc = pc;
  last.n = counts[pc];
  last.exact = isExact(pc);
  last.watchN = watchHits;
  last.slot = slot;
  last.seq = ++hitSeq;
  last.steps = steps;
  last.order = counterSeq ? takeCounterSeq() : 0;
}

// Every stop reports where the process stands (and a search the last trap it passed).
void Debugger::describe(StopInfo& info) {
  info.num("event", event);
  info.num("thread", cur->replay.recordedTid);  // the thread the run stopped in (debugger_threads.cc)
  info.num("steps", double(steps));
  info.num("watchHits", double(watchHits));
  info.num("ranNs", double(ranNs));
  try {
    uint64_t pc = getRegs(pid).rip;
    info.big("at", pc);
    auto it = counts.find(pc);
    info.num("n", it == counts.end() ? 0 : double(it->second));
    info.num("exact", isExact(pc) ? 1 : 0);
  } catch (const NativeError&) {
  }
  if (last.have) {
    info.num("lastEvent", last.event);
    info.str("lastReason", last.reason);
    info.big("lastPc", last.pc);
    info.num("lastN", double(last.n));
    info.num("lastExact", last.exact ? 1 : 0);
    info.num("lastWatch", double(last.watchN));
    info.num("lastSlot", last.slot);
    info.num("lastSeq", double(last.seq));
    info.num("lastSteps", double(last.steps));
    info.num("lastOrder", double(last.order));
  }
}

}  // namespace rw
