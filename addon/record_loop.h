#pragma once
#include <sys/types.h>

#include <vector>

#include "loop_result.h"
#include "syscall_abi.h"

namespace rw {

// Runs the tracee until maxBytes of events are encoded or something needs the
// recorder's (JS) attention; the per-tracee state survives between calls.
// The root's children are recorded too, unless recordChildren is false (then they
// run live); a stop JS must handle carries the pid of the process it is about.
LoopResult recordRun(pid_t root, const std::vector<Row>& table, size_t maxBytes, bool recordChildren);
void recordForget(pid_t pid);
// Thread-safe (the JS thread): at the tracee's next stop the loop keeps what the
// syscall buffer holds, kills the tracee and returns with reason 'stopped'.
void recordRequestStop();

}  // namespace rw
