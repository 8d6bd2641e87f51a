#pragma once
#include <sys/types.h>

#include <vector>

#include "loop_result.h"
#include "record_processes.h"
#include "syscall_abi.h"

namespace rw {

// Runs the tracee until maxBytes of events are encoded or something needs the
// recorder's (JS) attention; the per-tracee state survives between calls.
// The root's children are recorded too, unless recordChildren is false (then they
// run live); a stop JS must handle carries the pid of the process it is about.
// Throws (EINVAL) once the recording has ended.
LoopResult recordRun(Recording& rec, const std::vector<Row>& table, size_t maxBytes);
// Every process still recorded dies (SIGKILL, reaped) and is forgotten.
void recordKillAll(Recording& rec);

}  // namespace rw
