#include "replay_loop.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "cpuid_emulation.h"
#include "event_format.h"
#include "memory_io.h"
#include "ptrace_ops.h"
#include "replay_divergence.h"
#include "replay_files.h"
#include "replay_emu_map.h"
#include "replay_images.h"
#include "replay_sigaction.h"
#include "replay_syscallbuf.h"
#include "replay_sysemu.h"
#include "replay_processes.h"
#include "replay_threads.h"
#include "replay_thread_exec.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int kNrMmap = 9, kNrMunmap = 11, kNrRtSigaction = 13, kNrMadvise = 28;
constexpr uint64_t kMadvDontfork = 10, kMadvWipeonfork = 18;
// A syscall number the table does not know (recorded as failing with ENOSYS).
// Its arguments are compared in full.
const Row kUnknownNumber = {kEmulate, kCheckNone, 0xfff << kArgBitsShift, 0, {}};
constexpr uint64_t kPage = 4096;

using Session = ReplaySession;

constexpr uint64_t kCloneThreadFlag = 0x10000;

uint64_t pageUp(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }
bool isError(int64_t v) { return v < 0 && v >= -4095; }

// The recorded and replayed arguments agree in every bit the kernel reads (the
// syscall's arity and argument widths, syscall_abi.h): a register the call does
// not read may hold anything, and differs when the code that ran before differs
// in ways that do not matter (another CPU's string functions, docs/portability.md).
bool sameArguments(const Row& row, const uint64_t recorded[6], const uint64_t replayed[6]) {
  for (int i = 0; i < 6; i++)
    if ((recorded[i] ^ replayed[i]) & argMask(row, i)) return false;
  return true;
}

// `next`: what the loop expects to stop at, which says whether a syscall entry
// reached may be skipped by the kernel (PTRACE_SYSEMU, replay_sysemu.h).
Stop resumeAndWait(pid_t pid, Session& s, NextStop next) {
  if (s.hasFedStop) {  // the program already ran to this stop, over fed calls
    s.hasFedStop = false;
    s.userCodeNext = false;
    return s.fedStop;
  }
  int request = resumeRequestFor(pid, s, next);
  // The stop we resume from may no longer be the signal's own delivery stop (a
  // checkpoint was forked there, gdb looked around): the kernel then invents a
  // siginfo for the signal unless it is given the recorded one.
  if (s.pendingSig) ptrace(PTRACE_SETSIGINFO, pid, nullptr, &s.pendingInfo);
  if (s.hook && s.userCodeNext) {
    s.userCodeNext = false;
    return s.hook->runUserCode(pid, s.pendingSig);
  }
  resume(pid, request, s.pendingSig);
  s.pendingSig = 0;
  Stop st = waitStop(pid);
  while (s.followChildren && isReplayChildSignal(pid, st)) {
    resume(pid, request, 0);
    st = waitStop(pid);
  }
  noteStop(s, request, st);
  return st;
}

Stop expectSyscallExit(pid_t pid, Session& s, int64_t nr, const uint64_t a[6]) {
  Stop st = resumeAndWait(pid, s, NextStop::kExitOfCall);
  if (st.kind != Stop::kSyscall) throw Diverged{"the return of " + describeCall(nr, a), describeStop(pid, st)};
  return st;
}

void applyWrites(pid_t pid, const RecordView& v, uint32_t nwrites) {
  size_t at = kSyscallFixed;
  for (uint32_t i = 0; i < nwrites; i++) {
    if (at + 12 > v.n) throw NativeError{EINVAL, "syscall record overruns its size"};
    uint64_t addr = v.get64(at);
    uint32_t len = v.get32(at + 8);
    at += 12;
    if (at + len > v.n) throw NativeError{EINVAL, "syscall record overruns its size"};
    writeMemory(pid, addr, v.p + at, len);
    at += len;
  }
}

void replaySyscall(pid_t pid, Session& s, const Row* table, const RecordView& v, const RecordView* next,
                   LoopResult& out) {
  int64_t nr = int64_t(v.get32(12));
  uint32_t nwrites = v.get32(16);
  uint64_t a[6];
  for (int i = 0; i < 6; i++) a[i] = v.get64(20 + 8 * i);
  int64_t result = int64_t(v.get64(68));
  uint32_t checkLen = v.get32(76), checkCrc = v.get32(80);

  bool cloning = s.cloning;
  s.cloning = false;
  bool atEntry = s.atEntry;
  s.atEntry = false;
  if (s.exiting) {
    s.exitCalled = true;
    return;  // its exit_group runs already (startGroupExit)
  }
  if (!cloning && !atEntry) {
    Stop st = resumeAndWait(pid, s, recordIsSkippable(table, v, s) ? NextStop::kSkippableCall : NextStop::kCallThatRuns);
    if (st.kind != Stop::kSyscall) throw Diverged{describeCall(nr, a), describeStop(pid, st)};
  }
  user_regs_struct r = cloning ? s.cloneEntry : getRegs(pid);
  uint64_t got[6];
  args6(r, got);
  // A number the table does not know was recorded failing with ENOSYS (syscall(-1)).
  const Row& row = nr < kTableRows && table[nr].action != kUnknown ? table[nr] : kUnknownNumber;
  // The kernel reads the number from the low 32 bits (syscall(-1) is 0xffffffff).
  if (uint32_t(r.orig_rax) != uint32_t(nr) || !sameArguments(row, a, got))
    throw Diverged{describeCall(nr, a), describeCall(int64_t(r.orig_rax), got)};
  // From here on the call runs with the replay's own registers: they agree with the
  // recorded ones in every bit the kernel reads, and the rest stay the program's.
  std::memcpy(a, got, sizeof a);
  if (row.check != kCheckNone) {
    std::vector<uint8_t> in = gatherInput(pid, row.check, a, 1ull << 30);
    if (in.size() != checkLen || crc32(0, in.data(), in.size()) != checkCrc)
      throw Diverged{describeCall(nr, a) + " writing " + std::to_string(checkLen) + " recorded bytes",
                     "the same call writing " + std::to_string(in.size()) + " different bytes"};
    bool echoed = s.echoMarked ? (v.flags() & kSysEchoed) != 0 : uint32_t(a[0]) == 1 || uint32_t(a[0]) == 2;
    if ((row.flags & kFlagEcho) && echoed && result > 0) {
      in.resize(std::min<size_t>(in.size(), size_t(result)));
      out.echo.emplace_back(int(uint32_t(a[0])), std::move(in));
    }
  }

  auto annul = [&] {
    if (s.skippedEntry) {  // the kernel skips the call: its answer, at this one stop
      r.rax = uint64_t(result);
      setRegs(pid, r);
      return;
    }
    r.orig_rax = uint64_t(-1);
    setRegs(pid, r);
    expectSyscallExit(pid, s, nr, a);
    user_regs_struct x = getRegs(pid);
    x.rax = uint64_t(result);
    x.orig_rax = uint64_t(nr);  // keeps the kernel's restart logic as it was when recorded
    setRegs(pid, x);
  };
  // Runs a (possibly rewritten) call for real and puts back the program's registers;
  // returns what the call returned.
  auto execute = [&](int64_t runNr, const uint64_t runArgs[6], bool checkResult, int64_t expect) -> int64_t {
    enterForReal(pid, s);
    user_regs_struct x = r;
    x.orig_rax = uint64_t(runNr);
    setArgs(x, runArgs);
    setRegs(pid, x);
    expectSyscallExit(pid, s, nr, a);
    x = getRegs(pid);
    if (checkResult && int64_t(x.rax) != expect) {
      char buf[160];
      snprintf(buf, sizeof buf, " returning %lld", (long long)expect);
      char got[64];
      snprintf(got, sizeof got, " returning %lld", (long long)int64_t(x.rax));
      throw Diverged{describeCall(nr, a) + buf, describeCall(runNr, runArgs) + got};
    }
    int64_t ran = int64_t(x.rax);
    bool rewritten = runNr != nr || std::memcmp(runArgs, a, sizeof a) != 0;
    if (!rewritten && ran == result) return ran;  // e.g. rt_sigreturn: leave what the kernel restored
    if (rewritten) {
      setArgs(x, a);
      x.orig_rax = uint64_t(nr);
    }
    x.rax = uint64_t(result);
    setRegs(pid, x);
    return ran;
  };

  if (cloning) {
    // The child exists (clone event): the call runs on to its exit, which a vfork
    // parent reaches once the child has exec'd or exited.
    expectSyscallExit(pid, s, nr, a);
    user_regs_struct x = getRegs(pid);
    x.rax = uint64_t(result);
    x.orig_rax = uint64_t(nr);
    x.rdi = r.rdi;
    x.rsi = r.rsi;
    setRegs(pid, x);
    applyWrites(pid, v, nwrites);
    return;
  }
  switch (row.action) {
    case kExit:
      enterForReal(pid, s);
      s.exitCalled = true;
      s.groupExitCalled = nr == 231;  // exit_group
      return;  // the exit event that follows resumes it
    case kWaitSignal:
      enterForReal(pid, s);  // before the signal is queued: it would come on the way back in
      if (next && next->kind() == kEvSignal) {
        syscall(SYS_tkill, pid, int(next->get32(12)));
        s.signalQueued = true;
      }
      execute(nr, a, true, result);
      break;
    case kExecute:
    case kExecuteKeepResult:
      // Under a debugger the program's forks are not replayed, so these only matter to
      // checkpoints, which they would break (a copy without the region, or with it
      // zeroed); a replay that makes the forks (followChildren) needs them.
      if (nr == kNrMadvise && (a[2] == kMadvDontfork || a[2] == kMadvWipeonfork) && !s.followChildren) annul();
      else if (nr == kNrRtSigaction && sigactionAnswered(pid, s, v, a)) annul();
      else if (nr == kNrRtSigaction) execute(nr, a, true, result), sigactionRan(pid, s, a, result);
      else execute(nr, a, row.action == kExecute, result);
      break;
    case kArchPrctl:
      if (a[0] == 0x1001 || a[0] == 0x1002) execute(nr, a, true, result);
      else annul();
      break;
    case kMmap: {
      if (isError(result)) { annul(); break; }
      uint64_t flags = a[3];
      // A private anonymous mapping stands in: file contents and shared memory are
      // mapped over it by the map-file event that follows (src/replay/emulated-files.ts).
      uint64_t share = 2;
      uint64_t keep = flags & (0x100 /* GROWSDOWN */ | 0x4000 /* NORESERVE */ | 0x20000 /* STACK */);
      uint64_t m[6] = {uint64_t(result), a[1], a[2], share | 0x20 /* ANONYMOUS */ | 0x10 /* FIXED */ | keep,
                       uint64_t(-1), 0};
      execute(kNrMmap, m, true, result);
      break;
    }
    case kBrk: {
      uint64_t from = pageUp(s.brk), to = pageUp(uint64_t(result));
      if (s.brk == 0 || from == to || isError(result)) {
        annul();
      } else if (to > from) {
        uint64_t m[6] = {from, to - from, 3 /* RW */, 0x32 /* PRIVATE|ANONYMOUS|FIXED */, uint64_t(-1), 0};
        execute(kNrMmap, m, true, int64_t(from));
      } else {
        uint64_t m[6] = {to, from - to, 0, 0, 0, 0};
        execute(kNrMunmap, m, true, 0);
      }
      if (!isError(result)) {
        s.brk = uint64_t(result);
        if (s.threads) s.threads->setBrk(s.brk);
      }
      break;
    }
    case kMremap: {
      if (isError(result)) { annul(); break; }
      uint64_t m[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
      if (uint64_t(result) != a[0]) {
        m[3] |= 3;  // MREMAP_MAYMOVE | MREMAP_FIXED
        m[4] = uint64_t(result);
      }
      execute(nr, m, true, result);
      break;
    }
    case kExec:
      if (isError(result)) { annul(); break; }
      enterForReal(pid, s);
      s.feed = BufferFeed{};  // gone with the old image
      s.execPending = true;  // JS turns the process into a fresh stub and rebuilds it
      return;
    default:
      if (isFeedRegistration(nr, a, result)) {  // the syscall buffer's library: map its replay feed
        // (a thread's own buffer gets the first free slot: the first thread's is taken;
        // the tries after the first are injected at the call's instruction)
        uint64_t m[6];
        feedMmapArgs(m, 0);
        int64_t mapped = execute(kNrMmap, m, false, 0);
        for (uint32_t slot = 1; uint64_t(mapped) != m[0] && feedMmapArgs(m, slot); slot++)
          mapped = injectSyscall(pid, r.rip - 2, kNrMmap, m);
        if (uint64_t(mapped) == m[0]) feedInstall(pid, s.feed, a, mapped);
        break;
      }
      annul();
      break;
  }
  applyWrites(pid, v, nwrites);
  restartWithoutHandler(pid, result, next);
}

void replaySignal(pid_t pid, Session& s, const RecordView& v) {
  int sig = int(v.get32(12));
  uint32_t how = v.get32(16);
  if (how == kSigAtSyscallExit && !s.signalQueued) syscall(SYS_tkill, pid, sig);
  s.signalQueued = false;
  Stop st = resumeAndWait(pid, s, NextStop::kNoCall);
  if (st.kind != Stop::kSignal || st.sig != sig)
    throw Diverged{"signal " + std::to_string(sig), describeStop(pid, st)};
  std::memcpy(&s.pendingInfo, v.p + 20, kSiginfoSize);
  if (how == kSigAtSyscallExit) ptrace(PTRACE_SETSIGINFO, pid, nullptr, &s.pendingInfo);
  s.pendingSig = sig;
  sigactionForget(s);  // its delivery may reset a handler (SA_RESETHAND)
}

void replayTsc(pid_t pid, Session& s, const RecordView& v) {
  uint64_t tsc = v.get64(12);
  uint32_t aux = v.get32(20), len = v.get32(24);
  Stop st = resumeAndWait(pid, s, NextStop::kNoCall);
  if (st.kind != Stop::kSignal || st.sig != SIGSEGV)
    throw Diverged{len == 3 ? "rdtscp" : "rdtsc", describeStop(pid, st)};
  user_regs_struct r = getRegs(pid);
  uint8_t insn[3] = {0, 0, 0};
  readMemory(pid, r.rip, insn, 3);
  bool ok = insn[0] == 0x0f && (len == 2 ? insn[1] == 0x31 : insn[1] == 0x01 && insn[2] == 0xf9);
  if (!ok) throw Diverged{len == 3 ? "rdtscp" : "rdtsc", "a SIGSEGV that is not at a time-stamp instruction"};
  r.rax = tsc & 0xffffffffu;
  r.rdx = tsc >> 32;
  if (len == 3) r.rcx = aux;
  r.rip += len;
  setRegs(pid, r);
}

// How many records from `at` on belong to process `tid`, before another's. Asked
// before every event the loop handles, as `at` moves through the run: counted once
// per run and then taken down by the records `at` passed (counting the whole rest of
// the run each time was quadratic in its length: ~25 ms of a make's replay).
class OwnRun {
 public:
  uint32_t from(const std::vector<uint8_t>& events, size_t at, uint32_t tid) {
    if (tid == tid_ && at >= at_ && at <= end_) {
      for (; at_ < at; left_--) at_ += RecordView{events.data() + at_, events.size() - at_}.size();
      if (at_ == at) return left_;
    }
    tid_ = tid;
    at_ = end_ = at;
    left_ = 0;
    while (end_ + kHeaderSize <= events.size()) {
      RecordView v{events.data() + end_, events.size() - end_};
      if (v.tid() != tid || v.size() < kHeaderSize) break;
      left_++;
      end_ += v.size();
    }
    return left_;
  }

 private:
  uint32_t tid_ = 0, left_ = 0;
  size_t at_ = 0, end_ = 0;  // the run's records from at_ (left_ of them) end at end_
};

void passRecords(const std::vector<uint8_t>& events, size_t& at, uint32_t n, LoopResult& out) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t size;
    std::memcpy(&size, events.data() + at, 4);
    at += size;
    out.eventCount++;
  }
  out.served += n;
}

// The library serves the buffered calls from `at` on in-process (replay_syscallbuf.cc):
// fill its feed, run the program to its next stop (kept for the event it belongs to)
// and pass the events it replayed. True when `at` moved.
// Under a debugger the hook says how far the feed may go (its traps see where the
// library is), the resume is the program's own code with its traps, and a stop of
// the debugger in the middle of the fill counts what the library took before it.
bool serveBuffered(pid_t pid, Session& s, const Row* table, const std::vector<uint8_t>& events, size_t& at,
                   uint32_t room, LoopResult& out) {
  // A thread standing at a syscall's entry (its enter event) is inside that call: the
  // event at `at` is its exit, never the library's to serve.
  if (s.hasFedStop || s.atEntry) return false;
  if (s.hook) room = s.hook->feedRoom(s.feed, room);
  if (!feedReady(pid, s.feed, table, events, at, room)) return false;
  if (s.hook) {
    s.hook->feedBegin(s.feed.address, s.feed.passed);
    s.userCodeNext = true;
  }
  uint32_t before = s.feed.passed;
  try {
    s.fedStop = resumeAndWait(pid, s, s.hook ? NextStop::kCallThatRuns : stopAfterFeed(table, events, at, s));
  } catch (const DebugStop&) {
    passRecords(events, at, feedStopped(pid, s.feed), out);
    s.hook->feedEnd(s.feed.passed);
    throw;
  }
  s.hasFedStop = true;
  if (s.fedStop.kind == Stop::kExited || s.fedStop.kind == Stop::kKilled) {
    s.feed = BufferFeed{};  // gone: the event at `at` reports how
    if (s.hook) s.hook->feedEnd(before);
    return false;
  }
  uint32_t taken = feedTaken(pid, s.feed, events, at);
  if (s.hook) s.hook->feedEnd(before + taken);
  passRecords(events, at, taken, out);
  return taken > 0;
}

}  // namespace

void replaySetProcess(Tracee& t, uint32_t recordedPid, bool followChildren, bool echoMarked) {
  t.replay.recordedTid = recordedPid;
  t.replay.followChildren = followChildren;
  t.replay.echoMarked = echoMarked;
}

namespace {

// The events of thread `t` from `at` on (replayRun). Returns the thread of the same
// process to go on with at `at` (its records follow), or null when `out` is complete.
std::shared_ptr<Tracee> replayThreadRun(Tracee& t, bool firstThread, const std::vector<Row>& table,
                                        const std::vector<uint8_t>& events, size_t offset, size_t& at,
                                        uint32_t maxEvents, LoopResult& out) {
  if (t.gone) throw NativeError{ESRCH, "process " + std::to_string(t.pid) + " has ended"};
  const pid_t pid = t.pid;
  Session& s = t.replay;
  feedNewBatch(s.feed);
  sigactionForget(s);  // anything may have run since the last run
  auto view = [&](size_t pos, RecordView& v) {
    if (pos + kHeaderSize > events.size()) return false;
    v = RecordView{events.data() + pos, 0};
    v.n = v.size();
    if (v.n < kHeaderSize || pos + v.n > events.size()) throw NativeError{EINVAL, "event record overruns its chunk"};
    return true;
  };
  OwnRun ownRun;
  try {
    RecordView v{};
    // The next record of the same process (records of others come between).
    auto nextOwn = [&](size_t pos, RecordView& nv) {
      while (view(pos, nv)) {
        if (!s.recordedTid || nv.tid() == s.recordedTid) return true;
        pos += nv.n;
      }
      return false;
    };
    while (out.eventCount < maxEvents && view(at, v)) {
      // The threads of a process take turns in the recorded order, in one run.
      auto sibling = s.recordedTid && v.tid() != s.recordedTid ? siblingThread(s, v.tid()) : nullptr;
      if (sibling && threadSwitchable(v)) return sibling;
      if (sibling || (!firstThread && !threadSwitchable(v))) {
        out.consumed = at - offset;
        out.stop.reason = "batch";
        return nullptr;
      }
      if (s.recordedTid && v.tid() != s.recordedTid) {
        // Another process's event: replayed by its own process, if at all.
        at += v.n;
        out.eventCount++;
        if (s.hook && s.hook->afterOtherEvent(pid, out.stop)) {
          out.consumed = at - offset;
          return nullptr;
        }
        continue;
      }
      // In-process service stops at the end of this process's own run of records.
      uint32_t room = maxEvents - out.eventCount;
      if (s.recordedTid) room = std::min(room, ownRun.from(events, at, s.recordedTid));
      if (!s.cloning && serveBuffered(pid, s, table.data(), events, at, room, out)) continue;
      RecordView nextView{};
      bool hasNext = nextOwn(at + v.n, nextView);
      s.userCodeNext = !s.cloning && !s.atEntry;
      switch (v.kind()) {
        case kEvSyscall:
          if (v.n < kSyscallFixed) throw NativeError{EINVAL, "short syscall record"};
          replaySyscall(pid, s, table.data(), v, hasNext ? &nextView : nullptr, out);
          break;
        case kEvSignal:
          replaySignal(pid, s, v);
          break;
        case kEvRdtsc:
          replayTsc(pid, s, v);
          break;
        case kEvEnter: {
          // A call that will only be answered waits at a skipped entry (replay_sysemu.h)
          NextStop call = enterStopFor(table.data(), v, hasNext ? &nextView : nullptr, s);
          Stop st = resumeAndWait(pid, s, call);
          if (call != NextStop::kSkippableCall) enterForReal(pid, s);  // a stop the feed ran to
          atSyscallEntry(pid, s, st, v);
          break;
        }
        case kEvClone: {
          bool thread = v.get64(20) & kCloneThreadFlag;
          // A child process is not replayed under a debugger (its parent sees only
          // results); a thread always is: it shares the memory the debugger shows.
          if (!s.followChildren && !thread) break;
          const std::string what = thread ? "the creation of thread " : "the creation of process ";
          if (!s.atEntry) {
            Stop st = resumeAndWait(pid, s, NextStop::kCallThatRuns);
            if (st.kind != Stop::kSyscall) throw Diverged{what + std::to_string(v.get32(12)), describeStop(pid, st)};
            enterForReal(pid, s);  // a stop the feed ran to
          }
          s.atEntry = false;
          user_regs_struct entry = getRegs(pid);
          pid_t child;
          try {
            child = replayCreateChild(pid, entry, v);
          } catch (const ReplayCloneError& e) {
            throw Diverged{what + std::to_string(v.get32(12)), e.what};
          }
          s.cloning = true;
          s.cloneEntry = entry;
          auto made = std::make_shared<Tracee>(child);
          Session& c = made->replay;
          c.brk = s.brk;
          c.recordedTid = v.get32(12);
          c.followChildren = s.followChildren;
          c.echoMarked = s.echoMarked;
          c.sigaction.oldActionsRecorded = s.sigaction.oldActionsRecorded;
          // A forked child has its own copy of the feed (private memory); one in the
          // parent's memory has none of its own.
          if (!(v.get64(20) & 0x100 /* CLONE_VM */)) c.feed = s.feed;
          made->cpuid = t.cpuid;
          if (thread) joinThreads(t, made);
          out.child = std::move(made);
          at += v.n;
          out.eventCount++;
          out.consumed = at - offset;
          out.stop.reason = "clone";
          out.stop.num("child", child);
          out.stop.num("recordedChild", int64_t(v.get32(12)));
          out.stop.big("flags", v.get64(20));
          return nullptr;
        }
        case kEvCpuid: {
          Stop st = resumeAndWait(pid, s, NextStop::kNoCall);
          std::string why = cpuidReplayEvent(pid, t.cpuid, st, v);
          if (!why.empty()) throw Diverged{"cpuid leaf 0x" + hex32(v.get32(12)) + " subleaf 0x" + hex32(v.get32(16)),
                                           st.kind == Stop::kSignal ? why : describeStop(pid, st)};
          break;
        }
        case kEvExit: {
          bool killed = v.get32(12) == 1;
          int code = int(v.get32(16));
          // SIGKILL (the OOM killer, kill -9) never shows as a signal event: the
          // recording just ends there, and so does the replay.
          bool sigkill = killed && code == SIGKILL && !s.pendingSig;
          // A thread a sibling's exec ends (reported exiting with 0) dies when that
          // exec is made (replay_thread_exec.h).
          if (!killed && code == 0 && leftToSiblingExec(t)) {
            out.eventCount++;
            out.consumed = at + v.n - offset;
            out.stop.reason = "exited";
            out.stop.num("code", 0);
            return nullptr;
          }
          // A thread that did not call exit itself dies in its process's exit_group,
          // whose caller stands at its entry: it runs now, and takes every thread.
          if (s.threads && !s.exiting && !s.exitCalled && !sigkill) startGroupExit(*s.threads);
          if (sigkill) kill(pid, SIGKILL);
          Stop st = sigkill || s.exiting ? waitStop(pid) : resumeAndWait(pid, s, NextStop::kCallThatRuns);
          bool ok = killed ? st.kind == Stop::kKilled && st.sig == code : st.kind == Stop::kExited && st.code == code;
          if (!ok) throw Diverged{killed ? "death by signal " + std::to_string(code) : "exit with status " + std::to_string(code),
                                  describeStop(pid, st)};
          out.eventCount++;
          out.consumed = at + v.n - offset;
          out.stop.reason = killed ? "killed" : "exited";
          out.stop.num(killed ? "signal" : "code", code);
          // whose death, and how many threads of its process live on (a debugger
          // goes on with them: src/debug/forward.ts)
          out.stop.num("tid", s.recordedTid);
          out.stop.num("threadsLeft", s.threads ? double(s.threads->live().size() - 1) : 0);
          // A fatal signal takes every thread of the process: their deaths follow. So
          // does an exit_group that ran: the threads left are ones whose own exit the
          // kernel reports only now (a first thread that called pthread_exit).
          if ((killed || s.groupExitCalled) && s.threads) allDying(*s.threads);
          t.ended();
          return nullptr;
        }
        default:
          if (s.hook && s.hook->armedFor(v.kind())) {
            // the program runs to the point (a DebugStop); anything else first is a divergence
            s.userCodeNext = false;
            s.hook->runToPoint(pid, s.pendingSig);
          }
          // an ELF image JS has mapped once already (replay_images.h), a data file whose
          // pieces JS has checked (replay_emu_map.h)
          if (v.kind() == kEvMapFile && !s.hook && (replayKnownImageMap(pid, t.cpuid, v) || replayKnownEmuMap(pid, v))) break;
          out.consumed = at - offset;
          out.stop.reason = "need-js";
          out.stop.num("kind", v.kind());
          return nullptr;
      }
      at += v.n;
      out.eventCount++;
      if (s.execPending) {
        s.execPending = false;
        out.consumed = at - offset;
        out.stop.reason = "exec";
        return nullptr;
      }
      if (s.hook && s.hook->afterEvent(pid, v, hasNext ? &nextView : nullptr, out.stop)) {
        out.consumed = at - offset;
        return nullptr;
      }
    }
    out.consumed = at - offset;
    out.stop.reason = at >= events.size() ? "end-of-buffer" : "batch";
  } catch (const Diverged& d) {
    s.hasFedStop = false;
    out.consumed = at - offset;
    out.stop.reason = "divergence";
    out.stop.str("expected", d.expected);
    out.stop.str("actual", d.actual);
    out.stop.num("tid", s.recordedTid);
  } catch (const DebugStop& d) {
    s.hasFedStop = false;
    out.consumed = at - offset;  // the event in progress is not consumed
    out.stop = d.info;
  }
  return nullptr;
}

// The thread that ran left at an ordinary stop (replay_sysemu.h): what runs between
// two runs of the loop (JS, a debugger, a copy) resumes it as it likes. (The other
// threads of the loop's own run never resume it: a thread may wait at a skipped
// entry through their turns.)
void settleAfterRun(Tracee& t, LoopResult& out) {
  if (t.gone || t.replay.exiting || !t.replay.skippedEntry) return;
  try {
    settleSkippedEntry(t.pid, t.replay);
  } catch (const Diverged& d) {
    if (out.stop.reason == "divergence") return;  // the first one is the one to report
    out.stop = StopInfo{};
    out.stop.reason = "divergence";
    out.stop.str("expected", d.expected);
    out.stop.str("actual", d.actual);
    out.stop.num("tid", t.replay.recordedTid);
  }
}

}  // namespace

LoopResult replayRun(Tracee& t, const std::vector<Row>& table, const std::vector<uint8_t>& events,
                     size_t offset, uint32_t maxEvents) {
  LoopResult out;
  size_t at = offset;
  auto next = replayThreadRun(t, true, table, events, offset, at, maxEvents, out);
  while (next) {
    auto thread = next;  // held while it runs
    if (thread->replay.hook && thread->replay.hook->enterThread(*thread, out.stop)) {  // a debug run goes on in it
      out.consumed = at - offset;  // (or stops at its target, the first state of the thread's interval)
      break;
    }
    next = replayThreadRun(*thread, false, table, events, offset, at, maxEvents, out);
  }
  if (t.replay.threads) {
    for (auto& thread : t.replay.threads->live()) settleAfterRun(*thread, out);
  } else {
    settleAfterRun(t, out);
  }
  // Between a debugger's runs the program may run code of gdb's (a function call in
  // a copy): the library must find nothing in the feed to take, in any thread's
  // (each thread that registered a buffer has a feed of its own).
  if (!t.gone && t.replay.hook) {
    std::vector<TraceePtr> threads = t.replay.threads ? t.replay.threads->live() : std::vector<TraceePtr>{};
    if (threads.empty()) threads.push_back(t.shared_from_this());
    for (auto& thread : threads) {
      try {
        if (!thread->gone) feedDisarm(thread->pid, thread->replay.feed);
      } catch (const NativeError&) {  // the process is gone (a divergence reported how)
      }
    }
  }
  return out;
}

}  // namespace rw
