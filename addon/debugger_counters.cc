// In-process hit counters (docs/timeline.md, "Counting in the process"): the
// Debugger's side of src/debug/hit-counters.ts. JS replaces the instruction at a
// counted pc with a jump to a stub that counts the arrival in memory, runs the
// displaced instructions relocated and jumps back; no stop per arrival. Only the
// stub of the run's target traps, with an int3, when its count reaches the target.
// Here that trap is turned back into the arrival it stands for: the stub's frame
// undone, the registers those of the state just before the counted instruction,
// the count exact, and the run ended at its target.
#include <errno.h>

#include "debugger.h"
#include "tracer_thread.h"

namespace rw {

// The stub's frame at its int3 (hit-counters.ts builds it): the stack pointer
// lowered past the red zone, then rcx pushed.
constexpr uint64_t kStubRedZone = 128;

// True when int3At is a counting stub's trap; then the run ends at its target.
bool Debugger::counterTrap(uint64_t int3At) {
  auto it = counterTraps.find(int3At);
  if (it == counterTraps.end()) return false;
  uint64_t pc = it->second;
  bool byFingerprint = targetKind == kTargetFingerprint;
  if (!((targetKind == kTargetArrival || byFingerprint) && targetPc == pc && event == targetEvent))
    throw NativeError{EINVAL, "a counting stub trapped where the run has no target"};
  user_regs_struct inStub = regs();
  user_regs_struct r = inStub;
  uint64_t savedRcx = 0;
  if (tracee->read(r.rsp, &savedRcx, 8) != 8) throw NativeError{EFAULT, "a counting stub's frame is unreadable"};
  r.rcx = savedRcx;
  r.rsp += 8 + kStubRedZone;
  r.rip = pc;
  setRegs(pid, r);
  regsCache = r;
  if (byFingerprint) {
    // the stub compared some registers; the whole fingerprint decides. A false
    // match goes on in the stub, past its int3 (a jump back to its counting)
    if (!fpMatches()) {
      setRegs(pid, inStub);
      regsCache = inStub;
      return true;
    }
    targetReached(pc);
  }
  counts[pc] = targetN;
  exact.insert(pc);
  targetReached(pc);
}

// A trap recorded by a search that also counts in the process (a breakpoint whose
// instruction cannot move): its place in the stubs' hit sequence, so that the last
// hit of all is known.
uint64_t Debugger::takeCounterSeq() {
  uint64_t v = 0;
  if (tracee->read(counterSeq, &v, 8) != 8) throw NativeError{EFAULT, "the counters' hit sequence is unreadable"};
  v++;
  tracee->write(counterSeq, &v, 8);
  return v;
}

}  // namespace rw
