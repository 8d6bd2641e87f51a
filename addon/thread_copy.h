// Copies of a stopped multi-threaded tracee (a checkpoint of a process with several
// threads). fork copies only the thread that calls it: forkCopyThreads makes that
// copy (forkCopyCaller, process_copy.h), then re-creates every other thread in it
// with an injected clone(CLONE_THREAD) and gives each new thread its original's
// per-thread state: registers (fs and gs base among them), the XSAVE area, the
// signal mask, sigaltstack, robust list, clear-tid address, name and the signals
// queued for it (the process's queued signals go to the copy's). As rr's
// ReplaySession::clone does with its tasks, but from what the kernel says now
// rather than from what the recording said. What is not copied: docs/timeline.md,
// "Checkpoints of threads".
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <vector>

#include "tracee.h"

namespace rw {

struct ThreadCopy {
  pid_t original;  // a thread of the copied process
  pid_t copy;      // the thread standing for it in the copy
};

struct ThreadsCopy {
  TraceePtr process;                // the copy (its pid: the copy of `caller`)
  std::vector<ThreadCopy> threads;  // one pair per thread, the caller's first
};

// A stopped copy of t's whole process. `caller`, one of its threads, is the one the
// fork is injected in (at the `syscall` instruction at insn; `sw`: the int3s to
// lift around it, as for forkCopy); its copy leads the new process. Every thread
// must be in a ptrace stop of this tracer, and none at a seccomp stop (an error
// changes nothing then). Every copy is ptrace-stopped with its original's
// registers, at a syscall's entry stop where its original stands at one, and dies
// with the copy's process (closing its Tracee kills and reaps them all). The
// originals keep their registers, memory and queued signals; one at a syscall's
// entry is back at the entry of the same call, the others are left at a
// signal-delivery stop (see the .cc).
ThreadsCopy forkCopyThreads(Tracee& t, pid_t caller, uint64_t insn, const std::map<uint64_t, uint8_t>* sw);

}  // namespace rw
