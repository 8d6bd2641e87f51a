// Threads while replaying: see replay_threads.h.
#include "replay_threads.h"

#include <sys/ptrace.h>

#include "ptrace_ops.h"
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

}  // namespace rw
