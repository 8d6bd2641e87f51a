// What the replay loop (replay_loop.cc) keeps of one replayed process between two
// runs: the recorded signal it is about to deliver, brk, the syscall buffer's feed,
// which recorded process it stands for, the clone in progress, and the debugger's
// hook while a debug run is in progress. It lives in the process's Tracee
// (tracee.h); nothing else holds it.
#pragma once
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <memory>

#include "event_format.h"
#include "loop_result.h"
#include "ptrace_ops.h"
#include "replay_sigaction.h"
#include "replay_syscallbuf.h"
#include "replay_threads.h"

namespace rw {

struct Tracee;

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
  // An event JS applies (kind) whose point the hook finds itself (an asynchronous
  // signal's): runToPoint runs the program to it and throws its DebugStop.
  virtual bool armedFor(uint8_t kind) const { return false; }
  virtual void runToPoint(pid_t pid, int& sig) {}
  // Buffered calls served in-process (replay_syscallbuf.cc, debugger_feed.cc): how
  // many of the `room` events from here on the next resume may pass without a stop
  // (the feed holds at most room - 1 of them; below 2, it stays empty).
  virtual uint32_t feedRoom(const BufferFeed& feed, uint32_t room) { return 0; }
  // The next runUserCode runs over a fill: the library counts the records it takes
  // at `consumedAt` in the process, from `consumed`. feedEnd: after that resume, the
  // count reached `consumed` (the events it passed are replayed).
  virtual void feedBegin(uint64_t consumedAt, uint64_t consumed) {}
  virtual void feedEnd(uint64_t consumed) {}
  // Threads: the loop goes on with the events of thread `t` of the same process
  // (replay_threads.h), inside the same run, at the start of an interval that is
  // t's; true (with info filled in) stops the loop there, before t's record.
  virtual bool enterThread(Tracee& t, StopInfo& info) { return false; }
};

struct ReplaySession {
  int pendingSig = 0;
  siginfo_t pendingInfo{};  // the recorded siginfo of pendingSig
  uint64_t brk = 0;
  bool signalQueued = false;
  bool execPending = false;   // stopped at the entry of an execve that succeeded when recorded
  DebugHook* hook = nullptr;  // debugging: runs the program's code before each event (set for one run)
  bool userCodeNext = false;  // the next resume is the first of an event
  BufferFeed feed;            // buffered calls served in-process (replay_syscallbuf.cc)
  bool hasFedStop = false;    // fedStop is the next stop: the program ran to it through fed calls
  bool skippedEntry = false;  // stands at a syscall entry the kernel skips (PTRACE_SYSEMU, replay_sysemu.h)
  Stop fedStop{};
  // Processes (replay_processes.h): the recorded pid whose events this process
  // replays (0: every event), whether clone events create the children, and the
  // fork-like call in progress (stopped inside it, its entry registers).
  uint32_t recordedTid = 0;
  bool followChildren = false;
  bool echoMarked = false;  // format 4: only writes marked kSysEchoed are echoed
  bool cloning = false;
  user_regs_struct cloneEntry{};
  // Threads (replay_threads.h): the threads of its process (null while it has one);
  // stopped at a syscall entry by an enter event (the call's event is still to
  // come) and which call; dying in an exit_group already running or a fatal signal;
  // its own exit or exit_group call was replayed (and which of the two).
  std::shared_ptr<ReplayThreads> threads;
  bool atEntry = false;
  int64_t entryNr = -1;
  bool exiting = false;
  bool exitCalled = false;
  bool groupExitCalled = false;
  SigactionState sigaction;  // rt_sigaction answered without running it (replay_sigaction.h)

  // What a forked copy (a checkpoint) continues with: the same replay at the same
  // point (brk, the pending signal, the queued-signal flag, the feed), without the
  // debugger's hook or a clone in progress.
  ReplaySession forkedCopy() const {
    ReplaySession c;
    c.pendingSig = pendingSig;
    c.pendingInfo = pendingInfo;
    c.brk = brk;
    c.signalQueued = signalQueued;
    c.feed = feed;
    c.recordedTid = recordedTid;
    c.echoMarked = echoMarked;
    c.sigaction.oldActionsRecorded = sigaction.oldActionsRecorded;
    return c;
  }
};

}  // namespace rw
