// Threads while replaying: see replay_threads.h.
#include "replay_threads.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>

#include "ptrace_ops.h"
#include "replay_divergence.h"
#include "tracee.h"

namespace rw {
namespace {

constexpr int kNrExitGroup = 231;

}  // namespace

std::shared_ptr<Tracee> ReplayThreads::byRecorded(uint32_t tid) const {
  for (auto& w : members)
    if (auto t = w.lock(); t && !t->gone && t->replay.recordedTid == tid) return t;
  return nullptr;
}

std::vector<std::shared_ptr<Tracee>> ReplayThreads::live() const {
  std::vector<std::shared_ptr<Tracee>> out;
  for (auto& w : members)
    if (auto t = w.lock(); t && !t->gone) out.push_back(t);
  return out;
}

void ReplayThreads::setBrk(uint64_t brk) const {
  for (auto& t : live()) t->replay.brk = brk;
}

std::shared_ptr<Tracee> siblingThread(const ReplaySession& s, uint32_t tid) {
  if (!s.threads || s.hook) return nullptr;
  return s.threads->byRecorded(tid);
}

bool threadSwitchable(const RecordView& v) {
  if (v.kind() == kEvSyscall) return v.n >= kSyscallFixed && v.get32(12) != 59 && v.get32(12) != 322;
  return v.kind() == kEvSignal || v.kind() == kEvRdtsc || v.kind() == kEvCpuid || v.kind() == kEvEnter;
}

void atSyscallEntry(pid_t pid, ReplaySession& s, const Stop& st, const RecordView& v) {
  int64_t nr = int64_t(v.get32(12));
  if (st.kind != Stop::kSyscall || uint32_t(getRegs(pid).orig_rax) != uint32_t(nr))
    throw Diverged{"the entry of syscall " + std::to_string(nr), describeStop(pid, st)};
  s.atEntry = true;
  s.entryNr = nr;
}

void restartWithoutHandler(pid_t pid, int64_t result, const RecordView* next) {
  constexpr int64_t kRestartSys = -512, kRestartNoIntr = -513, kRestartNoHand = -514, kRestartBlock = -516;
  constexpr uint64_t kNrRestartSyscall = 219;
  if (result != kRestartSys && result != kRestartNoIntr && result != kRestartNoHand && result != kRestartBlock) return;
  if (next && next->kind() == kEvSignal && next->get32(16) == kSigAtSyscallExit) return;
  user_regs_struct r = getRegs(pid);
  r.rax = result == kRestartBlock ? kNrRestartSyscall : r.orig_rax;
  r.rip -= 2;
  setRegs(pid, r);
}

void joinThreads(Tracee& parent, const std::shared_ptr<Tracee>& child) {
  auto& group = parent.replay.threads;
  if (!group) {
    group = std::make_shared<ReplayThreads>();
    group->members.push_back(parent.weak_from_this());
  }
  group->members.push_back(child);
  child->replay.threads = group;
}

void startGroupExit(const ReplayThreads& threads) {
  for (auto& t : threads.live()) {
    if (!t->replay.atEntry || t->replay.entryNr != kNrExitGroup) continue;
    resume(t->pid, PTRACE_SYSCALL, 0);
    allDying(threads);
    return;
  }
}

void allDying(const ReplayThreads& threads) {
  for (auto& t : threads.live()) t->replay.exiting = true;
}

void threadsKilled(const ReplayThreads* threads) {
  if (!threads) return;
  // killTracee reaped every thread of the group; a tid that exists is another
  // process's by now, or a thread that outlived a kill that was not sent (its
  // thread had ended by itself): left to its own Tracee
  for (auto& t : threads->live())
    if (::kill(t->pid, 0) != 0 && errno == ESRCH) {
      t->gone = true;
      t->mem.reset();
    }
}

}  // namespace rw
