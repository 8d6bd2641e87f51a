// Asynchronous signals delivered where they really arrived (docs/preemption.md,
// docs/timeline.md "Signals"): when a signal stops a process that computes, the
// record loop hands the stop to JS (src/points/record-point.ts), which may steer the
// point a little later with pointRunTo (to the end of a rep-string instruction, out
// of a leaf function whose name is weak), names it (registers, the loop's operand
// values, the state hash) and writes the async-point event, then pointDeliver
// delivers the signal there. Also the primitives the threads work uses to preempt a
// thread: stop it, name the point, write the event.
#pragma once
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <vector>

#include "loop_result.h"
#include "record_processes.h"
#include "record_session.h"

namespace rw {

// The record loop's hook after a signal stop: when onSignalStop left a point to
// name (s.pointSig), fills the stop JS handles ('async-signal') and returns true.
bool asyncPointStop(Recording& rec, pid_t pid, Session& s, LoopResult& out);

// Runs the stopped process (its signal not delivered) to the next arrival at addr
// (with rsp == wantRsp unless wantRsp is 0), or one instruction on when addr is 0,
// and returns true, its registers in out.
// After budgetTicks of its user CPU time without arriving, it is stopped where it
// is instead (arrived false): steering only makes the replay faster, and a point
// anywhere is exact. Any other stop first (a syscall, another signal, an rdtsc
// trap, its end) is left for the record loop to see next, the point is given up
// and the signal is held back to the next syscall as before: returns false.
// The syscall buffer's records of calls made on the way are appended to flushed:
// they belong in the trace before the point.
bool pointRunTo(Recording& rec, pid_t pid, uint64_t addr, uint64_t wantRsp, uint64_t budgetTicks,
                user_regs_struct& out, bool& arrived, std::vector<uint8_t>& flushed);

// Delivers the point's signal where the process stands (the next resume), with the
// siginfo it arrived with.
void pointDeliver(Recording& rec, pid_t pid);

// Gives the point up: the signal is held back to the next syscall (as for a
// point that cannot be named, e.g. code that cannot be decoded).
void pointHoldBack(Recording& rec, pid_t pid);

}  // namespace rw
