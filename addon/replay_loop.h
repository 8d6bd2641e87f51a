#pragma once
#include <sys/types.h>

#include <vector>

#include "event_format.h"
#include "loop_result.h"
#include "ptrace_ops.h"
#include "replay_session.h"
#include "syscall_abi.h"
#include "tracee.h"

namespace rw {

// Feeds recorded events to the replayed tracee, starting at `offset` in `events`,
// until the buffer ends, maxEvents are done, or an event needs JS (exec, mapped file).
// A child made again at its clone event comes back in the result (LoopResult::child).
LoopResult replayRun(Tracee& t, const std::vector<Row>& table, const std::vector<uint8_t>& events,
                     size_t offset, uint32_t maxEvents);
// Which recorded process the tracee replays (records of other processes are
// skipped; 0: all records), and whether its clone events create the children
// (else the creation is skipped and the parent only sees the recorded results).
// echoMarked: the trace marks the writes to the recording's stdout and stderr
// (format 4); else writes to fds 1 and 2 are echoed.
void replaySetProcess(Tracee& t, uint32_t recordedPid, bool followChildren, bool echoMarked);

}  // namespace rw
