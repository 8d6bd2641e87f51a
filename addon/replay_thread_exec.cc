// An exec from a thread other than the first, in replay: see replay_thread_exec.h.
#include "replay_thread_exec.h"

#include <errno.h>
#include <sys/ptrace.h>

#include <memory>
#include <string>
#include <vector>

#include "ptrace_ops.h"
#include "replay_threads.h"
#include "tracee.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int64_t kNrExecve = 59, kNrExecveat = 322, kNrExitGroup = 231;

std::string describe(const Stop& st) {
  switch (st.kind) {
    case Stop::kExited: return "an exit with status " + std::to_string(st.code);
    case Stop::kKilled: return "a death by signal " + std::to_string(st.sig);
    case Stop::kSignal: return "a stop with signal " + std::to_string(st.sig);
    case Stop::kEvent: return "ptrace event " + std::to_string(st.event);
    default: return "a syscall stop";
  }
}

}  // namespace

bool leftToSiblingExec(Tracee& t) {
  const auto group = t.replay.threads;
  if (!group || t.replay.exitCalled || t.replay.exiting) return false;
  bool execing = false;
  for (auto& o : group->live()) {
    if (o.get() == &t || !o->replay.atEntry) continue;
    if (o->replay.entryNr == kNrExitGroup) return false;  // startGroupExit's case
    execing |= o->replay.entryNr == kNrExecve || o->replay.entryNr == kNrExecveat;
  }
  if (!execing) return false;
  group->endedByExec.push_back(t.pid);
  t.ended();
  return true;
}

void execFromThread(Tracee& leader, Tracee& thread) {
  const auto group = thread.replay.threads;
  if (&leader == &thread || !group || group != leader.replay.threads)
    throw NativeError{EINVAL, "thread " + std::to_string(thread.pid) + " is not a thread of process " +
                                  std::to_string(leader.pid) + " other than its first"};
  if (leader.gone || thread.gone) throw NativeError{ESRCH, "process " + std::to_string(leader.pid) + " has ended"};
  std::vector<pid_t> ended = group->endedByExec;
  std::vector<std::shared_ptr<Tracee>> others;
  for (auto& o : group->live())
    if (o.get() != &leader && o.get() != &thread) others.push_back(o);
  for (auto& o : others) ended.push_back(o->pid);  // their deaths were not in the trace: they die all the same

  resume(thread.pid, PTRACE_SYSCALL, 0);
  // The kernel waits for the tracer to reap the other threads before it goes on
  // (the first one it releases itself, unreported).
  for (pid_t tid : ended) reapKilled(tid);
  Stop st = waitStop(leader.pid);
  unsigned long former = 0;
  if (st.kind == Stop::kEvent && st.event == PTRACE_EVENT_EXEC) ptrace(PTRACE_GETEVENTMSG, leader.pid, nullptr, &former);
  if (pid_t(former) != thread.pid)
    throw NativeError{EPROTO, "the exec of the replay stub from thread " + std::to_string(thread.pid) +
                                  " ended in " + describe(st) + ", not in its exec event"};
  resume(leader.pid, PTRACE_SYSCALL, 0);
  st = waitStop(leader.pid);
  if (st.kind != Stop::kSyscall)
    throw NativeError{EPROTO, "no execve return after the exec of the replay stub from thread " +
                                  std::to_string(thread.pid) + " (" + describe(st) + ")"};

  // One thread again, at the first one's pid: a fresh replay state for the new image.
  ReplaySession fresh;
  fresh.recordedTid = leader.replay.recordedTid;
  fresh.followChildren = leader.replay.followChildren;
  fresh.echoMarked = leader.replay.echoMarked;
  leader.replay = fresh;
  leader.cpuid = thread.cpuid;  // the execing thread's task goes on
  leader.mem.reset();           // the old image's memory file reads nothing now
  for (auto& o : others) o->ended();
  thread.ended();
}

}  // namespace rw
