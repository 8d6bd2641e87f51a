// CPU-time budgets of the runs that look for a point (record_preempt.cc,
// replay_points.cc): CPU time, not the wall clock, so that a loaded machine slows
// a search without ending it early; and the wait for a tracee's next stop that
// gives up when the budget is spent.
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "proc_stat.h"
#include "tracer_thread.h"

namespace rw {

// utime in clock ticks (/proc/PID/stat field 14); 0 if the process is gone.
inline uint64_t processUserTicks(pid_t pid) { return procStatField(pid, 14); }

// The calling thread's CPU time (user + system) in clock ticks: the tracer's share of
// a search (hashing candidates), which the tracee's own time does not show.
inline uint64_t callingThreadTicks() {
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  long hz = sysconf(_SC_CLK_TCK);
  uint64_t us = uint64_t(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + uint64_t(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  return us * uint64_t(hz > 0 ? hz : 100) / 1000000;
}

// Waits for pid's next stop (its waitpid status in `status`); false as soon as
// overBudget() says the run's CPU time is spent first. A stop that comes within
// microseconds (a filter's trap) is seen at once; a long run is polled every 2 ms.
template <typename OverBudget>
bool waitWithinBudget(pid_t pid, int& status, OverBudget overBudget) {
  for (unsigned polls = 0;; polls++) {
    pid_t r = waitpid(pid, &status, __WALL | WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) throw NativeError{errno, "waitpid(" + std::to_string(pid) + ")"};
    if (r == 0 && overBudget()) return false;
    if (polls < 64) sched_yield();
    else usleep(polls < 128 ? 100 : 2000);
  }
}

}  // namespace rw
