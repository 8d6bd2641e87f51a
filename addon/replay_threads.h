// Threads while replaying (docs/timeline.md, "Threads"). Every recorded thread is
// made again at its clone event (replay_processes.cc, with CLONE_THREAD) and has a
// Tracee of its own (tracee.h), whose replay session holds what is the thread's:
// its registers' stop, its pending signal, whether an enter event left it at a
// syscall entry. The threads of one process share a ReplayThreads, through which
// the replay loop finds the thread a record belongs to (the threads take their
// turns inside one run of the loop), keeps brk the same for all, and ends them all
// in an exit_group or a fatal signal.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace rw {

struct Tracee;

struct ReplayThreads {
  // Every thread of the process that is still replayed (expired ones are skipped).
  std::vector<std::weak_ptr<Tracee>> members;

  // The thread that replays recorded thread `tid`, or null.
  std::shared_ptr<Tracee> byRecorded(uint32_t tid) const;
  std::vector<std::shared_ptr<Tracee>> live() const;
};

// `parent` made thread `child`: both are in the parent's ReplayThreads from now on.
void joinThreads(Tracee& parent, const std::shared_ptr<Tracee>& child);

// A thread of the process dies in its exit_group (it did not call exit itself): the
// thread that called it stands at its entry (an enter event), and runs it now;
// every thread is dying from then on, and each exit event waits for its death.
void startGroupExit(const ReplayThreads& threads);

// Every thread of the process is dying (a fatal signal, an exit_group under way).
void allDying(const ReplayThreads& threads);

}  // namespace rw
