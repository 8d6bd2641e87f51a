#include "debug_loop.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "js_args.h"
#include "loop_result.h"
#include "ptrace_ops.h"
#include "replay_loop.h"
#include "slice_timer.h"
#include "tracer_thread.h"

namespace rw {

Napi::Object loopResultToJs(Napi::Env env, LoopResult& r);

namespace {

enum Mode { kCont = 0, kStep = 1, kRange = 2 };

// Debug register slot: type 0 = execute, 1 = write, 3 = read/write.
struct Slot {
  bool used = false;
  uint64_t addr = 0;
  int type = 0;
  int len = 1;
};

std::atomic<pid_t> interruptFor{0};  // an interrupt was asked for this tracee
std::atomic<pid_t> runningPid{0};    // the tracer thread is waiting for this tracee

constexpr size_t kDrOffset = offsetof(struct user, u_debugreg);

void pokeDr(pid_t pid, int i, uint64_t v) {
  if (ptrace(PTRACE_POKEUSER, pid, (void*)(kDrOffset + 8 * i), (void*)v) != 0)
    throw NativeError{errno, "ptrace(PTRACE_POKEUSER, debug register " + std::to_string(i) + ")"};
}

uint64_t peekDr(pid_t pid, int i) {
  errno = 0;
  long v = ptrace(PTRACE_PEEKUSER, pid, (void*)(kDrOffset + 8 * i), nullptr);
  if (errno) throw NativeError{errno, "ptrace(PTRACE_PEEKUSER, debug register " + std::to_string(i) + ")"};
  return uint64_t(v);
}

bool isSyscallInsn(pid_t pid, uint64_t pc) {
  uint8_t b[2] = {0, 0};
  return readMemory(pid, pc, b, 2) == 2 && b[0] == 0x0f && b[1] == 0x05;
}

DebugStop stopWith(const char* reason) {
  DebugStop d;
  d.info.reason = reason;
  return d;
}

constexpr uint64_t kNone = ~0ull;

// A copy of the stopped tracee: clone(flags 0: no exit signal, so the replayed
// process never sees a SIGCHLD) injected at the `syscall` instruction at insn. The
// child is auto-attached (PTRACE_O_TRACECLONE), gets the parent's registers and
// replay session, and stays stopped. The breakpoints in `sw` are lifted around the
// fork so that the copy holds none; debug registers are not inherited.
pid_t forkCopy(pid_t pid, uint64_t insn, const std::map<uint64_t, uint8_t>* sw) {
  if (sw)
    for (auto& [a, b] : *sw) writeMemory(pid, a, &b, 1);
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE;
  user_regs_struct saved = getRegs(pid), r = saved;
  pid_t child = -1;
  auto restoreParent = [&] {
    setRegs(pid, saved);
    if (sw)
      for (auto& [a, b] : *sw) writeMemory(pid, a, "\xcc", 1);
  };
  try {
    if (ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)opts) != 0) throw NativeError{errno, "ptrace(PTRACE_SETOPTIONS)"};
    r.rax = 56;  // clone
    r.orig_rax = uint64_t(-1);
    r.rdi = 0;  // flags: a new process, exit signal 0
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
  replayCopySession(pid, child);
  return child;
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

// The tracee's pending signals (private and shared), bit n-1 for signal n.
uint64_t pendingSignals(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", int(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char line[256];
  uint64_t pending = 0;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long mask = 0;
    if (std::sscanf(line, "SigPnd: %llx", &mask) == 1 || std::sscanf(line, "ShdPnd: %llx", &mask) == 1) pending |= mask;
  }
  std::fclose(f);
  return pending;
}

// The search mode's record of the last trap seen (see Debugger::search).
struct LastTrap {
  bool have = false;
  uint32_t event = 0;
  const char* reason = "";
  uint64_t pc = 0, n = 0, watchN = 0;
  bool exact = false;
  int slot = -1;
  uint64_t seq = 0;  // traps recorded in this run, this one included
  uint64_t steps = 0;  // single-steps done in this run when it was recorded (step modes)
};

struct Debugger : DebugHook {
  std::map<uint64_t, uint8_t> sw;  // every int3 we inserted: address -> original byte
  std::set<uint64_t> silent;       // int3s of this run that only count arrivals (never reported)
  Slot slots[4];
  int mode = kCont;
  uint64_t start = 0, end = 0;
  bool fresh = false;     // the next runUserCode is the first of a resume asked for by JS
  bool stepDone = false;  // step modes: the current event completed an instruction

  // Positions (docs/timeline.md): arrivals at pcs since the start of the interval
  // `event` (the index of the next event). The boundary state counts as arrival 1
  // at its pc. A count is exact while every arrival at that pc was seen: always in
  // step modes, and in continue mode only at addresses with a breakpoint.
  uint32_t event = 0;
  std::unordered_map<uint64_t, uint64_t> counts;
  bool allExact = true;
  std::set<uint64_t> exact;
  uint64_t watchHits = 0;   // data watchpoint triggers in this interval
  uint64_t skipAt = kNone;  // execute the instruction here without trapping on it (already counted)
  bool boundaryPending = false;  // at a boundary state: a breakpoint here is a hit
  uint64_t steps = 0, stepsLeft = 1;
  // per run
  int targetKind = -1;  // 0: arrival targetN at targetPc; 1: data trigger targetN; 2: arrival at targetPc with fingerprint targetFp
  std::vector<uint8_t> targetFp;
  pid_t pid = 0;
  // Slices (continue mode): at these run times (ns since the run began) the run
  // leaves a copy of the process, with the counts there, in `slicesTaken`.
  std::vector<uint64_t> sliceAt;
  uint64_t ranNs = 0, resumedAt = 0;
  bool sliceArmed = false;
  int staleStops = 0;  // slice SIGSTOPs sent but not seen yet
  uint64_t forkAt = 0;
  std::vector<StopInfo>* slicesTaken = nullptr;
  uint64_t hitSeq = 0;
  user_regs_struct regsCache{};
  bool regsValid = false;
  user_regs_struct lastSliceRegs{};
  bool haveSliceRegs = false;
  uint32_t targetEvent = 0;
  uint64_t targetPc = 0, targetN = 0;
  bool search = false;  // traps are recorded in `last` instead of stopping the run
  uint64_t stopSignals = 0;  // bit n: stop before delivering recorded signal n (gdb's "stop")
  LastTrap last;

  uint64_t dr7() const {
    uint64_t v = 0;
    for (int i = 0; i < 4; i++) {
      if (!slots[i].used) continue;
      int lenBits = slots[i].len == 1 ? 0 : slots[i].len == 2 ? 1 : slots[i].len == 8 ? 2 : 3;
      v |= 1ull << (2 * i);
      v |= uint64_t(slots[i].type) << (16 + 4 * i);
      v |= uint64_t(slots[i].type == 0 ? 0 : lenBits) << (18 + 4 * i);
    }
    return v;
  }

  void writeDebugRegs(pid_t pid) {
    pokeDr(pid, 7, 0);
    for (int i = 0; i < 4; i++)
      if (slots[i].used) pokeDr(pid, i, slots[i].addr);
    uint64_t v = dr7();
    if (v) pokeDr(pid, 7, v);
  }

  bool hwExecAt(uint64_t pc) const {
    for (auto& sl : slots)
      if (sl.used && sl.type == 0 && sl.addr == pc) return true;
    return false;
  }
  bool trapAt(uint64_t pc) const { return sw.count(pc) || hwExecAt(pc); }
  bool reportingAt(uint64_t pc) const { return (sw.count(pc) && !silent.count(pc)) || hwExecAt(pc); }
  bool isExact(uint64_t pc) const { return allExact || exact.count(pc); }

  void resetBoundary(pid_t pid) {
    uint64_t pc = getRegs(pid).rip;
    counts.clear();
    counts[pc] = 1;
    allExact = true;
    exact.clear();
    watchHits = 0;
    skipAt = pc;
    boundaryPending = true;
  }

  // Continue mode sees only arrivals at breakpoints.
  void enterContinue() {
    std::set<uint64_t> trapped;
    for (auto& [a, b] : sw) trapped.insert(a);
    for (auto& sl : slots)
      if (sl.used && sl.type == 0) trapped.insert(sl.addr);
    if (allExact) exact = trapped;
    else {
      std::set<uint64_t> keep;
      for (uint64_t a : exact)
        if (trapped.count(a)) keep.insert(a);
      exact.swap(keep);
    }
    allExact = false;
  }

  void targetReached(uint64_t pc) {
    DebugStop d = stopWith("target");
    d.info.big("pc", pc);
    throw d;
  }

  bool fpMatches() {
    std::vector<uint8_t> fp = fingerprint(pid);
    return fp.size() == targetFp.size() && std::memcmp(fp.data(), targetFp.data(), fp.size()) == 0;
  }

  void arrive(uint64_t pc) {
    uint64_t c = ++counts[pc];
    if (event != targetEvent || pc != targetPc) return;
    if ((targetKind == 0 && c == targetN) || (targetKind == 2 && fpMatches())) targetReached(pc);
  }

  user_regs_struct regs(pid_t p) {
    if (!regsValid) {
      regsCache = getRegs(p);
      regsValid = true;
    }
    return regsCache;
  }

  // A slice is due: leave a copy here with the exact counts (arrivals before this
  // state: a breakpoint at the current pc has not trapped yet).
  void takeSlice(pid_t p) {
    // a second slice due at once would stand at the same state (no instruction ran
    // since the last one): two copies of one point, which later searches would take
    // for two points in order
    user_regs_struct now = regs(p);
    if (haveSliceRegs && std::memcmp(&now, &lastSliceRegs, sizeof now) == 0) {
      if (!sliceAt.empty()) sliceAt.erase(sliceAt.begin());
      return;
    }
    lastSliceRegs = now;
    haveSliceRegs = true;
    pid_t child = forkCopy(p, forkAt, &sw);
    StopInfo s;
    s.num("pid", child);
    s.num("event", event);
    s.big("pc", regs(p).rip);
    s.num("watchHits", double(watchHits));
    s.num("seq", double(hitSeq));
    s.num("ranNs", double(ranNs));
    std::vector<uint64_t> cs;
    auto add = [&](uint64_t a) {
      if (!isExact(a)) return;
      auto it = counts.find(a);
      cs.push_back(a);
      cs.push_back(it == counts.end() ? 0 : it->second);
    };
    for (auto& [a, b] : sw) add(a);
    for (auto& sl : slots)
      if (sl.used && sl.type == 0 && !sw.count(sl.addr)) add(sl.addr);
    s.bigs("counts", std::move(cs));
    if (slicesTaken) slicesTaken->push_back(std::move(s));
    if (!sliceAt.empty()) sliceAt.erase(sliceAt.begin());
    while (!sliceAt.empty() && sliceAt.front() <= ranNs) sliceAt.erase(sliceAt.begin());
  }

  void record(const char* reason, uint64_t pc, int slot) {
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
  }

  // Continue the loop, hand the stop to the replay, or report a completed step.
  enum Verdict { kAgain, kReturn, kStepped, kLandedCounted };

  Verdict classify(pid_t pid, const Stop& st, bool stepping) {
    if (st.kind != Stop::kSignal) return kReturn;
    if (st.sig == SIGSTOP) {  // sent by interrupt(); never part of a replay
      pid_t want = pid;
      if (interruptFor.compare_exchange_strong(want, 0)) {
        // a copy here with the counts, so that the point can be named (docs/timeline.md)
        if (mode == kCont && forkAt && slicesTaken && pendingSignals(pid) == 0) {
          regsValid = false;
          sliceAt.insert(sliceAt.begin(), 0);
          takeSlice(pid);
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
      user_regs_struct r = regs(pid);
      uint64_t pc = r.rip - 1;
      if (!sw.count(pc)) return kReturn;  // the program's own int3
      r.rip = pc;
      setRegs(pid, r);
      regsCache = r;
      skipAt = pc;
      arrive(pc);
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
        dr6 = 1ull << 14;  // a plain single-step: no debug register to look at
      }
      for (int i = 0; i < 4; i++) {
        if (!(dr6 & (1ull << i)) || !slots[i].used) continue;
        uint64_t pc = regs(pid).rip;
        bool landing = stepping && (dr6 & (1ull << 14)) && mode != kCont;
        if (landing) steps++;
        if (slots[i].type != 0) watchHits++;
        skipAt = pc;
        if (slots[i].type != 0 && targetKind == 1 && event == targetEvent && watchHits == targetN) {
          counts[pc]++;
          targetReached(pc);
        }
        // a data trigger at the target state belongs before it (the writing
        // instruction ran before the target): record it first
        if (search && slots[i].type != 0) record("watch", pc, i);
        arrive(pc);
        if (targetKind == 1 && slots[i].type != 0) return kAgain;  // on the way to trigger targetN
        if (search) {
          if (slots[i].type == 0) record("hwbreak", pc, i);
          return landing ? kLandedCounted : kAgain;  // a step that triggered: it still counts as a step
        }
        DebugStop d = stopWith(slots[i].type == 0 ? "hwbreak" : "watch");
        d.info.num("slot", i);
        throw d;
      }
      if (stepping && si.si_code == TRAP_TRACE) return kStepped;
      if (!stepping && si.si_code == TRAP_TRACE) {
        // The trap flag of an earlier single-step leaked: a signal delivered by a
        // step saved it in the signal frame, and rt_sigreturn restored it. Drop it.
        user_regs_struct r = regs(pid);
        r.eflags &= ~uint64_t(0x100);
        setRegs(pid, r);
        regsCache = r;
        return kAgain;
      }
    }
    return kReturn;
  }

  // After a completed single step (modes step and range): count it, keep going or stop.
  bool landed(pid_t pid) {
    uint64_t pc = regs(pid).rip;
    steps++;
    arrive(pc);
    if (search && reportingAt(pc)) record(sw.count(pc) ? "swbreak" : "hwbreak", pc, -1);  // landing on a trap
    if (trapAt(pc)) skipAt = pc;  // counted: the next step lifts the breakpoint instead of trapping on it
    return continueAfterStep(pid, pc);
  }

  bool continueAfterStep(pid_t pid, uint64_t pc) {
    if (mode == kCont) return true;
    if (mode == kRange) return pc >= start && pc < end && !sw.count(pc);
    return stepsLeft > 0 && --stepsLeft > 0;
  }

  // Waits for the tracee's next stop. A SIGSTOP of a slice is handled here: the
  // slice is taken where allowed (the main resume of continue mode), and the same
  // request resumes the tracee again.
  Stop waitFor(pid_t pid, int request, bool sliceHere) {
    for (;;) {
      Stop st = waitStop(pid);
      ranNs += monotonicNs() - resumedAt;
      runningPid.store(0);
      bool isStop = st.kind == Stop::kSignal && st.sig == SIGSTOP;
      // the timer stays armed across other stops (re-arming at every trap of a busy
      // search would cost a wake-up of the timer thread each time)
      bool sent = false;
      if (sliceArmed && (isStop || !sliceHere)) {
        sent = disarmSlice();
        sliceArmed = false;
      }
      if (sent && !isStop) staleStops++;
      if (!isStop || !(sent || staleStops > 0)) return st;
      if (!sent) staleStops--;
      if (interruptFor.load() == pid) return st;  // the user's interrupt came with it
      regsValid = false;
      // another signal pending (an rdtsc's SIGSEGV, a fault) comes first: no copy here
      if (sliceHere && !sliceAt.empty() && sliceAt.front() <= ranNs + 50000 && pendingSignals(pid) == 0) takeSlice(pid);
      resumeWatched(pid, request, nullptr, sliceHere);
    }
  }

  void resumeWatched(pid_t pid, int request, int* sig, bool sliceHere) {
    runningPid.store(pid);
    pid_t want = pid;
    if (interruptFor.compare_exchange_strong(want, 0)) {
      runningPid.store(0);
      throw stopWith("interrupted");
    }
    int s = sig ? *sig : 0;
    if (sliceHere && s == 0 && !sliceAt.empty() && !sliceArmed) {
      uint64_t due = sliceAt.front() > ranNs ? sliceAt.front() - ranNs : 0;
      armSlice(pid, monotonicNs() + due);
      sliceArmed = true;
    } else if (sliceArmed && (!sliceHere || s != 0)) {
      if (disarmSlice()) staleStops++;
      sliceArmed = false;
    }
    regsValid = false;
    resumedAt = monotonicNs();
    resume(pid, request, s);
    if (sig) *sig = 0;
  }

  // A slice SIGSTOP still pending at the end of a run: take it now, before anything
  // else resumes the tracee (it arrives before the next instruction).
  void drainStops(pid_t pid) {
    if (staleStops <= 0) return;
    staleStops = 0;
    if (pendingSignals(pid) != (1ull << (SIGSTOP - 1))) return;
    resume(pid, PTRACE_SINGLESTEP, 0);
    Stop st = waitStop(pid);
    if (!(st.kind == Stop::kSignal && st.sig == SIGSTOP))
      throw NativeError{EPROTO, "a slice's SIGSTOP was pending, the tracee stopped otherwise"};
    regsValid = false;
  }

  // Executes the instruction at pc with any breakpoint there lifted.
  Stop stepOver(pid_t pid, uint64_t pc, int& sig, bool& overSyscall) {
    bool hadSw = sw.count(pc) > 0;
    if (hadSw) writeMemory(pid, pc, &sw[pc], 1);
    uint64_t full = dr7(), masked = full;
    for (int i = 0; i < 4; i++)
      if (slots[i].used && slots[i].type == 0 && slots[i].addr == pc) masked &= ~(1ull << (2 * i));
    if (masked != full) pokeDr(pid, 7, masked);
    overSyscall = hadSw && sw[pc] != 0x0f ? false : isSyscallInsn(pid, pc);
    Stop st;
    try {
      int request = overSyscall ? PTRACE_SYSCALL : PTRACE_SINGLESTEP;
      resumeWatched(pid, request, &sig, false);
      st = waitFor(pid, request, false);
    } catch (...) {
      if (hadSw) writeMemory(pid, pc, "\xcc", 1);
      if (masked != full) pokeDr(pid, 7, full);
      throw;
    }
    if (st.kind != Stop::kExited && st.kind != Stop::kKilled) {
      if (hadSw) writeMemory(pid, pc, "\xcc", 1);
      if (masked != full) pokeDr(pid, 7, full);
    }
    return st;
  }

  Stop runUserCode(pid_t pid, int& sig) override {
    if (mode == kCont && (allExact || !exact.empty())) enterContinue();
    this->pid = pid;
    regsValid = false;
    if (fresh) {
      fresh = false;
      skipAt = regs(pid).rip;  // leaving the stop: its breakpoint is not hit again
    }
    for (;;) {
      if (skipAt != kNone || boundaryPending) {
        uint64_t pc = regs(pid).rip;
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
          Stop st = stepOver(pid, pc, sig, overSyscall);
          if (overSyscall && st.kind == Stop::kSyscall) {
            stepDone = true;
            return st;
          }
          Verdict v = classify(pid, st, !overSyscall);
          if (v == kReturn) {
            stepDone = mode != kCont;
            return st;
          }
          if (v == kStepped) {
            if (mode != kCont && !landed(pid)) throw stopWith("step");
          }
          if (v == kLandedCounted && !continueAfterStep(pid, regs(pid).rip)) throw stopWith("step");
          continue;
        }
      }
      bool stepping = false, overSyscall = false;
      int request = PTRACE_SYSCALL;
      if (mode != kCont) {
        if (isSyscallInsn(pid, regs(pid).rip)) overSyscall = true;
        else {
          request = PTRACE_SINGLESTEP;
          stepping = true;
        }
      }
      bool sliceHere = mode == kCont;
      resumeWatched(pid, request, &sig, sliceHere);
      Stop st = waitFor(pid, request, sliceHere);
      if (overSyscall && st.kind == Stop::kSyscall) {
        stepDone = true;
        return st;
      }
      switch (classify(pid, st, stepping)) {
        case kAgain:
          continue;
        case kReturn:
          stepDone = stepping;
          return st;
        case kStepped:
          if (landed(pid)) continue;
          throw stopWith("step");
        case kLandedCounted:
          if (continueAfterStep(pid, regs(pid).rip)) continue;
          throw stopWith("step");
      }
    }
  }

  bool afterEvent(pid_t pid, const RecordView& done, const RecordView* next, StopInfo& info) override {
    event++;
    resetBoundary(pid);
    regsValid = false;
    uint64_t pc = regs(pid).rip;
    // The target first: a run that looks for the state a signal is delivered from
    // (the state gdb was shown at a fatal signal, say) ends there, as the target.
    if (event == targetEvent && pc == targetPc && ((targetKind == 0 && targetN == 1) || (targetKind == 2 && fpMatches()))) {
      info.reason = "target";
      info.big("pc", pc);
      return true;
    }
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
    stepDone = false;
    if (done.kind() == kEvSignal) return false;  // a signal arrived: the step enters its handler
    if (next && next->kind() == kEvExit) return false;  // exit_group: let the exit happen
    steps++;
    if (continueAfterStep(pid, pc)) return false;
    info.reason = "step";
    return true;
  }

  void describe(pid_t pid, StopInfo& info) {
    info.num("event", event);
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
    }
  }
};

std::map<pid_t, std::unique_ptr<Debugger>> debuggers;

Debugger& debuggerFor(pid_t pid) {
  auto& d = debuggers[pid];
  if (!d) d = std::make_unique<Debugger>();
  return *d;
}

using Napi::CallbackInfo;
using Napi::Value;

Value DebugRun(const CallbackInfo& info) {
  const char* usage =
      "debugRun(pid, table: Int32Array, events: Buffer, offset, maxEvents, { mode: 0|1|2, start: bigint, end: bigint, "
      "fresh: boolean, event: number, steps?: number, silent?: bigint[], search?: boolean, startCandidate?: boolean, "
      "target?: { kind: 0|1|2, event: number, pc?: bigint, n?: number, fp?: Buffer }, slices?: number[], forkAt?: bigint })";
  USAGE_CHECK(info.Length() == 6 && info[0].IsNumber() && info[1].IsTypedArray() && info[2].IsBuffer() &&
                  info[3].IsNumber() && info[4].IsNumber() && info[5].IsObject(),
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  auto table = std::make_shared<std::vector<Row>>(tableFrom(info[1]));
  auto events = bytesFrom(info[2]);
  size_t offset = size_t(info[3].As<Napi::Number>().Int64Value());
  uint32_t maxEvents = info[4].As<Napi::Number>().Uint32Value();
  Napi::Object o = info[5].As<Napi::Object>();
  int mode = o.Get("mode").As<Napi::Number>().Int32Value();
  uint64_t start = o.Has("start") ? big(o.Get("start")) : 0, end = o.Has("end") ? big(o.Get("end")) : 0;
  bool fresh = o.Get("fresh").ToBoolean();
  USAGE_CHECK(mode >= kCont && mode <= kRange && o.Get("event").IsNumber(), usage);
  uint32_t event = o.Get("event").As<Napi::Number>().Uint32Value();
  uint64_t steps = o.Has("steps") ? uint64_t(o.Get("steps").As<Napi::Number>().Int64Value()) : 1;
  bool search = o.Get("search").ToBoolean(), startCandidate = o.Get("startCandidate").ToBoolean();
  uint64_t stopSignals = o.Get("stopSignals").IsBigInt() ? big(o.Get("stopSignals")) : 0;
  std::vector<uint64_t> silent;
  if (o.Get("silent").IsArray()) {
    Napi::Array arr = o.Get("silent").As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) silent.push_back(big(arr.Get(i)));
  }
  int targetKind = -1;
  uint32_t targetEvent = 0;
  uint64_t targetPc = 0, targetN = 0;
  std::vector<uint8_t> targetFp;
  if (o.Get("target").IsObject()) {
    Napi::Object t = o.Get("target").As<Napi::Object>();
    targetKind = t.Get("kind").As<Napi::Number>().Int32Value();
    targetEvent = t.Get("event").As<Napi::Number>().Uint32Value();
    targetPc = t.Has("pc") ? big(t.Get("pc")) : 0;
    USAGE_CHECK(targetKind >= 0 && targetKind <= 2, usage);
    if (targetKind == 2) {
      USAGE_CHECK(t.Get("fp").IsBuffer(), usage);
      targetFp = *bytesFrom(t.Get("fp"));
    } else {
      targetN = uint64_t(t.Get("n").As<Napi::Number>().Int64Value());
    }
  }
  std::vector<uint64_t> sliceAt;
  if (o.Get("slices").IsArray()) {
    Napi::Array arr = o.Get("slices").As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) sliceAt.push_back(uint64_t(arr.Get(i).As<Napi::Number>().Int64Value()));
    USAGE_CHECK(o.Get("forkAt").IsBigInt(), usage);
  }
  uint64_t forkAt = o.Get("forkAt").IsBigInt() ? big(o.Get("forkAt")) : 0;
  return submitToTracer(info.Env(), usage, [=] {
    Debugger& d = debuggerFor(pid);
    d.mode = mode;
    d.start = start;
    d.end = end;
    if (d.event != event) {  // the interval changed outside the loop (events applied by JS)
      d.event = event;
      d.resetBoundary(pid);
      d.boundaryPending = !fresh;
    }
    if (fresh) {
      d.fresh = true;
      d.stepDone = false;
      d.boundaryPending = startCandidate;
      pid_t want = pid;
      interruptFor.compare_exchange_strong(want, 0);  // a stale interrupt from the last resume
      d.sliceAt = sliceAt;
      d.haveSliceRegs = false;
      d.ranNs = 0;
      d.hitSeq = 0;
    }
    if (forkAt) d.forkAt = forkAt;
    std::vector<StopInfo> slicesTaken;
    d.slicesTaken = &slicesTaken;
    d.steps = 0;
    d.stepsLeft = steps;
    d.search = search;
    d.stopSignals = stopSignals;
    d.last = LastTrap();
    d.targetKind = targetKind;
    d.targetEvent = targetEvent;
    d.targetPc = targetPc;
    d.targetN = targetN;
    d.targetFp = targetFp;
    std::vector<uint64_t> added;
    for (uint64_t addr : silent) {
      if (d.sw.count(addr)) continue;
      uint8_t orig;
      if (readMemory(pid, addr, &orig, 1) != 1) continue;
      writeMemory(pid, addr, "\xcc", 1);
      d.sw[addr] = orig;
      d.silent.insert(addr);
      added.push_back(addr);
    }
    replaySetDebugHook(pid, &d);
    auto r = std::make_shared<LoopResult>(replayRun(pid, *table, *events, offset, maxEvents));
    r->slices = std::move(slicesTaken);
    d.slicesTaken = nullptr;
    bool gone = r->stop.reason == "exited" || r->stop.reason == "killed";
    if (d.sliceArmed) {
      if (disarmSlice()) d.staleStops++;
      d.sliceArmed = false;
    }
    if (!gone) {
      replaySetDebugHook(pid, nullptr);
      d.drainStops(pid);
      for (uint64_t addr : added) {
        writeMemory(pid, addr, &d.sw[addr], 1);
        d.sw.erase(addr);
      }
      d.describe(pid, r->stop);
    }
    d.silent.clear();
    d.search = false;
    d.targetKind = -1;
    Outcome out;
    out.build = [r](Napi::Env env) { return loopResultToJs(env, *r); };
    return out;
  });
}

// Where a process stands, for its counts: at the boundary of `event`, or at the
// n-th arrival at pc in that interval (n = 0: unknown).
Value DebugSetPosition(const CallbackInfo& info) {
  const char* usage = "debugSetPosition(pid, event, boundary: boolean, pc: bigint, n)";
  USAGE_CHECK(info.Length() == 5 && info[0].IsNumber() && info[1].IsNumber() && info[3].IsBigInt() && info[4].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint32_t event = info[1].As<Napi::Number>().Uint32Value();
  bool boundary = info[2].ToBoolean();
  uint64_t pc = big(info[3]);
  uint64_t n = uint64_t(info[4].As<Napi::Number>().Int64Value());
  return submitToTracer(info.Env(), usage, [=] {
    Debugger& d = debuggerFor(pid);
    d.event = event;
    if (boundary) {
      d.resetBoundary(pid);
      d.boundaryPending = false;
    } else {
      d.counts.clear();
      d.exact.clear();
      d.allExact = false;
      d.watchHits = 0;
      if (n) {
        d.counts[pc] = n;
        d.exact.insert(pc);
      }
    }
    return nothing();
  });
}

// A checkpoint (forkCopy) of a stopped tracee.
Value ForkProcess(const CallbackInfo& info) {
  const char* usage = "forkProcess(pid, insnAddr: bigint): child pid";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t insn = big(info[1]);
  return submitToTracer(info.Env(), usage, [pid, insn] {
    auto it = debuggers.find(pid);
    return number(forkCopy(pid, insn, it == debuggers.end() ? nullptr : &it->second->sw));
  });
}

Value Fingerprint(const CallbackInfo& info) {
  const char* usage = "fingerprint(pid): Buffer (registers and the 64 bytes at the stack pointer)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid] {
    auto fp = std::make_shared<std::vector<uint8_t>>(fingerprint(pid));
    Outcome o;
    o.build = [fp](Napi::Env env) { return Napi::Buffer<uint8_t>::Copy(env, fp->data(), fp->size()); };
    return o;
  });
}

Value InsertBreakpoint(const CallbackInfo& info) {
  const char* usage = "insertBreakpoint(pid, addr: bigint): original byte";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = big(info[1]);
  return submitToTracer(info.Env(), usage, [pid, addr] {
    Debugger& d = debuggerFor(pid);
    uint8_t orig;
    auto it = d.sw.find(addr);
    if (it != d.sw.end()) orig = it->second;
    else {
      if (readMemory(pid, addr, &orig, 1) != 1) throw NativeError{EFAULT, "no memory for a breakpoint"};
      writeMemory(pid, addr, "\xcc", 1);
      d.sw[addr] = orig;
    }
    Outcome o;
    o.build = [orig](Napi::Env env) { return Napi::Number::New(env, orig); };
    return o;
  });
}

Value RemoveBreakpoint(const CallbackInfo& info) {
  const char* usage = "removeBreakpoint(pid, addr: bigint)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = big(info[1]);
  return submitToTracer(info.Env(), usage, [pid, addr] {
    Debugger& d = debuggerFor(pid);
    auto it = d.sw.find(addr);
    if (it != d.sw.end()) {
      uint8_t orig = it->second;
      d.sw.erase(it);
      writeMemory(pid, addr, &orig, 1);
    }
    return nothing();
  });
}

Value SetDebugRegs(const CallbackInfo& info) {
  const char* usage = "setDebugRegs(pid, slots: ({ addr: bigint, type: 0|1|3, len: 1|2|4|8 } | null)[4])";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsArray() && info[1].As<Napi::Array>().Length() == 4,
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  Napi::Array arr = info[1].As<Napi::Array>();
  std::array<Slot, 4> slots;
  for (uint32_t i = 0; i < 4; i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) continue;
    Napi::Object s = v.As<Napi::Object>();
    slots[i].used = true;
    slots[i].addr = big(s.Get("addr"));
    slots[i].type = s.Get("type").As<Napi::Number>().Int32Value();
    slots[i].len = s.Get("len").As<Napi::Number>().Int32Value();
    USAGE_CHECK((slots[i].type == 0 || slots[i].type == 1 || slots[i].type == 3) &&
                    (slots[i].len == 1 || slots[i].len == 2 || slots[i].len == 4 || slots[i].len == 8),
                usage);
  }
  return submitToTracer(info.Env(), usage, [pid, slots] {
    Debugger& d = debuggerFor(pid);
    for (int i = 0; i < 4; i++) d.slots[i] = slots[i];
    d.writeDebugRegs(pid);
    return nothing();
  });
}

// Runs on the JS thread, not on the tracer thread: wakes a waiting loop.
Value Interrupt(const CallbackInfo& info) {
  const char* usage = "interrupt(pid): boolean";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  interruptFor.store(pid);
  bool running = runningPid.load() == pid;
  if (running) syscall(SYS_tgkill, pid, pid, SIGSTOP);
  return Napi::Boolean::New(info.Env(), running);
}

Value DebugForget(const CallbackInfo& info) {
  const char* usage = "debugForget(pid)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid] {
    debuggers.erase(pid);
    return nothing();
  });
}

Value GetXState(const CallbackInfo& info) {
  const char* usage = "getXState(pid): Buffer (XSAVE area, or the 512-byte FXSAVE area)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid] {
    auto buf = std::make_shared<std::vector<uint8_t>>(16384);
    struct iovec iov = {buf->data(), buf->size()};
    if (ptrace(PTRACE_GETREGSET, pid, (void*)NT_X86_XSTATE, &iov) == 0) {
      buf->resize(iov.iov_len);
    } else {
      buf->resize(sizeof(user_fpregs_struct));
      if (ptrace(PTRACE_GETFPREGS, pid, nullptr, buf->data()) != 0)
        throw NativeError{errno, "ptrace(PTRACE_GETFPREGS)"};
    }
    Outcome o;
    o.build = [buf](Napi::Env env) { return Napi::Buffer<uint8_t>::Copy(env, buf->data(), buf->size()); };
    return o;
  });
}

Value SetXState(const CallbackInfo& info) {
  const char* usage = "setXState(pid, data: Buffer from getXState)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBuffer(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  auto data = bytesFrom(info[1]);
  return submitToTracer(info.Env(), usage, [pid, data] {
    if (data->size() == sizeof(user_fpregs_struct)) {
      if (ptrace(PTRACE_SETFPREGS, pid, nullptr, data->data()) != 0) throw NativeError{errno, "ptrace(PTRACE_SETFPREGS)"};
    } else {
      struct iovec iov = {data->data(), data->size()};
      if (ptrace(PTRACE_SETREGSET, pid, (void*)NT_X86_XSTATE, &iov) != 0)
        throw NativeError{errno, "ptrace(PTRACE_SETREGSET, NT_X86_XSTATE)"};
    }
    return nothing();
  });
}

}  // namespace

void registerDebugExports(Napi::Env env, Napi::Object exports) {
  exports.Set("debugRun", Napi::Function::New(env, DebugRun));
  exports.Set("insertBreakpoint", Napi::Function::New(env, InsertBreakpoint));
  exports.Set("removeBreakpoint", Napi::Function::New(env, RemoveBreakpoint));
  exports.Set("setDebugRegs", Napi::Function::New(env, SetDebugRegs));
  exports.Set("interrupt", Napi::Function::New(env, Interrupt));
  exports.Set("debugForget", Napi::Function::New(env, DebugForget));
  exports.Set("debugSetPosition", Napi::Function::New(env, DebugSetPosition));
  exports.Set("forkProcess", Napi::Function::New(env, ForkProcess));
  exports.Set("fingerprint", Napi::Function::New(env, Fingerprint));
  exports.Set("getXState", Napi::Function::New(env, GetXState));
  exports.Set("setXState", Napi::Function::New(env, SetXState));
}

}  // namespace rw
