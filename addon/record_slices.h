// Time-slice preemption of threads while recording (docs/timeline.md, "Threads:
// preemption"). A runner that computes without syscalls would keep its process to
// itself: a thread spinning on a flag another thread must set never lets that one
// run. So while a process has ready threads, the record loop's wait polls, and a
// runner whose slice (wall time; random lengths with --chaos) is over is sent a
// SIGSTOP. Its stop is handed to JS (stop 'preempt', src/points/record-switch.ts),
// which names the point where the thread stands (nameState) and writes an
// async-point event whose outcome is a thread switch; then preemptSwitch puts the
// runner at the back of the ready queue and the next thread runs. The slice length
// depends on time; the recorded point does not (it is named by the state).
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "loop_result.h"
#include "record_session.h"

namespace rw {

struct Recording;

// How threads are preempted: the slice length, and with chaos a seeded random
// slice length and a random choice among ready threads at a switch.
struct SliceSettings {
  double sliceMs = 50;
  bool chaos = false;
  uint64_t rng = 0;  // xorshift64 state (chaos)
};

// In the record loop's wait, before it blocks: sends SIGSTOP to every runner whose
// slice is over (once per slice), and arms the slice timer for the earliest slice
// end to come. Returns whether the wait must poll (never, with the timer).
bool preemptDue(Recording& rec);

// After the wait: the timer disarmed; a SIGSTOP it sent is marked on its runner
// (preemptStop takes its stop).
void preemptWaited(Recording& rec);

// A stop of `pid` that is the SIGSTOP preemptDue sent. Returns 0 when it is not
// (the loop goes on as before), 1 when it was swallowed (it came too late: the
// thread had left user code or stands right at a syscall's return; the loop
// resumes it), 2 when JS must name the point (out is the 'preempt' stop).
int preemptStop(Recording& rec, pid_t pid, Session& s, const Stop& st, LoopResult& out);

// Which of `ready` ready threads runs next: the first (first come, first served),
// or with chaos a random one.
size_t readyChoice(Recording& rec, size_t ready);

// After JS handled a 'preempt' stop of `pid`: with `switched` (the point is in the
// trace) the runner goes to the back of its process's ready queue and the next
// ready thread (a random one with chaos) runs; else it runs on, a new slice begun.
void preemptSwitch(Recording& rec, pid_t pid, bool switched);

}  // namespace rw
