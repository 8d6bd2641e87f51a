// The run clock of a debug run: the replayed process's own CPU time (every thread's,
// user and system, in ns), not the wall clock. A run's "run time" (ranNs), the times
// its copies are left at (slices, slice_timer.cc) and every distance JS plans reverse
// searches by are read on it, so that other load on the machine, which stretches the
// wall time of a run unevenly, changes neither where copies are left nor which
// windows a search runs: only how long they take (docs/load.md). Only one thread of
// a replayed process runs at a time, so its CPU time advances at most as fast as the
// wall clock, and exactly as fast while it is not preempted.
#pragma once
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

namespace rw {

// The CPU-time clock of process tgid (the kernel's MAKE_PROCESS_CPUCLOCK with
// CPUCLOCK_SCHED: the scheduler's runtime, in ns). Any process's may be read.
inline clockid_t processCpuClock(pid_t tgid) {
  return clockid_t((~unsigned(tgid)) << 3) | 2;
}

// tgid's run clock now, by a real syscall (the tracer thread traps rdtsc, so no vDSO
// clock may run on it); 0 once the process is gone.
inline uint64_t runClockNs(pid_t tgid) {
  struct timespec ts;
  if (syscall(SYS_clock_gettime, processCpuClock(tgid), &ts) != 0) return 0;
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace rw
