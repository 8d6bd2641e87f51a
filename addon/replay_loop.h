#pragma once
#include <sys/types.h>

#include <vector>

#include "loop_result.h"
#include "syscall_abi.h"

namespace rw {

// Feeds recorded events to the replayed tracee, starting at `offset` in `events`,
// until the buffer ends, maxEvents are done, or an event needs JS (exec, mapped file).
LoopResult replayRun(pid_t pid, const std::vector<Row>& table, const std::vector<uint8_t>& events,
                     size_t offset, uint32_t maxEvents);
void replayForget(pid_t pid);
void replaySetBrk(pid_t pid, uint64_t brk);

}  // namespace rw
