// Time slices of a debug run: a helper thread stops the running tracee (SIGSTOP)
// at a deadline of its run clock (its CPU time, run_clock.h), so that the run can leave a checkpoint there and go on. Used to
// place checkpoints inside long stretches without events (docs/timeline.md).
#pragma once
#include <sys/types.h>

#include <cstdint>

namespace rw {

// CLOCK_MONOTONIC in ns by a real syscall: the tracer thread traps rdtsc, so the
// vDSO clocks must not run on it.
uint64_t monotonicNs();

// From now until disarmSlice(): SIGSTOP to thread tid of process tgid when tgid's run
// clock (run_clock.h: its CPU time) reaches deadlineNs. (tgkill needs the thread's own
// process: a thread other than the first, named as its own process, got nothing.)
// `wall`: the deadline is on CLOCK_MONOTONIC instead (an interrupt put off a moment,
// which must come even if the process stops using the CPU).
void armSlice(pid_t tgid, pid_t tid, uint64_t deadlineNs, bool wall = false);
// Returns true when the SIGSTOP was sent (it is then pending or being reported); not
// when the thread was gone by then.
bool disarmSlice();

}  // namespace rw
