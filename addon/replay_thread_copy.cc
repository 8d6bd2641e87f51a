// forkReplayedProcess (replay_thread_copy.h): the threads are checked against the
// replay's Tracees first, a clone in progress is run to its return, the process is
// copied by forkCopyThreads, and each copied thread gets its original's session.
#include "replay_thread_copy.h"

#include <errno.h>
#include <sys/ptrace.h>

#include <algorithm>
#include <string>

#include "ptrace_ops.h"
#include "replay_divergence.h"
#include "replay_processes.h"
#include "replay_threads.h"
#include "thread_copy.h"
#include "tracer_thread.h"

namespace rw {
namespace {

// Where a thread's replay stands, for its copy: the whole session but the debugger's
// hook (set for one run only) and the thread group (the copy has its own). Unlike
// ReplaySession::forkedCopy (a checkpoint of a process of one thread, which the
// debugger replays without its children), a thread keeps its enter event's entry,
// its clone in progress and followChildren: the copy's threads are made by their
// clone events as the original's were.
ReplaySession threadSessionCopy(const ReplaySession& s) {
  ReplaySession c = s;
  c.hook = nullptr;
  c.threads = nullptr;
  return c;
}

// A thread stopped inside a clone (the loop returned at its clone event: it stands
// at PTRACE_EVENT_CLONE, the call not yet returned) cannot take the fork's
// injections. It is run on to the call's return now, which is what the replay does
// next anyway, and the stop is kept as the one the replay's next resume returns
// (hasFedStop, as for a stop the program reached over fed calls).
void finishClone(Tracee& t) {
  ReplaySession& s = t.replay;
  if (!s.cloning || s.hasFedStop) return;
  resume(t.pid, PTRACE_SYSCALL, 0);
  Stop st = waitStop(t.pid);
  while (s.followChildren && isReplayChildSignal(t.pid, st)) {
    resume(t.pid, PTRACE_SYSCALL, 0);
    st = waitStop(t.pid);
  }
  if (st.kind != Stop::kSyscall)
    throw NativeError{EPROTO, "copy of replayed thread " + std::to_string(t.pid) + ": its clone did not return (" +
                                  describeStop(t.pid, st) + ")"};
  s.hasFedStop = true;
  s.fedStop = st;
}

}  // namespace

std::vector<TraceePtr> forkReplayedProcess(Tracee& t, uint64_t insn, const std::map<uint64_t, uint8_t>* sw) {
  if (t.gone) throw NativeError{ESRCH, "process " + std::to_string(t.pid) + " has ended"};
  std::vector<TraceePtr> members = t.replay.threads ? t.replay.threads->live() : std::vector<TraceePtr>{};
  if (members.empty()) members.push_back(t.shared_from_this());
  auto memberOf = [&](pid_t tid) -> TraceePtr {
    for (auto& m : members)
      if (m->pid == tid) return m;
    return nullptr;
  };
  // Every thread the kernel has is one the replay made, and the other way round: a
  // thread without a Tracee would be copied without its replay, one whose thread is
  // gone would find nothing to replay in the copy.
  std::vector<pid_t> tids = threadIds(t.pid);
  for (pid_t tid : tids)
    if (!memberOf(tid))
      throw NativeError{EINVAL, "copy of replayed process " + std::to_string(t.pid) + ": its thread " +
                                    std::to_string(tid) + " has no Tracee in its replay"};
  for (auto& m : members) {
    if (std::find(tids.begin(), tids.end(), m->pid) == tids.end())
      throw NativeError{ESRCH, "copy of replayed process " + std::to_string(t.pid) + ": its thread " +
                                   std::to_string(m->pid) + " (recorded " + std::to_string(m->replay.recordedTid) +
                                   ") is gone"};
    if (m->replay.hook) throw NativeError{EBUSY, "copy of replayed thread " + std::to_string(m->pid) + ": it is being debugged"};
    // its threads run to their deaths (an exit_group under way, a fatal signal)
    if (m->replay.exiting)
      throw NativeError{EBUSY, "copy of replayed process " + std::to_string(t.pid) + ": it is ending (thread " +
                                   std::to_string(m->pid) + " is dying): there is nothing left to copy"};
  }
  for (auto& m : members) finishClone(*m);

  ThreadsCopy copied = forkCopyThreads(t, t.pid, insn, sw);
  auto group = t.replay.threads ? std::make_shared<ReplayThreads>() : nullptr;
  std::vector<TraceePtr> out;
  for (const ThreadCopy& pair : copied.threads) {
    TraceePtr original = memberOf(pair.original);
    if (!original) {  // a thread appeared meanwhile: cannot be, every thread is stopped
      copied.process->kill();
      throw NativeError{EPROTO, "copy of replayed process " + std::to_string(t.pid) + ": thread " +
                                    std::to_string(pair.original) + " was copied but has no Tracee"};
    }
    TraceePtr copy = pair.copy == copied.process->pid ? copied.process : std::make_shared<Tracee>(pair.copy);
    copy->replay = threadSessionCopy(original->replay);
    copy->cpuid = original->cpuid;
    if (group) {
      group->members.push_back(copy);
      copy->replay.threads = group;
    }
    out.push_back(copy);
  }
  return out;
}

uint64_t pendingSignalsOfProcess(pid_t pid) {
  uint64_t pending = 0;
  for (pid_t tid : threadIds(pid)) pending |= pendingSignals(tid);
  return pending;
}

}  // namespace rw
