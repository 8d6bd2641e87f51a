// The Debugger in a process of several threads (docs/timeline.md, "Threads" and
// "gdb with threads"). All-stop, in rr's way: a run replays the recorded schedule,
// the threads taking their turns inside it as in replay --check (replay_loop.cc
// switches at their records), and whichever thread hits a breakpoint, a watchpoint
// or the end of a step stops the run; the others stay where the schedule left them.
//
// Between two events only one thread runs user code (the one whose record comes
// next), so the positions of docs/timeline.md stay "the n-th arrival at pc in
// interval e": the interval names the thread. What is each thread's here:
//   - which one runs now (`pid`, `cur`): every ptrace call of the Debugger goes to it;
//   - its debug registers: gdb's watchpoints apply to every thread, so the slots are
//     written into a thread the first time a run enters it after they changed;
//   - a step: gdb steps one thread (vCont;s:TID); the others run as in a continue
//     until that thread has done its step, and their breakpoints stop the run; a
//     thread in a syscall steps by returning from it;
//   - the boundary of an interval: the state of the thread that runs in it.
// Fork copies (the slices a run leaves) copy only the calling thread: none is taken
// once the process has made a thread. Checkpoints between runs copy every thread
// (forkReplayed, replay_thread_copy.h); a restored one names the thread that runs
// its interval (standIn), whose state is the interval's boundary.
#include <errno.h>

#include <cstring>
#include <string>

#include "debugger.h"
#include "replay_thread_copy.h"
#include "replay_threads.h"
#include "tracer_thread.h"

namespace rw {

// The thread whose record is at `offset` (the run starts with it), else the one the
// last run ended in (a record of another process, or of no thread still alive).
TraceePtr Debugger::firstThreadOf(const std::vector<uint8_t>& events, size_t offset) const {
  auto group = threadGroup ? threadGroup : tracee->replay.threads;
  if (!group) return tracee;
  if (offset + kHeaderSize <= events.size()) {
    RecordView v{events.data() + offset, events.size() - offset};
    if (auto t = group->byRecorded(v.tid())) return t;
  }
  for (auto& t : group->live())
    if (t == cur) return t;
  if (!tracee->gone) return tracee;
  auto live = group->live();
  if (live.empty()) return tracee;
  return live.front();
}

// The hook goes to every live thread (null: taken off again at the end of a run).
void Debugger::hookThreads(DebugHook* hook) const {
  if (!tracee->gone) tracee->replay.hook = hook;
  if (auto group = threadGroup ? threadGroup : tracee->replay.threads)
    for (auto& t : group->live()) t->replay.hook = hook;
}

void Debugger::writeSlotsHere() {
  auto it = slotsIn.find(pid);
  if (it != slotsIn.end() && it->second == slotsGen) return;
  writeDebugRegs(pid, slots);
  slotsIn[pid] = slotsGen;
}

// The run goes on in thread t (at its start, and at each switch of the loop).
void Debugger::useThread(Tracee& t) {
  cur = t.shared_from_this();
  pid = t.pid;
  runningPid.store(pid);
  regsValid = false;
  if (!t.replay.exiting) writeSlotsHere();  // (a dying thread takes none)
  if (t.replay.threads) threadGroup = t.replay.threads;
  madeThreads = threadGroup != nullptr;
  // a process of one thread steps it, whatever its recorded tid says
  bool steps = !stepThread || !threadGroup || t.replay.recordedTid == stepThread;
  mode = reqMode != kCont && steps ? reqMode : kCont;
  // A thread that stands in a syscall (at its entry, an enter event: the others run
  // while it is in the kernel) steps by returning from it, as natively: the step ends
  // after the call's own event, no instruction further.
  if (mode != kCont && t.replay.atEntry) stepDone = true;
}

void Debugger::standIn(uint32_t tid) {
  auto group = threadGroup ? threadGroup : tracee->replay.threads;
  if (!group) return;
  TraceePtr t = group->byRecorded(tid);
  if (!t) throw NativeError{ESRCH, "no live thread of recorded tid " + std::to_string(tid) + " in process " + std::to_string(tracee->pid)};
  cur = t;
  pid = t->pid;
  runningPid.store(pid);
  regsValid = false;
}

// A slice of a process of several threads, in the middle of a run: every thread
// copied with its replay (forkReplayedProcess), the current one stopped in its user
// code as a single thread's slice is, the others parked where the schedule left
// them, as between two runs. forkReplayedProcess refuses a thread with a hook (a
// copy of a thread being debugged is the rule's concern there, not this run's), so
// the hook is lifted for the copy; the copies carry none. Empty where the process
// cannot be copied (it is ending: EBUSY; its first thread is gone: ESRCH, or has
// called exit): no slice.
std::vector<TraceePtr> Debugger::copyThreadsMidRun() {
  // the first thread ended (pthread_exit in main): the fork has no thread to go in
  if (tracee->gone || tracee->replay.exitCalled) return {};
  hookThreads(nullptr);
  std::vector<TraceePtr> copies;
  try {
    copies = forkReplayedProcess(*tracee, forkAt, &sw);
  } catch (const NativeError& e) {
    hookThreads(this);
    if (e.err == EBUSY || e.err == ESRCH) return {};
    throw;
  }
  hookThreads(this);
  return copies;
}

bool Debugger::enterThread(Tracee& t, StopInfo& info) {
  bool switched = cur.get() != &t;
  useThread(t);
  // A switch at the start of an interval: its first state is this thread's, and so
  // is a target there (startInterval left it to this thread: debugger_hook.cc).
  if (!(switched && boundaryPending)) return false;
  resetBoundary();
  if (t.replay.exiting || event != targetEvent || !targetThread || t.replay.recordedTid != targetThread) return false;
  uint64_t pc = regs().rip;
  if (pc != targetPc || !((targetKind == kTargetArrival && targetN == 1) || (targetKind == kTargetFingerprint && fpMatches()))) return false;
  info.reason = "target";
  info.big("pc", pc);
  return true;
}

// After the loop: a thread that died in the run (its exit event) is no longer the
// current one; forget the debug registers of the threads that are gone.
void Debugger::afterThreads() {
  if (!threadGroup && tracee->replay.threads) threadGroup = tracee->replay.threads;  // made in this run
  auto group = threadGroup;
  if (!group) return;
  if (cur->gone) {
    auto live = group->live();
    if (!live.empty()) {
      cur = live.front();
      pid = cur->pid;
      runningPid.store(pid);
      regsValid = false;
    }
  }
  for (auto it = slotsIn.begin(); it != slotsIn.end();) {
    bool alive = false;
    for (auto& t : group->live()) alive |= t->pid == it->first;
    it = alive ? std::next(it) : slotsIn.erase(it);
  }
  madeThreads = true;
}

}  // namespace rw
