// Copies of a replayed process of several threads that replay on (docs/timeline.md,
// "Checkpoints of threads"). forkCopyThreads (thread_copy.h) copies the threads the
// kernel has; a replay also needs, for each of them, where its replay stands: the
// replay session of its Tracee (an enter event's syscall entry, the signal it is
// about to be given, its feed, a clone in progress...). forkReplayedProcess gives
// each copied thread a Tracee of its own with a copy of its original's session,
// joined in a ReplayThreads of the copy, so that the replay loop finds the thread
// of each record by its recorded tid in the copy as it does in the original.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <vector>

#include "tracee.h"

namespace rw {

// A stopped copy of the replayed process of `t` (one of its threads' Tracees, whose
// thread the fork is injected in, at the `syscall` instruction at insn; `sw`: int3s
// to lift around it, as for forkCopy). Every thread of the process must have a live
// Tracee in t's ReplayThreads (or t be its only thread) and be stopped between two
// runs of the replay loop. Returns the copy's Tracees, t's copy first, one per
// thread; the caller owns them all (one dropped kills the whole copy, as one of the
// original's would). Errors change nothing in the original (but a thread stopped in
// the middle of a clone, which is first run to the clone's return: see the .cc).
std::vector<TraceePtr> forkReplayedProcess(Tracee& t, uint64_t insn, const std::map<uint64_t, uint8_t>* sw);

// The signals pending in any thread of pid's process (each thread's own queue and the
// process's), bit n-1 for signal n: what a copy of the whole process must consider,
// where pendingSignals (ptrace_ops.h) reads one thread's.
uint64_t pendingSignalsOfProcess(pid_t pid);

}  // namespace rw
