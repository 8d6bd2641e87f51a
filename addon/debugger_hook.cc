// A debug run (JS: ProcessDebugger.run): the Debugger set up for it, installed as
// the replay loop's DebugHook, the two callbacks the loop makes (runUserCode before
// each event: the program's own code, with its traps; afterEvent after it), and
// what is undone when the run ends or fails.
#include <sys/ptrace.h>

#include "debugger.h"
#include "slice_timer.h"
#include "tracer_thread.h"

namespace rw {

// The run's settings; a fresh resume also starts a new run time, slices and search.
void Debugger::beginRun(const RunRequest& req, SliceCopies& taken) {
  start = req.start;
  end = req.end;
  if (event != req.event) {  // the interval changed outside the loop (events applied by JS)
    event = req.event;
    resetBoundary();
    boundaryPending = !req.fresh;
    startTargetPending = !req.fresh;
  }
  if (req.fresh) {
    fresh = true;
    stepDone = false;
    boundaryPending = req.startCandidate;
    interrupts.asked.store(false);  // a stale interrupt from the last resume
    deferredInterrupt = false;
    sliceAt = req.sliceAt;
    spreadSlices = req.spreadSlices;
    haveSliceRegs = false;
    fedSlicePutOff = kFedSlicePutOffNs;
    ranNs = 0;
    hitSeq = 0;
  }
  if (req.forkAt) forkAt = req.forkAt;
  slicesTaken = &taken;
  faultsAtSlice = 0;
  steps = 0;
  stepsLeft = req.steps;
  search = req.search;
  stopSignals = req.stopSignals;
  last = LastTrap();
  targetKind = req.targetKind;
  targetEvent = req.targetEvent;
  targetThread = req.targetThread;
  targetPc = req.targetPc;
  targetN = req.targetN;
  targetFp = req.targetFp;
  counterTraps = req.counterTraps;
  counterSeq = req.counterSeq;
  feedAllowed = !req.noFeed;
  fedCounter = 0;  // no fill runs yet (a run that failed in one may have left it set)
  if (!counterTraps.empty()) sliceAt.clear();  // a copy would hold the stubs' jumps
  armPoint(req);
}

// The run's own breakpoints, which only count arrivals: in the process for this run
// only. Returns those it inserted (an address already trapped stays as it is).
std::vector<uint64_t> Debugger::insertSilent(const std::vector<uint64_t>& addrs) {
  std::vector<uint64_t> added;
  for (uint64_t addr : addrs) {
    if (sw.count(addr)) continue;
    uint8_t orig;
    if (tracee->read(addr, &orig, 1) != 1) continue;
    tracee->write(addr, "\xcc", 1);
    sw[addr] = orig;
    silent.insert(addr);
    added.push_back(addr);
  }
  return added;
}

// The run reached its target's interval: the target's pc is trapped from here on.
void Debugger::insertDeferredSilent() {
  if (deferredSilent.empty()) return;
  std::vector<uint64_t> more = insertSilent(deferredSilent);
  runSilent.insert(runSilent.end(), more.begin(), more.end());
  deferredSilent.clear();
}

LoopResult Debugger::run(const RunRequest& req, const std::vector<Row>& table, const std::vector<uint8_t>& events,
                         size_t offset, uint32_t maxEvents) {
  SliceCopies taken;
  reqMode = req.mode;
  stepThread = req.thread;
  // the run starts in the thread whose record comes first (debugger_threads.cc)
  TraceePtr first = firstThreadOf(events, offset);
  useThread(*first);
  beginRun(req, taken);
  // A target's own pc needs counting only in the target's interval: trapped from an
  // earlier start, a loop's pc would stop the run at every iteration of every
  // interval before it (a reverse search from far back over a hot loop took minutes).
  std::vector<uint64_t> now;
  deferredSilent.clear();
  bool countsOnlyThere = reqMode == kCont && event < targetEvent &&
                         (targetKind == kTargetArrival || targetKind == kTargetFingerprint);
  for (uint64_t a : req.silent) (countsOnlyThere && a == targetPc ? deferredSilent : now).push_back(a);
  runSilent = insertSilent(now);
  hookThreads(this);
  LoopResult r;
  try {
    r = replayRun(*first, table, events, offset, maxEvents);
  } catch (...) {
    abandonRun(taken);
    throw;
  }
  r.slices = std::move(taken.infos);
  r.sliceCopies = std::move(taken.copies);
  r.sliceThreads = std::move(taken.threads);
  slicesTaken = nullptr;
  // a thread's death with others left is not the process's end
  bool gone = (r.stop.reason == "exited" || r.stop.reason == "killed") && (!threadGroup || threadGroup->live().empty());
  if (sliceArmed) {
    if (disarmSlice()) staleStops++;
    sliceArmed = false;
  }
  hookThreads(nullptr);
  afterThreads();
  if (!gone) {
    drainStops();
    for (uint64_t addr : runSilent) {
      tracee->write(addr, &sw[addr], 1);
      sw.erase(addr);
    }
    describe(r.stop);
  }
  runSilent.clear();
  deferredSilent.clear();
  silent.clear();
  counterTraps.clear();
  counterSeq = 0;
  search = false;
  targetKind = kNoTarget;
  return r;
}

// The replay failed under the run (ptrace refused, the trace is damaged): nothing of
// the run may outlive it. The loop's hook would point at a Debugger JS may free,
// the slice timer would stop the tracee later, and the copies the run left would
// stay stopped with nobody to use them. The process is left as it is, for JS to
// kill; what cannot be undone in it (it may be gone) is skipped.
void Debugger::abandonRun(SliceCopies& taken) {
  hookThreads(nullptr);
  slicesTaken = nullptr;
  if (sliceArmed) {
    if (disarmSlice()) staleStops++;
    sliceArmed = false;
  }
  for (uint64_t addr : runSilent) {
    try {
      tracee->write(addr, &sw[addr], 1);
    } catch (const NativeError&) {
    }
    sw.erase(addr);
  }
  runSilent.clear();
  deferredSilent.clear();
  taken.copies.clear();  // their Tracees kill them
  taken.threads.clear();
  silent.clear();
  counterTraps.clear();
  counterSeq = 0;
  search = false;
  targetKind = kNoTarget;
}

// Runs the program's own code up to the stop the replay loop waits for (the next
// event's syscall, signal or rdtsc trap), handling every trap on the way: counting,
// stepping over trapped instructions, and stopping where gdb must see the process.
Stop Debugger::runUserCode(pid_t p, int& sig) { return withoutSliceStop(runProgram(p, sig)); }

Stop Debugger::runProgram(pid_t, int& sig) {
  // The user's interrupt came while the tracee was not running (between two runs of a
  // continue, or while the loop replayed an event): the stop is here, before counting
  // in continue mode drops the exactness of every count, so that a stop between two
  // events is named as the start of its interval (arrival 1 at its pc), not by a
  // fingerprint that a run from that start never reaches again (it starts there).
  if (interrupts.take()) throw stopWith("interrupted");
  if (mode == kCont && (allExact || !exact.empty())) enterContinue();
  regsValid = false;
  if (fresh) {
    fresh = false;
    skipAt = regs().rip;  // leaving the stop: its breakpoint is not hit again
  }
  if (startTargetPending) {
    startTargetPending = false;
    uint64_t pc = regs().rip;
    if (event == targetEvent && pc == targetPc &&
        ((targetKind == kTargetArrival && targetN == 1) || (targetKind == kTargetFingerprint && fpMatches())))
      targetReached(pc);
  }
  for (;;) {
    if (skipAt != kNone || boundaryPending) {
      uint64_t pc = regs().rip;
      bool here = skipAt == pc;
      skipAt = kNone;
      if (boundaryPending) {
        boundaryPending = false;
        if (reportingAt(pc)) {
          if (search) record(sw.count(pc) ? "swbreak" : "hwbreak", pc, -1);
          else if (mode == kCont) {
            DebugStop d = stopWith(sw.count(pc) ? "swbreak" : "hwbreak");
            d.info.big("pc", pc);
            throw d;
          }
        }
      }
      if (here && trapAt(pc)) {
        bool overSyscall = false;
        Stop st = stepOver(pc, sig, overSyscall);
        if (overSyscall && st.kind == Stop::kSyscall) {
          if (mode != kCont) stepDone = true;  // (a thread that does not step leaves the stepping one's alone)
          return st;
        }
        Verdict v = ranOverRep ? kStepped : classify(st, !overSyscall);
        if (v == kReturn) {
          if (mode != kCont) stepDone = true;
          return st;
        }
        if (v == kStepped) {
          if (mode != kCont && !landed()) throw stopWith("step");
        }
        if (v == kLandedCounted && !continueAfterStep(regs().rip)) throw stopWith("step");
        continue;
      }
    }
    bool stepping = false, overSyscall = false;
    int request = PTRACE_SYSCALL;
    if (mode != kCont) {
      if (isSyscallInsn(pid, regs().rip)) overSyscall = true;
      else {
        request = PTRACE_SINGLESTEP;
        stepping = true;
      }
    }
    bool sliceHere = mode == kCont;
    resumeWatched(request, &sig, sliceHere);
    Stop st = waitFor(request, sliceHere);
    if (overSyscall && st.kind == Stop::kSyscall) {
      if (mode != kCont) stepDone = true;
      return st;
    }
    switch (classify(st, stepping)) {
      case kAgain:
        continue;
      case kReturn:
        if (mode != kCont) stepDone = stepping;
        return st;
      case kStepped:
        if (landed()) continue;
        throw stopWith("step");
      case kLandedCounted:
        if (continueAfterStep(regs().rip)) continue;
        throw stopWith("step");
    }
  }
}

// After each event: the counts start a new interval; a target, a signal gdb must
// see or a step completed by the event ends the run here.
// Another process's event (replay --pid): a new interval starts, in which this
// process does nothing; only a target at its start can end the run there.
bool Debugger::afterOtherEvent(pid_t, StopInfo& info) { return startInterval(info); }

// A new interval starts at the state after an event: the counts restart, and a
// target that is the interval's first state (arrival 1 at its pc, or its
// fingerprint) ends the run here.
bool Debugger::startInterval(StopInfo& info) {
  event++;
  resetBoundary();
  regsValid = false;
  if (event == targetEvent) insertDeferredSilent();
  if (cur->replay.exiting) return false;  // its process is dying: no registers, no target there
  // The interval's first state is its own thread's: when another thread's record
  // comes next, the target is judged at the switch (enterThread), not in the
  // thread that made the event (the pc of another thread, not the interval's, was
  // judged here: a run to such a boundary missed it and ran on)
  // (another process's record, replay --pid: judged here as before)
  if (threadGroup && targetThread && cur->replay.recordedTid != targetThread && threadGroup->byRecorded(targetThread)) return false;
  uint64_t pc = regs().rip;
  if (event == targetEvent && pc == targetPc && ((targetKind == kTargetArrival && targetN == 1) || (targetKind == kTargetFingerprint && fpMatches()))) {
    info.reason = "target";
    info.big("pc", pc);
    return true;
  }
  return false;
}

bool Debugger::afterEvent(pid_t, const RecordView& done, const RecordView* next, StopInfo& info) {
  // The target first: a run that looks for the state a signal is delivered from
  // (the state gdb was shown at a fatal signal, say) ends there, as the target.
  if (startInterval(info)) return true;
  if (cur->replay.exiting) return false;
  uint64_t pc = regs().rip;
  // A fatal signal: stop at the faulting instruction before it is delivered.
  if (done.kind() == kEvSignal && next && next->kind() == kEvExit && next->get32(12) == 1) {
    info.reason = "signal";
    info.num("signal", done.get32(12));
    return true;
  }
  // Any other signal the program received: gdb shows it before it is delivered,
  // as it would live (the recorded delivery follows whatever gdb answers).
  if (done.kind() == kEvSignal && !search && (stopSignals >> (done.get32(12) & 63) & 1)) {
    info.reason = "signal";
    info.num("signal", done.get32(12));
    return true;
  }
  if (mode == kCont || !stepDone) return false;
  // a step over a `syscall` of a threaded process: the call's entry is an event of its
  // own (the others run while it is in the kernel); the step ends at its return
  if (done.kind() == kEvEnter) return false;
  stepDone = false;
  if (done.kind() == kEvSignal) return false;  // a signal arrived: the step enters its handler
  if (next && next->kind() == kEvExit) return false;  // exit_group: let the exit happen
  steps++;
  if (continueAfterStep(pc)) return false;
  info.reason = "step";
  return true;
}

}  // namespace rw
