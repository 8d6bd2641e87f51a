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

#include "event_format.h"
#include "ptrace_ops.h"

namespace rw {

struct Tracee;
struct ReplaySession;

struct ReplayThreads {
  // Every thread of the process that is still replayed (expired ones are skipped).
  std::vector<std::weak_ptr<Tracee>> members;
  // Threads whose exit events handed them to a sibling's exec, still to be reaped
  // when it is made (replay_thread_exec.h).
  std::vector<pid_t> endedByExec;

  // The thread that replays recorded thread `tid`, or null.
  std::shared_ptr<Tracee> byRecorded(uint32_t tid) const;
  std::vector<std::shared_ptr<Tracee>> live() const;
  // brk is the process's: a thread's brk call moves it for all.
  void setBrk(uint64_t brk) const;
};

// The thread of the same process as `s` that replays recorded thread `tid`, or null
// (always null under a debugger, which sees one thread).
std::shared_ptr<Tracee> siblingThread(const ReplaySession& s, uint32_t tid);

// An event the replay loop replays for any thread of the process without returning:
// the others (a clone, an exit, an exec, those JS handles) go back to JS, whose step
// names the thread they belong to.
bool threadSwitchable(const RecordView& v);

// A call recorded returning a restart code (-ERESTARTSYS, -ERESTARTNOINTR,
// -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK) whose thread gets no signal next: the
// signal that interrupted it went to another thread of the process, and the kernel
// restarted the call on the way back to user code (rip back to the `syscall`, rax the
// call's number or restart_syscall). Replay has no signal pending there, so the
// kernel would not: the restart is made here. (With a signal delivered next, the
// kernel's delivery does it, as when recorded.)
void restartWithoutHandler(pid_t pid, int64_t result, const RecordView* next);

// An enter event: its thread's run of user code ended at the entry of the syscall
// the event names (`st`, the stop it ran to); it stays there until the call's own
// event. Throws Diverged (replay_divergence.h) if it stopped elsewhere.
void atSyscallEntry(pid_t pid, ReplaySession& s, const Stop& st, const RecordView& v);

// `parent` made thread `child`: both are in the parent's ReplayThreads from now on.
void joinThreads(Tracee& parent, const std::shared_ptr<Tracee>& child);

// A thread of the process dies in its exit_group (it did not call exit itself): the
// thread that called it stands at its entry (an enter event), and runs it now;
// every thread is dying from then on, and each exit event waits for its death.
void startGroupExit(const ReplayThreads& threads);

// Every thread of the process is dying (a fatal signal, an exit_group under way).
void allDying(const ReplayThreads& threads);

// One thread's Tracee killed its process (Tracee::kill): the threads that no longer
// exist are gone (threads may be null: a process of one thread).
void threadsKilled(const ReplayThreads* threads);

}  // namespace rw
