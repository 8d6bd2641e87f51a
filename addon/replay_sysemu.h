// Replayed syscalls with one ptrace stop instead of two (PTRACE_SYSEMU).
//
// Most recorded syscalls are not run again in replay: the loop compares their
// arguments at the entry stop, then writes the recorded result and memory. With
// PTRACE_SYSCALL that takes two stops (the entry, where the call is turned into
// syscall -1, and the exit, where the result goes in). Resumed with PTRACE_SYSEMU
// the tracee stops at the entry of its next syscall and the kernel skips the call
// itself, so the result and memory are written at that one stop.
//
// The loop knows the next event before it resumes, so it asks for PTRACE_SYSEMU
// only when that event is a call it will not run (nextStopSkips). Two things make
// that a prediction and not a rule, and both are handled here:
// - a stop reached with PTRACE_SYSEMU whose call must run after all (the feed of the
//   syscall buffer ended somewhere else than expected, or the decision depends on
//   bits the prediction did not see): enterForReal backs the tracee up over its
//   `syscall` instruction and enters the call again, for real;
// - the kernel reports a syscall-exit stop for a skipped call when the tracee is
//   next resumed with PTRACE_SYSCALL (the exit work looks at the request of the
//   resume, not of the entry), so a tracee standing at a skipped entry is resumed
//   with PTRACE_SYSEMU, or taken through that exit stop first (leaveSkippedEntry).
//   Outside the loop nothing sees such a stop: replayRun leaves every tracee it ran
//   at an ordinary stop (settleSkippedEntry), as other code (the debugger, process
//   copies, JS's injected calls) expects.
// rr replays emulated syscalls the same way (PTRACE_SYSEMU, and re-entering a call
// that must be executed).
//
// REWIND_SYSEMU=off resumes every call with PTRACE_SYSCALL (two stops each, as
// before); REWIND_SYSEMU=always skips every syscall entry first, so that each call
// that runs is entered again: tests use it to exercise the re-entry on every kind of
// call.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "event_format.h"
#include "ptrace_ops.h"
#include "replay_session.h"
#include "syscall_abi.h"

namespace rw {

// What the loop expects at the next stop, which picks the resume request.
enum class NextStop {
  kCallThatRuns,   // the entry of a syscall replay runs (mmap, brk, exit, clone...)
  kSkippableCall,  // the entry of a syscall replay only compares and answers
  kNoCall,         // a signal, a trap, an exit: no syscall is expected on the way
  kExitOfCall,     // the exit of the call the tracee stands at the entry of (it runs)
};

// Whether the loop (replaySyscall) will answer syscall record `v` without running
// it, judged from the recorded arguments and the session's state before the stop.
bool recordIsSkippable(const Row* table, const RecordView& v, const ReplaySession& s);

// The kind of the stop at record `v` (any kind of event), for the resume towards it.
NextStop nextStopFor(const Row* table, const RecordView& v, const ReplaySession& s);

// An enter event (`enter`; `call`: the same thread's next record, null if it is not
// in this batch): a thread's run ends at the entry of a call whose own event comes
// later, after other threads' runs. If that event is a call replay only answers
// (a futex wait, nearly always), the thread may stand at a skipped entry meanwhile:
// the answer is written at that one stop when its event comes, and the stop at the
// call's exit is saved. The thread stays there while the others run (they never
// resume it); replayRun settles it before it returns (settleSkippedEntry).
NextStop enterStopFor(const Row* table, const RecordView& enter, const RecordView* call, const ReplaySession& s);

// The stop the feed of the syscall buffer runs to (feedReady filled it from `at`):
// the own event after the records it holds, if the library takes them all.
NextStop stopAfterFeed(const Row* table, const std::vector<uint8_t>& events, size_t at, const ReplaySession& s);

// The ptrace request to resume with towards `next`, after leaving a skipped entry
// when the request is PTRACE_SYSCALL (so that the stop that follows is `next`'s).
int resumeRequestFor(pid_t pid, ReplaySession& s, NextStop next);

// After a stop reached with `request`: whether the tracee stands at a skipped entry.
void noteStop(ReplaySession& s, int request, const Stop& st);

// At a skipped entry: enters the same call again so that the kernel runs it (the
// tracee ends at its ordinary entry stop). No-op elsewhere.
void enterForReal(pid_t pid, ReplaySession& s);

// At a skipped entry whose answer is written: takes the tracee through the call's
// exit stop (an ordinary stop that any resume may leave). No-op elsewhere.
void leaveSkippedEntry(pid_t pid, ReplaySession& s);

// How many entries were answered at one stop, entered again for real, and left
// through their exit stop, by every replay of this process (diagnostics:
// REWIND_TRACE_RUNS, and tests that REWIND_SYSEMU=always re-enters).
struct SysemuCounts {
  uint64_t skipped = 0, reentered = 0, left = 0;
};
SysemuCounts sysemuCounts();

// At the end of a run: the tracee at an ordinary stop, whether or not the skipped
// entry it stands at was answered yet (a stop the feed ran to, and a thread left at
// an enter event, whose call is still to be replayed, are entered for real).
void settleSkippedEntry(pid_t pid, ReplaySession& s);

}  // namespace rw
