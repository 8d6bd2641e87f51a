// Signal-delivery stops while recording: who a signal belongs to and where replay
// finds it again (docs/timeline.md, Signals).
//
// - Raised by the program's own instruction (a fault, its own int3 or ud2, a
//   privileged instruction, its own rdtsc after it asked for PR_TSC_SIGSEGV): the
//   kernel marks such signals with a positive si_code (SI_KERNEL included); they
//   happen again by themselves in replay and are recorded as synchronous.
// - The rdtsc trap the recorder set up itself: emulated, recorded as an rdtsc event.
// - Delivered as a syscall returns, or right after another signal was delivered
//   (the kernel delivers every pending signal before it returns to user code):
//   replay queues it at the same point.
// - Arrived while the program computed: delivered where it arrived, once named
//   (record_preempt.h); one more while one is held back waits for the next syscall.
#pragma once
#include <sys/types.h>

#include <vector>

#include "ptrace_ops.h"
#include "record_session.h"

namespace rw {

// Handles a signal-delivery stop (or a group-stop, which looks like one): records
// what replay needs and sets s.pendingSig to the signal to deliver, if any.
void onSignalStop(pid_t pid, Session& s, const Stop& st, const std::vector<Row>& table, RecordWriter& w,
                  uint32_t& count);

// Called whenever the loop resumes the process after a stop that was not a
// signal's delivery: no signal chain continues past it.
inline void endSignalChain(Session& s) { s.chainArmed = false; }

}  // namespace rw
