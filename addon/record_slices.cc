// Time-slice preemption of threads while recording: see record_slices.h.
#include "record_slices.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>


#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>

#include "ptrace_ops.h"
#include "record_buffer.h"
#include "record_processes.h"
#include "record_threads.h"
#include "tracer_thread.h"

namespace rw {
namespace {

uint64_t nextRandom(SliceSettings& c) {
  // xorshift64: enough to vary slices and choices; the seed makes a run repeatable
  // as far as timing allows (the recorded order, not the seed, is what replay uses).
  uint64_t x = c.rng ? c.rng : 0x9e3779b97f4a7c15ull;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  c.rng = x;
  return x;
}

// A new slice's length: the setting, or with chaos anything from a tenth of a
// millisecond to twice the setting (short slices make rare interleavings likely).
double sliceLength(SliceSettings& c) {
  if (!c.chaos) return c.sliceMs;
  return 0.1 + double(nextRandom(c) % 10000) / 10000.0 * 2 * c.sliceMs;
}

// The slice timer: a thread that sends the SIGSTOP at the earliest slice end while
// the record loop blocks in waitpid (polling instead delayed every stop by its
// sleep: a threaded program with many syscalls recorded 3x slower). Never
// destroyed: at exit the thread still waits on them.
//
// The record loop arms it before each wait and disarms it after: twice per stop of a
// threaded process. Waking the timer thread each time cost two context switches per
// stop on the other CPU, the one the tracee runs on (a mutex/condvar hand-over,
// bench threads-token, made about 6 futex calls in the timer thread per stop). So it
// is woken only when it must send earlier than it sleeps until: a disarm just clears
// the runner (the thread finds nothing to do when it wakes at its deadline), and a
// re-arm with a later deadline lets it find the new one then.
struct SliceTimer {
  std::mutex mu;
  std::condition_variable cv;
  pid_t tgid = 0, tid = 0;  // armed for this runner; 0 when not
  double atMs = 0;
  bool sent = false, started = false;
  // what the timer thread sleeps until (infinity while it waits to be armed)
  double sleepsUntilMs = std::numeric_limits<double>::infinity();
};
SliceTimer& timer = *new SliceTimer;

void timerMain() {
  dropTracerTraps();  // created from the tracer thread, which traps rdtsc and CPUID
  std::unique_lock<std::mutex> lock(timer.mu);
  for (;;) {
    timer.sleepsUntilMs = std::numeric_limits<double>::infinity();
    timer.cv.wait(lock, [] { return timer.tid != 0 && !timer.sent; });
    double now = nowMs();
    if (now < timer.atMs) {
      timer.sleepsUntilMs = timer.atMs;
      timer.cv.wait_for(lock, std::chrono::microseconds(int64_t((timer.atMs - now) * 1000) + 1));
      continue;  // re-check: disarmed or re-armed meanwhile
    }
    timer.sent = syscall(SYS_tgkill, timer.tgid, timer.tid, SIGSTOP) == 0;
    if (!timer.sent) timer.tid = 0;
  }
}

void armTimer(pid_t tgid, pid_t tid, double atMs) {
  std::lock_guard<std::mutex> lock(timer.mu);
  if (!timer.started) {
    timer.started = true;
    std::thread(timerMain).detach();
  }
  timer.tgid = tgid;
  timer.tid = tid;
  timer.atMs = atMs;
  timer.sent = false;
  if (atMs < timer.sleepsUntilMs) timer.cv.notify_all();
}

}  // namespace

void preemptWaited(Recording& rec) {
  pid_t sentTo = 0;
  {
    std::lock_guard<std::mutex> lock(timer.mu);
    if (timer.sent) sentTo = timer.tid;
    timer.tid = 0;
    timer.sent = false;
  }
  auto it = rec.procs.find(sentTo);
  if (sentTo && it != rec.procs.end()) it->second.preemptSent = true;
}

bool preemptDue(Recording& rec) {
  pid_t armTgid = 0, armTid = 0;
  double armAt = 0;
  double now = 0;
  for (auto& [tgid, g] : rec.groups) {
    if (!g.runner || g.ready.empty()) continue;
    auto it = rec.procs.find(g.runner);
    if (it == rec.procs.end()) continue;
    if (!now) now = nowMs();
    if (g.slicedRunner != g.runner) {
      g.slicedRunner = g.runner;
      g.sliceEndMs = now + sliceLength(rec.slices);
    }
    Session& s = it->second;
    if (s.preemptSent || s.inSyscall) continue;
    if (now < g.sliceEndMs) {
      if (!armTid || g.sliceEndMs < armAt) armTgid = tgid, armTid = g.runner, armAt = g.sliceEndMs;
      continue;
    }
    // The runner may stop elsewhere before the SIGSTOP is taken (a syscall entry):
    // preemptStop then swallows it where it comes.
    if (syscall(SYS_tgkill, tgid, g.runner, SIGSTOP) == 0) s.preemptSent = true;
  }
  if (armTid) armTimer(armTgid, armTid, armAt);
  return false;
}

int preemptStop(Recording& rec, pid_t pid, Session& s, const Stop& st, LoopResult& out) {
  if (st.kind != Stop::kSignal || st.sig != SIGSTOP || !s.preemptSent) return 0;
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  if (ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si) != 0) return 0;  // a group-stop
  if (si.si_code != SI_TKILL || si.si_pid != getpid()) return 0;    // the program's own SIGSTOP
  s.preemptSent = false;
  auto it = rec.groups.find(groupOf(pid, s));
  if (it == rec.groups.end() || it->second.runner != pid || it->second.ready.empty() || s.inSyscall) return 1;
  // Right at a syscall's return nothing has run since its event: no switch there
  // (the next slice tries again).
  user_regs_struct r = getRegs(pid);
  if (s.atExit && r.rip == s.exitRegs.rip && r.rsp == s.exitRegs.rsp) {
    it->second.slicedRunner = 0;
    return 1;
  }
  s.preempting = true;
  out.stop.reason = "preempt";
  // as for a signal's point (record_preempt.cc): the buffers are out of the state hash
  std::vector<uint64_t> buffers = bufferRanges(rec, pid, s);
  if (!buffers.empty()) out.stop.bigs("buffer", buffers);
  return 2;
}

size_t readyChoice(Recording& rec, size_t ready) {
  return rec.slices.chaos && ready > 1 ? size_t(nextRandom(rec.slices) % ready) : 0;
}

void preemptSwitch(Recording& rec, pid_t pid, bool switched) {
  auto p = rec.procs.find(pid);
  if (p == rec.procs.end()) throw NativeError{ESRCH, "thread " + std::to_string(pid) + " is not recorded"};
  Session& s = p->second;
  s.preemptSent = false;
  s.preempting = false;
  s.atExit = false;
  auto it = rec.groups.find(groupOf(pid, s));
  if (it == rec.groups.end()) return;
  ThreadGroup& g = it->second;
  g.slicedRunner = 0;  // a new slice, whoever runs
  if (!switched || g.runner != pid || g.ready.empty()) return;
  size_t pick = readyChoice(rec, g.ready.size());
  pid_t next = g.ready[pick];
  g.ready.erase(g.ready.begin() + long(pick));
  g.ready.push_back(pid);
  g.runner = next;
  rec.held.insert(next);  // resumed with the held ones; pid waits in ready (mayResume)
}

}  // namespace rw
