// An exec from a thread other than the first, while recording: see record_thread_exec.h.
#include "record_thread_exec.h"

#include <errno.h>
#include <sys/ptrace.h>

#include <algorithm>
#include <string>

#include "record_processes.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr uint64_t kNrExecve = 59, kNrExecveat = 322, kNrExit = 60;

bool inExec(const Session& s) {
  return s.inSyscall && (s.entry.orig_rax == kNrExecve || s.entry.orig_rax == kNrExecveat);
}

// Thread `tid` is gone from the recording's order of stdout writes: a thread the
// exec ended may have been inside one, or held at its entry.
void leaveStdioOrder(Recording& rec, pid_t tid) {
  endStdioWrite(rec, tid);
  auto& q = rec.stdioQueue;
  q.erase(std::remove(q.begin(), q.end(), tid), q.end());
}

// Another thread of `tid`'s process is inside an execve.
bool siblingInExec(const Recording& rec, pid_t tid, const Session& s) {
  auto g = rec.groups.find(groupOf(tid, s));
  if (g == rec.groups.end()) return false;
  for (pid_t t : g->second.threads) {
    auto o = rec.procs.find(t);
    if (t != tid && o != rec.procs.end() && inExec(o->second)) return true;
  }
  return false;
}

}  // namespace

bool endedByExec(const Recording& rec, pid_t tid, const Session& s) {
  if (s.inSyscall && s.entry.orig_rax == kNrExit) return false;  // it ends by itself
  return siblingInExec(rec, tid, s);
}

bool vanishedInExec(const Recording& rec, pid_t tid, const Session& s) {
  if (!siblingInExec(rec, tid, s)) return false;
  unsigned long msg;
  return ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &msg) != 0 && errno == ESRCH;
}

bool takeBackStop(Recording& rec, pid_t tid, int err) {
  auto it = rec.procs.find(tid);
  if (err != ESRCH || it == rec.procs.end() || !vanishedInExec(rec, tid, it->second)) return false;
  rec.held.erase(tid);
  return true;
}

void execFromThread(Recording& rec, pid_t leader, pid_t former) {
  auto f = rec.procs.find(former);
  if (f == rec.procs.end())
    throw NativeError{ESRCH, "process " + std::to_string(leader) + " exec'd from thread " + std::to_string(former) +
                                 ", which the recording does not know"};
  Session s = std::move(f->second);
  // What was the first thread's and is the process's stays: its children.
  Session& process = rec.procs[leader];  // the first thread's, until replaced
  s.children.insert(process.children.begin(), process.children.end());
  s.newChildren.insert(process.newChildren.begin(), process.newChildren.end());
  // The other threads are gone (de_thread waited for their reaping), and so is
  // `former`'s tid. The leader's entry stays (the loop holds it, and a reference
  // to it), its Session replaced below.
  leaveStdioOrder(rec, leader);
  for (auto it = rec.procs.begin(); it != rec.procs.end();) {
    if (it->first == leader || (it->first != former && it->second.tgid != leader)) {
      ++it;
      continue;
    }
    rec.held.erase(it->first);
    rec.releasing.erase(it->first);
    leaveStdioOrder(rec, it->first);
    it = rec.procs.erase(it);
  }
  rec.groups.erase(leader);
  for (auto& [pid, other] : rec.procs)
    if (other.parent == former) other.parent = leader;
  // One thread again, the process's first: what a new image starts with.
  s.tgid = 0;
  s.threaded = false;
  s.dying = s.exitPending = s.exitRecorded = false;
  s.execFormerTid = former;
  process = std::move(s);
  // A first thread's options: its exit is reported as the process's, not at PTRACE_EVENT_EXIT.
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK |
              PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | (process.seccompMode ? PTRACE_O_TRACESECCOMP : 0);
  if (ptrace(PTRACE_SETOPTIONS, leader, nullptr, (void*)opts) != 0)
    throw NativeError{errno, "ptrace(PTRACE_SETOPTIONS) on process " + std::to_string(leader) + " after its exec"};
}

}  // namespace rw
