// Replayed syscalls with one stop (PTRACE_SYSEMU): see replay_sysemu.h.
#include "replay_sysemu.h"

#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <atomic>
#include <cstring>
#include <string>

#include "replay_divergence.h"
#include "replay_processes.h"
#include "replay_sigaction.h"
#include "replay_syscallbuf.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int64_t kNrRtSigaction = 13, kNrMadvise = 28;
constexpr uint64_t kMadvDontfork = 10, kMadvWipeonfork = 18;
constexpr uint64_t kPage = 4096;

uint64_t pageUp(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

enum class Mode { kPredict, kOff, kAlways };
Mode mode() {
  static const Mode m = [] {
    const char* v = getenv("REWIND_SYSEMU");
    if (!v) return Mode::kPredict;
    std::string s(v);
    return s == "off" ? Mode::kOff : s == "always" ? Mode::kAlways : Mode::kPredict;
  }();
  return m;
}

std::atomic<uint64_t> skippedCount{0}, reenteredCount{0}, leftCount{0};
bool isError(int64_t v) { return v < 0 && v >= -4095; }

}  // namespace

// Mirrors the choices of replaySyscall (replay_loop.cc) between annulling a call and
// running it; where the two disagree the replay stays right (enterForReal, or the
// two-stop annulment at an ordinary entry) and only pays a stop more.
bool recordIsSkippable(const Row* table, const RecordView& v, const ReplaySession& s) {
  if (v.n < kSyscallFixed) return false;
  int64_t nr = int64_t(v.get32(12));
  uint64_t a[6];
  for (int i = 0; i < 6; i++) a[i] = v.get64(20 + 8 * i);
  int64_t result = int64_t(v.get64(68));
  int action = nr < kTableRows ? table[nr].action : kUnknown;
  switch (action) {
    case kExit:
    case kWaitSignal:
      return false;
    case kExecute:
    case kExecuteKeepResult:
      if (nr == kNrRtSigaction) return sigactionLikelyAnswered(v, s);
      return nr == kNrMadvise && (a[2] == kMadvDontfork || a[2] == kMadvWipeonfork) && !s.followChildren;
    case kArchPrctl:
      return !(a[0] == 0x1001 || a[0] == 0x1002);
    case kMmap:
    case kMremap:
    case kExec:
      return isError(result);
    case kBrk:
      return s.brk == 0 || pageUp(s.brk) == pageUp(uint64_t(result)) || isError(result);
    default:
      return !isFeedRegistration(nr, a, result);
  }
}

NextStop nextStopFor(const Row* table, const RecordView& v, const ReplaySession& s) {
  switch (v.kind()) {
    case kEvSyscall:
      return recordIsSkippable(table, v, s) ? NextStop::kSkippableCall : NextStop::kCallThatRuns;
    case kEvSignal:
    case kEvRdtsc:
    case kEvCpuid:
      return NextStop::kNoCall;
    default:  // an exit, a clone, an enter event: the call runs (or nothing resumes)
      return NextStop::kCallThatRuns;
  }
}

NextStop enterStopFor(const Row* table, const RecordView& enter, const RecordView* call, const ReplaySession& s) {
  bool answered = call && call->kind() == kEvSyscall && call->get32(12) == enter.get32(12) &&
                  recordIsSkippable(table, *call, s);
  return answered ? NextStop::kSkippableCall : NextStop::kCallThatRuns;
}

NextStop stopAfterFeed(const Row* table, const std::vector<uint8_t>& events, size_t at, const ReplaySession& s) {
  for (uint32_t i = s.feed.passed; i < s.feed.filled; i++) {
    uint32_t size;
    if (at + kHeaderSize > events.size()) return NextStop::kCallThatRuns;
    std::memcpy(&size, events.data() + at, 4);
    at += size;
  }
  if (at + kHeaderSize > events.size()) return NextStop::kCallThatRuns;
  RecordView v{events.data() + at, 0};
  v.n = v.size();
  if (v.n < kHeaderSize || at + v.n > events.size() || (s.recordedTid && v.tid() != s.recordedTid))
    return NextStop::kCallThatRuns;
  if (v.kind() == kEvEnter) {  // the fill ends where the thread's run does: its call's own event decides
    for (size_t pos = at + v.n; pos + kHeaderSize <= events.size();) {
      RecordView c{events.data() + pos, 0};
      c.n = c.size();
      if (c.n < kHeaderSize || pos + c.n > events.size()) break;
      if (c.tid() == v.tid()) return enterStopFor(table, v, &c, s);
      pos += c.n;
    }
    return NextStop::kCallThatRuns;
  }
  return nextStopFor(table, v, s);
}

SysemuCounts sysemuCounts() { return {skippedCount.load(), reenteredCount.load(), leftCount.load()}; }

int resumeRequestFor(pid_t pid, ReplaySession& s, NextStop next) {
  // A debugger's runs resume the tracee their own way (debugger_hook.cc).
  bool runs = next == NextStop::kExitOfCall || (next == NextStop::kCallThatRuns && mode() != Mode::kAlways);
  if (s.hook || runs || mode() == Mode::kOff) {
    leaveSkippedEntry(pid, s);
    return PTRACE_SYSCALL;
  }
  return PTRACE_SYSEMU;
}

void noteStop(ReplaySession& s, int request, const Stop& st) {
  s.skippedEntry = request == PTRACE_SYSEMU && st.kind == Stop::kSyscall;
  if (s.skippedEntry) skippedCount++;
}

void enterForReal(pid_t pid, ReplaySession& s) {
  if (!s.skippedEntry) return;
  s.skippedEntry = false;
  reenteredCount++;
  user_regs_struct r = getRegs(pid);
  uint8_t insn[2] = {0, 0};
  readMemory(pid, r.rip - 2, insn, 2);
  bool syscallInsn = (insn[0] == 0x0f && insn[1] == 0x05) || (insn[0] == 0xcd && insn[1] == 0x80);
  if (!syscallInsn) throw NativeError{EPROTO, "a skipped syscall entry that no syscall instruction precedes"};
  const int64_t nr = int64_t(r.orig_rax);
  r.rax = r.orig_rax;
  r.rip -= 2;
  setRegs(pid, r);
  // Resumed with PTRACE_SYSCALL, the skipped call reports its exit first.
  resume(pid, PTRACE_SYSCALL, 0);
  Stop st = waitStop(pid);
  if (st.kind != Stop::kSyscall) throw Diverged{"the exit of skipped syscall " + std::to_string(nr), describeStop(pid, st)};
  resume(pid, PTRACE_SYSCALL, 0);
  st = waitStop(pid);
  // a replayed child's SIGCHLD may come on the way back into the call
  while (s.followChildren && isReplayChildSignal(pid, st)) {
    resume(pid, PTRACE_SYSCALL, 0);
    st = waitStop(pid);
  }
  if (st.kind != Stop::kSyscall || int64_t(getRegs(pid).orig_rax) != nr)
    throw Diverged{"the entry of syscall " + std::to_string(nr) + " again", describeStop(pid, st)};
}

void leaveSkippedEntry(pid_t pid, ReplaySession& s) {
  if (!s.skippedEntry) return;
  s.skippedEntry = false;
  leftCount++;
  resume(pid, PTRACE_SYSCALL, 0);
  Stop st = waitStop(pid);
  if (st.kind != Stop::kSyscall) throw Diverged{"the exit of a skipped syscall", describeStop(pid, st)};
}

void settleSkippedEntry(pid_t pid, ReplaySession& s) {
  if (s.hasFedStop || s.atEntry) enterForReal(pid, s);  // not answered yet: the next run replays it as an ordinary entry
  else leaveSkippedEntry(pid, s);
}

}  // namespace rw
