// Traps and stepping: the Debugger's int3 breakpoints and debug-register slots,
// what each trap stop means (classify), and single steps: counting them, stepping
// over a trapped instruction without trapping on it again, and when a step or range
// step is done.
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>

#include <algorithm>
#include <cstring>

#include "debugger.h"
#include "process_copy.h"
#include "replay_thread_copy.h"
#include "tracer_thread.h"

namespace rw {

bool isSyscallInsn(pid_t pid, uint64_t pc) {
  uint8_t b[2] = {0, 0};
  return readMemory(pid, pc, b, 2) == 2 && b[0] == 0x0f && b[1] == 0x05;
}

uint8_t Debugger::insertBreakpoint(uint64_t addr) {
  auto it = sw.find(addr);
  if (it != sw.end()) return it->second;  // already ours: the byte under it is the program's
  uint8_t orig;
  if (tracee->read(addr, &orig, 1) != 1) throw NativeError{EFAULT, "no memory for a breakpoint"};
  tracee->write(addr, "\xcc", 1);
  sw[addr] = orig;
  return orig;
}

void Debugger::removeBreakpoint(uint64_t addr) {
  auto it = sw.find(addr);
  if (it == sw.end()) return;
  uint8_t orig = it->second;
  sw.erase(it);
  tracee->write(addr, &orig, 1);
}

void Debugger::setSlots(const Slots& s) {
  slots = s;
  slotsGen++;
  writeSlotsHere();  // the other threads get them when a run enters them (debugger_threads.cc)
}

TraceePtr Debugger::forkCopyAt(uint64_t insn) {
  // fork copies one thread: a process that made threads is copied by forkReplayedAt
  if (madeThreads) throw NativeError{EINVAL, "a fork copy of a process that made threads would have one thread (its copy is forkReplayed's)"};
  return forkCopy(*tracee, insn, &sw);
}
std::vector<TraceePtr> Debugger::forkReplayedAt(uint64_t insn) { return forkReplayedProcess(*tracee, insn, &sw); }

// What a stop of the program's code means: an interrupt, one of our int3s, a debug
// register (a hardware breakpoint, a data trigger, a completed single step), or
// something the replay must see (a syscall, a recorded signal).
Debugger::Verdict Debugger::classify(const Stop& st, bool stepping) {
  if (st.kind != Stop::kSignal) return kReturn;
  syncFeed();  // inside a fill: the interval is where the library got to
  if (st.sig == SIGSTOP) {  // sent by interrupt(); never part of a replay
    if (interrupts.take() || deferredInterrupt) {
      // inside the library's code while it serves calls: no replay without the feed
      // stands there, so the interrupt is taken once the program is out of it
      if (inFedCode(regs().rip)) {
        deferredInterrupt = true;
        deferStop();
        return kAgain;
      }
      deferredInterrupt = false;
      // a copy here with the counts, so that the point can be named (docs/timeline.md).
      // A slice's SIGSTOP sent as the interrupt came is taken first (it is reported
      // before the next instruction runs): without the copy, the stop is named by its
      // fingerprint, and going back from it steps a whole slice.
      bool copyHere = mode == kCont && forkAt && slicesTaken && counterTraps.empty() && !pointPatched && !madeThreads;
      if (copyHere && pendingSignals(pid) == (1ull << (SIGSTOP - 1))) {
        staleStops = std::max(staleStops, 1);
        drainStops();
      }
      if (copyHere && pendingSignalsOfProcess(pid) == 0) {
        regsValid = false;
        sliceAt.insert(sliceAt.begin(), 0);
        takeSlice();
      }
      throw stopWith("interrupted");
    }
    return kAgain;
  }
  if (st.sig != SIGTRAP) return kReturn;
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si);
  if (si.si_code == SI_KERNEL) {  // int3
    user_regs_struct r = regs();
    uint64_t pc = r.rip - 1;
    if (!sw.count(pc)) return filterTrap(r) || counterTrap(pc) ? kAgain : kReturn;  // the filter's, a counting stub's, or the program's own
    r.rip = pc;
    setRegs(pid, r);
    regsCache = r;
    skipAt = pc;
    arrive(pc);
    if (pointHere(pc)) {  // an int3 at an asynchronous signal's point: is this arrival the point?
      bool reports = !silent.count(pc);
      if (reports && search) record("swbreak", pc, -1);
      judgeArrival(reports && !search ? "swbreak" : "");
      if (reports && search) return kAgain;
    }
    if (silent.count(pc)) return kAgain;
    if (search) {
      record("swbreak", pc, -1);
      return kAgain;
    }
    DebugStop d = stopWith("swbreak");
    d.info.big("pc", pc);
    throw d;
  }
  // a single-step that delivered a signal stops at the handler's first instruction
  // (reported by ptrace_notify: si_code SIGTRAP)
  if ((si.si_code == TRAP_BRKPT || si.si_code == SIGTRAP) && stepping) return kStepped;
  if (si.si_code == TRAP_HWBKPT || si.si_code == TRAP_TRACE) {
    bool anySlot = false;
    for (auto& sl : slots) anySlot |= sl.used;
    uint64_t dr6 = 0;
    if (anySlot || si.si_code == TRAP_HWBKPT) {
      dr6 = peekDr(pid, 6);
      pokeDr(pid, 6, 0);
    } else if (stepping) {
      dr6 = kDr6SingleStep;  // a plain single-step: no debug register to look at
    }
    bool fedStore = false;
    for (int i = 0; i < 4; i++) {
      if (!(dr6 & (1ull << i)) || !slots[i].used) continue;
      uint64_t pc = regs().rip;
      // the library writing a fed call's recorded memory: a stopped replay writes it
      // with ptrace, which triggers nothing (debugger_feed.cc)
      if (slots[i].type != 0 && inFedCode(pc)) {
        fedStore = true;
        continue;
      }
      bool landing = stepping && (dr6 & kDr6SingleStep) && mode != kCont;
      if (landing) steps++;
      if (slots[i].type != 0) watchHits++;
      skipAt = pc;
      if (slots[i].type != 0 && targetKind == kTargetWatch && event == targetEvent && watchHits == targetN) {
        counts[pc]++;
        targetReached(pc);
      }
      // a data trigger at the target state belongs before it (the writing
      // instruction ran before the target): record it first
      if (search && slots[i].type != 0) record("watch", pc, i);
      arrive(pc);
      if (targetKind == kTargetWatch && slots[i].type != 0) return kAgain;  // on the way to trigger targetN
      if (search) {
        if (slots[i].type == 0) record("hwbreak", pc, i);
        return landing ? kLandedCounted : kAgain;  // a step that triggered: it still counts as a step
      }
      DebugStop d = stopWith(slots[i].type == 0 ? "hwbreak" : "watch");
      d.info.num("slot", i);
      throw d;
    }
    if (fedStore) return kAgain;
    if (stepping && si.si_code == TRAP_TRACE) return kStepped;
    if (!stepping && si.si_code == TRAP_TRACE) {
      // The trap flag of an earlier single-step leaked: a signal delivered by a
      // step saved it in the signal frame, and rt_sigreturn restored it. Drop it.
      user_regs_struct r = regs();
      r.eflags &= ~uint64_t(0x100);
      setRegs(pid, r);
      regsCache = r;
      return kAgain;
    }
  }
  return kReturn;
}

// After a completed single step (modes step and range): count it, keep going or stop.
bool Debugger::landed() {
  uint64_t pc = regs().rip;
  steps++;
  arrive(pc);
  if (search && reportingAt(pc)) record(sw.count(pc) ? "swbreak" : "hwbreak", pc, -1);  // landing on a trap
  if (trapAt(pc)) skipAt = pc;  // counted: the next step lifts the breakpoint instead of trapping on it
  bool more = continueAfterStep(pc);
  if (pointHere(pc)) judgeArrival(more ? "" : "step");
  return more;
}

bool Debugger::continueAfterStep(uint64_t pc) {
  if (mode == kCont) return true;
  if (mode == kRange) return pc >= start && pc < end && !sw.count(pc);
  return stepsLeft > 0 && --stepsLeft > 0;
}

// Executes the instruction at pc with any breakpoint there lifted. A rep-string
// instruction in continue mode is run out to the next instruction (an int3 planted
// there): a single step does one of its iterations, so a breakpoint on `rep stosb`
// trapped once per byte (a memset of 64 MiB: millions of traps, an hour), and its
// arrivals counted iterations where a counting stub counts the instruction's
// starts. A stop before next (a watchpoint's trigger inside it, a fault) is the
// run's; at next, ranOverRep says so (debugger_rep_string.cc).
Stop Debugger::stepOver(uint64_t pc, int& sig, bool& overSyscall) {
  ranOverRep = false;
  uint64_t next = mode == kCont && sig == 0 ? repStringEnd() : 0;
  uint8_t atNext = 0;
  if (next && (trapAt(next) || tracee->read(next, &atNext, 1) != 1)) next = 0;  // a trap of its own there: stepped
  bool hadSw = sw.count(pc) > 0;
  if (hadSw) tracee->write(pc, &sw[pc], 1);
  if (next) tracee->write(next, "\xcc", 1);
  uint64_t full = dr7For(slots), masked = full;
  for (int i = 0; i < 4; i++)
    if (slots[i].used && slots[i].type == 0 && slots[i].addr == pc) masked &= ~(1ull << (2 * i));
  if (masked != full) pokeDr(pid, 7, masked);
  auto putBack = [&] {
    if (hadSw) tracee->write(pc, "\xcc", 1);
    if (next) tracee->write(next, &atNext, 1);
    if (masked != full) pokeDr(pid, 7, full);
  };
  overSyscall = next || (hadSw && sw[pc] != 0x0f) ? false : isSyscallInsn(pid, pc);
  Stop st;
  try {
    int request = next ? PTRACE_CONT : overSyscall ? PTRACE_SYSCALL : PTRACE_SINGLESTEP;
    resumeWatched(request, &sig, false);
    st = waitFor(request, false);
  } catch (...) {
    putBack();
    throw;
  }
  if (st.kind != Stop::kExited && st.kind != Stop::kKilled) {
    putBack();
    if (next) ranOverRep = backFromPlantedTrap(st, next);
  }
  return st;
}

}  // namespace rw
