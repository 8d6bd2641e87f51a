#include "slice_timer.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "run_clock.h"
#include "tracer_thread.h"

namespace rw {

namespace {

// Never destroyed: at exit the timer thread still waits on them, and destroying a
// condition variable with a waiter blocks the exiting process.
std::mutex& mu = *new std::mutex;
std::condition_variable& cv = *new std::condition_variable;
pid_t armedPid = 0;
pid_t armedTgid = 0;
uint64_t armedAt = 0;
bool armedWall = false;  // armedAt is on CLOCK_MONOTONIC, not the process's run clock
std::atomic<uint64_t> generation{0};
bool sent = false;       // the deadline passed (the timer is done with this arming)
bool delivered = false;  // ... and tgkill queued the SIGSTOP
bool started = false;

// Sleeps until shortly before the deadline, then spins: a sleeping wake-up in a VM
// is late by tens of microseconds. The spin is short: on a sibling hyperthread it
// slows the tracee down, which makes run times less comparable.
constexpr uint64_t kSpinNs = 30000;

// The deadline is on the tracee's run clock (its CPU time, run_clock.h), which runs at
// most as fast as the wall clock, so a sleep for what is left cannot overshoot it.
// But another process's CPU clock, read while it runs, is only as recent as its last
// scheduler tick (the kernel updates a running task's runtime for its own thread
// group only): exact while the tracee is stopped (when the timer is armed), up to a
// tick behind while it runs. So the timer sleeps on the run clock until the deadline
// is within a tick, and counts what is left from there on the wall clock (what it did
// before: a short narrowing run, under a tick long, saw no copy at all on the run
// clock). Under load that part fires early in run time, a copy closer to the run's
// start, never a wrong one.
constexpr uint64_t kTickNs = 4000000;

void timerMain() {
  dropTracerTraps();  // created from the tracer thread, which traps rdtsc and CPUID
  prctl(PR_SET_TIMERSLACK, 1);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int mine = tracerCpu();
    if (mine >= 0 && CPU_COUNT(&set) > 1) {
      CPU_ZERO(&set);
      for (int c = 0; c < CPU_SETSIZE; c++)
        if (c != mine) CPU_SET(c, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    cv.wait(lock, [] { return armedPid != 0 && !sent; });
    uint64_t gen = generation;
    uint64_t at = armedAt;
    uint64_t now = armedWall ? monotonicNs() : runClockNs(armedTgid);
    if (now == 0) {  // the process is gone: nothing to stop until the timer is armed again
      cv.wait(lock, [gen] { return generation != gen; });
      continue;
    }
    if (!armedWall && now + kTickNs < at) {
      cv.wait_for(lock, std::chrono::nanoseconds(at - kTickNs - now));
      continue;  // re-check: disarmed or re-armed meanwhile
    }
    // what is left, on the wall clock from here
    uint64_t wallAt = monotonicNs() + (at > now ? at - now : 0);
    bool moved = false;
    for (;;) {
      uint64_t w = monotonicNs();
      if (w + kSpinNs >= wallAt) break;
      cv.wait_for(lock, std::chrono::nanoseconds(wallAt - kSpinNs - w));
      if (generation != gen) {
        moved = true;
        break;
      }
    }
    if (moved) continue;
    pid_t pid = armedPid;
    lock.unlock();
    while (monotonicNs() < wallAt) {
      if (generation != gen) break;
      __builtin_ia32_pause();  // a sibling hyperthread may be running the tracee
    }
    lock.lock();
    if (generation == gen && armedPid == pid && !sent) {
      sent = true;
      delivered = syscall(SYS_tgkill, armedTgid, pid, SIGSTOP) == 0;
    }
  }
}

}  // namespace

uint64_t monotonicNs() {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void armSlice(pid_t tgid, pid_t pid, uint64_t deadlineNs, bool wall) {
  std::lock_guard<std::mutex> lock(mu);
  if (!started) {
    started = true;
    std::thread(timerMain).detach();
  }
  armedPid = pid;
  armedTgid = tgid;
  armedAt = deadlineNs;
  armedWall = wall;
  sent = false;
  delivered = false;
  generation++;
  cv.notify_all();
}

bool disarmSlice() {
  std::lock_guard<std::mutex> lock(mu);
  bool was = sent && delivered;
  armedPid = 0;
  sent = false;
  delivered = false;
  generation++;
  return was;
}

}  // namespace rw
