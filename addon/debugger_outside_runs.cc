// The debug registers of a thread that runs outside the Debugger's runs: gdb's own
// code in a diversion's copy (src/debug/diversion.ts) resumes the thread gdb moved
// itself, with plain ptrace, and the lazy writing of debugger_threads.cc (the slots go
// into a thread when a run enters it) never happens there. So JS arms the thread it is
// about to resume, and asks which slots a trap stop of it hit (DR6), to tell gdb of a
// watchpoint (`watch:ADDR`) rather than a bare SIGTRAP.
#include <errno.h>
#include <unistd.h>

#include <string>

#include "debugger.h"
#include "tracer_thread.h"

namespace rw {
namespace {

// pid is a thread of process tgid (its task directory is there): the debugger writes
// only into threads of its own process.
void requireThreadOf(pid_t tgid, pid_t pid) {
  std::string task = "/proc/" + std::to_string(tgid) + "/task/" + std::to_string(pid);
  if (pid <= 0 || access(task.c_str(), F_OK) != 0)
    throw NativeError{ESRCH, "thread " + std::to_string(pid) + " is not a thread of process " + std::to_string(tgid)};
}

}  // namespace

void Debugger::armThread(pid_t p) {
  requireThreadOf(tracee->pid, p);
  auto it = slotsIn.find(p);
  if (it != slotsIn.end() && it->second == slotsGen) return;
  writeDebugRegs(p, slots);
  slotsIn[p] = slotsGen;
}

uint32_t Debugger::takeHitSlots(pid_t p) {
  requireThreadOf(tracee->pid, p);
  uint64_t dr6 = peekDr(p, 6);
  pokeDr(p, 6, 0);  // DR6 is sticky: the next stop must not see this one's bits
  uint32_t hit = 0;
  for (int i = 0; i < 4; i++)
    if ((dr6 & (1ull << i)) && slots[i].used) hit |= 1u << i;
  return hit;
}

}  // namespace rw
