// Debug runs over buffered calls served in-process (docs/syscallbuf.md, "Replay"):
// the replay loop lets the preload library take the recorded results of a stretch of
// buffered calls from its feed (replay_syscallbuf.cc), so a continue or a search
// does not stop twice per call. The Debugger keeps its names exact (docs/timeline.md,
// "Names"): interval e is still the stretch before event e, found at each trap by
// reading how many records the library took, rather than by a stop at each event.
//
// The library's own code runs other instructions when it serves a call than when
// the call stops (it compares the record and copies its memory instead of making the
// call), so a state inside its text, while a fill runs, exists in a fed replay only.
// Outside it the two replays are the same, instruction for instruction. Hence:
//   - a run feeds only in continue mode, with no breakpoint in the library's text, no
//     read watchpoint (the library reads the program's buffers) and no watchpoint on
//     the library's buffer, and never past the event before its target's interval
//     (the target, and the start of its interval, are reached as without the feed);
//   - a write watchpoint that triggers in the library's text during a fill is the
//     library writing a call's recorded memory: the stopped replay writes it with
//     ptrace, which triggers nothing, so neither does this;
//   - slices are not taken in the library's text, and the user's interrupt that
//     comes there is taken a moment later, once the program is out of it.
#include <algorithm>

#include "debugger.h"
#include "process_copy.h"
#include "slice_timer.h"
#include "tracer_thread.h"

namespace rw {

uint32_t Debugger::feedRoom(const BufferFeed& feed, uint32_t room) {
  if (!feedAllowed || mode != kCont || !feed.codeEnd || !counterTraps.empty()) return 0;
  auto inLibrary = [&](uint64_t a) { return a >= feed.codeStart && a < feed.codeEnd; };
  for (auto& [addr, orig] : sw)
    if (inLibrary(addr)) return 0;
  for (auto& sl : slots) {
    if (!sl.used) continue;
    if (sl.type == 0 && inLibrary(sl.addr)) return 0;
    if (sl.type != 0 && sl.type != 1) return 0;  // reads: the library reads the program's buffers
    if (sl.type == 1 && sl.addr < feed.bufEnd && sl.addr + uint64_t(sl.len) > feed.bufStart) return 0;
  }
  // the last event before the target's interval goes stop by stop: its start, and
  // the target in it, are reached exactly as without the feed
  if (targetKind != kNoTarget) room = targetEvent > event ? std::min<uint32_t>(room, targetEvent - event) : 0;
  libStart = feed.codeStart;
  libEnd = feed.codeEnd;
  return room;
}

void Debugger::feedBegin(uint64_t consumedAt, uint64_t consumed) {
  fedCounter = consumedAt;
  fedSeen = consumed;
}

void Debugger::feedEnd(uint64_t consumed) {
  passIntervals(consumed);
  fedCounter = 0;
}

// At a stop inside a fill (a trap, a slice): the events the library passed since the
// last look each start a new interval. Only trapped pcs are counted in continue mode,
// and their traps saw every arrival since: their counts stay exact from zero.
void Debugger::syncFeed() {
  if (!fedCounter) return;
  uint64_t consumed = 0;
  if (tracee->read(fedCounter, &consumed, 8) != 8) throw NativeError{EFAULT, "the syscall buffer's feed is unreadable"};
  passIntervals(consumed);
}

void Debugger::passIntervals(uint64_t consumed) {
  if (consumed <= fedSeen) return;
  event += uint32_t(consumed - fedSeen);
  fedSeen = consumed;
  counts.clear();
  watchHits = 0;
  boundaryPending = false;
  allExact = true;
  enterContinue();  // exact: the trapped pcs
}

// Looks again a moment later (the slice timer's SIGSTOP, which waitFor hands back
// while an interrupt is deferred).
void Debugger::deferStop() {
  if (sliceArmed && disarmSlice()) staleStops++;
  slicePid = pid;
  // on the wall clock: the user's interrupt must come even if the process stops using the CPU
  armSlice(tracee->pid, pid, monotonicNs() + kFedSlicePutOffNs, true);
  sliceArmed = true;
}

}  // namespace rw
