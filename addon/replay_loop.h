#pragma once
#include <sys/types.h>

#include <vector>

#include "event_format.h"
#include "loop_result.h"
#include "ptrace_ops.h"
#include "replay_syscallbuf.h"
#include "syscall_abi.h"

namespace rw {

// Feeds recorded events to the replayed tracee, starting at `offset` in `events`,
// until the buffer ends, maxEvents are done, or an event needs JS (exec, mapped file).
LoopResult replayRun(pid_t pid, const std::vector<Row>& table, const std::vector<uint8_t>& events,
                     size_t offset, uint32_t maxEvents);
void replayForget(pid_t pid);
// Which recorded process `pid` replays (records of other processes are skipped;
// 0: all records), and whether its clone events create the children (else the
// creation is skipped and the parent only sees the recorded results).
// echoMarked: the trace marks the writes to the recording's stdout and stderr
// (format 4); else writes to fds 1 and 2 are echoed.
void replaySetProcess(pid_t pid, uint32_t recordedPid, bool followChildren, bool echoMarked);
void replaySetBrk(pid_t pid, uint64_t brk);
// A forked copy of a replayed process (a checkpoint) continues the same replay:
// copies brk, the pending signal and the queued-signal flag (not the debug hook).
void replayCopySession(pid_t from, pid_t to);

// Debugging (addon/debugger.h): a hook that runs the program's own code before
// each event and may stop the loop there, without consuming the event.
struct DebugStop {
  StopInfo info;
};
class DebugHook {
 public:
  virtual ~DebugHook() = default;
  // Resumes the tracee for the event about to be replayed and returns the first stop
  // the replay must see, or throws DebugStop. `sig` is delivered on the first resume
  // (and zeroed then).
  virtual Stop runUserCode(pid_t pid, int& sig) = 0;
  // After each event: true (with info filled in) stops the loop there.
  virtual bool afterEvent(pid_t pid, const RecordView& done, const RecordView* next, StopInfo& info) = 0;
  // After an event of another process, skipped (it is an interval in which this
  // process does nothing): true stops the loop there, as afterEvent.
  virtual bool afterOtherEvent(pid_t pid, StopInfo& info) { return false; }
  // Buffered calls served in-process (replay_syscallbuf.cc, debugger_feed.cc): how
  // many of the `room` events from here on the next resume may pass without a stop
  // (the feed holds at most room - 1 of them; below 2, it stays empty).
  virtual uint32_t feedRoom(const BufferFeed& feed, uint32_t room) { return 0; }
  // The next runUserCode runs over a fill: the library counts the records it takes
  // at `consumedAt` in the process, from `consumed`. feedEnd: after that resume, the
  // count reached `consumed` (the events it passed are replayed).
  virtual void feedBegin(uint64_t consumedAt, uint64_t consumed) {}
  virtual void feedEnd(uint64_t consumed) {}
};
void replaySetDebugHook(pid_t pid, DebugHook* hook);

}  // namespace rw
